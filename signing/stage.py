"""The router's verification stage: package verification in a process pool.

pyhanko is CPU-bound Python under the GIL, so threads would keep one core busy; processes use
both.  Each worker holds a picklable `TrustSource` (a fixed `TrustConfig`, or the trust directory
re-read when a file of it changes), one verifier per trust snapshot in effect, and one
certificate-path cache (signing.chaincache) for its whole life: the key names the snapshot, so a
new CRL never meets a result of the old one.  Each result says how many path lookups of that
package hit the cache.  Workers start with `spawn` by default: the router process runs pika
and other threads, and forking a threaded process can copy held locks.

A verification outcome (even INVALID) is a value in the future; an exception in the future
(e.g. `BrokenProcessPool` after a worker died) is infrastructure — the router retries it.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from types import TracebackType

from signing.chaincache import DEFAULT_ENTRIES, CacheCounts, ChainCache
from signing.inputs import PackageFacts
from signing.trust import TrustConfig, TrustSource
from signing.verdict import PackageVerdict
from signing.verifier import PackageVerifier


@dataclass(frozen=True)
class Verified:
    """A package's verdict and what the worker's certificate-path cache did for it."""

    verdict: PackageVerdict
    cache: CacheCounts


class _Worker:
    """What one worker process keeps: the trust source, the verifier of the snapshot in
    effect, and the path cache."""

    def __init__(self, source: TrustSource, cache_entries: int) -> None:
        self.source = source
        self.cache = ChainCache(cache_entries)
        self.snapshot = ""
        self.verifier: PackageVerifier | None = None

    def verify(self, package: bytes | None, facts: PackageFacts) -> Verified:
        trust = self.source.current()
        if self.verifier is None or trust.snapshot != self.snapshot:
            self.verifier, self.snapshot = PackageVerifier(trust, cache=self.cache), trust.snapshot
        before = self.cache.counts
        verdict = self.verifier.verify(package, facts)
        return Verified(verdict, self.cache.counts - before)


_worker: _Worker | None = None


def _init_worker(source: TrustSource, cache_entries: int) -> None:
    global _worker  # noqa: PLW0603  # one verifier state per worker process, by design
    _worker = _Worker(source, cache_entries)


def _verify(package: bytes | None, facts: PackageFacts) -> Verified:
    assert _worker is not None, "worker initializer did not run"
    return _worker.verify(package, facts)


class VerificationStage:
    def __init__(
        self,
        trust: TrustConfig | TrustSource,
        workers: int,
        start_method: str = "spawn",
        cache_entries: int = DEFAULT_ENTRIES,
    ) -> None:
        """`trust`: a fixed configuration, or a `TrustSource.from_dir` the workers re-read when
        its files change.  `cache_entries` bounds each worker's certificate-path cache."""
        if workers < 1:
            raise ValueError("workers must be >= 1")
        source = trust if isinstance(trust, TrustSource) else TrustSource(trust)
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(start_method),
            initializer=_init_worker,
            initargs=(source, cache_entries),
        )

    def submit(self, package_bytes: bytes | None, facts: PackageFacts) -> Future[Verified]:
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
