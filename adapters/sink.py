"""What a delivery adapter promises the router: hand over one package, say how it went.

Outcomes are values so the router's retry policy stays in one place: a sink never sleeps or
retries by itself (the broker's delay tiers own document retries, design.md §4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from schemas.codes import PackageKind


@dataclass(frozen=True, slots=True)
class Handover:
    """One package for one recipient system, with what the router learnt about it.

    A claim-checked package (README "Large packages") has no `body`: `source` opens its bytes in
    the payload store, verified against the digest while they are read (the last chunk raises
    the store's PayloadCorrupt if they do not match), and `size` says how many there are. A sink
    takes the bytes with `chunks()` (streaming, bounded memory) or `read()` (all in memory, for
    sinks that cannot stream) — never `body` directly — and publishes nothing when reading
    raised: the delivery stage turns that into the named failure."""

    body: bytes
    digest: str
    kind: PackageKind
    system_id: str
    recipients: tuple[str, ...]
    document_id: str | None
    sender: str
    attempt: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    from_hub: bool = False
    """The package is one the hub wrote itself (a hold notice, a refusal): the router knows it
    from the envelope; a sink must not read `lt-*` headers to guess it."""
    source: Callable[[], Iterator[bytes]] | None = field(default=None, repr=False, compare=False)
    size: int | None = None

    @property
    def length(self) -> int:
        return self.size if self.source is not None and self.size is not None else len(self.body)

    def chunks(self, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        """The package's bytes in chunks: the verified store read of a claim-checked package."""
        if self.source is not None:
            yield from self.source()
            return
        if len(self.body) <= chunk:
            yield self.body
            return
        view = memoryview(self.body)
        for i in range(0, len(view), chunk):
            yield bytes(view[i : i + chunk])

    def read(self) -> bytes:
        """The whole package in memory (verified when it comes from the store)."""
        return b"".join(self.chunks()) if self.source is not None else self.body

    @property
    def handover_id(self) -> str:
        """The stable id the receiving DMS de-duplicates on: the same for every re-delivery of
        this package to this system (after a crash, a replay), different for any other package
        or system. The folder sink names the file after it; a webhook sends it as its id."""
        return f"{self.kind}-{self.digest[:32]}-{self.system_id}"


@dataclass(frozen=True, slots=True)
class Delivered:
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TransientFailure:
    """Try again later (network down, peer busy, HTTP 5xx)."""

    error: str


@dataclass(frozen=True, slots=True)
class PermanentFailure:
    """Will never succeed as is (peer says the package is unacceptable, HTTP 4xx)."""

    error: str


SinkResult = Delivered | TransientFailure | PermanentFailure
Kind = PackageKind


class Sink(Protocol):
    """Idempotent by `Handover.handover_id`: the router is at-least-once, so the same handover may
    come twice (after a crash between the sink's success and the ack); a sink must not hand it
    over twice, even when the DMS has already taken the first copy away. Failures are returned
    as values with a clerk-readable `error` (no paths, errno or exception text: those go to the
    sink's log). tests/contract/test_sink_contract.py holds every sink and double to this."""

    def deliver(self, handover: Handover) -> SinkResult: ...
