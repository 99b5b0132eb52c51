"""The router's verification stage: package verification in a process pool.

pyhanko is CPU-bound Python under the GIL, so threads would keep one core busy; processes use
both.  Each worker builds its verifier once (trust anchors parsed once per process) from the
picklable `TrustConfig`.  Workers start with `spawn` by default: the router process runs pika
and other threads, and forking a threaded process can copy held locks.

A verification outcome (even INVALID) is a value in the future; an exception in the future
(e.g. `BrokenProcessPool` after a worker died) is infrastructure — the router retries it.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from signing.inputs import PackageFacts
from signing.trust import TrustConfig
from signing.verdict import PackageVerdict
from signing.verifier import PackageVerifier

_verifier: PackageVerifier | None = None


def _init_worker(trust: TrustConfig) -> None:
    global _verifier  # noqa: PLW0603  # one verifier per worker process, by design
    _verifier = PackageVerifier(trust)


def _verify(package: bytes | None, facts: PackageFacts) -> PackageVerdict:
    assert _verifier is not None, "worker initializer did not run"
    return _verifier.verify(package, facts)


class VerificationStage:
    def __init__(self, trust: TrustConfig, workers: int, start_method: str = "spawn") -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(start_method),
            initializer=_init_worker,
            initargs=(trust,),
        )

    def submit(self, package_bytes: bytes | None, facts: PackageFacts) -> Future[PackageVerdict]:
        """`package_bytes` is the raw edXML (its XML signature is checked on exactly those bytes);
        None for a lone document."""
        return self._pool.submit(_verify, package_bytes, facts)

    def close(self) -> None:
        """Finish what was submitted, then stop the workers."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> VerificationStage:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
