"""What a delivery adapter promises the router: hand over one package, say how it went.

Outcomes are values so the router's retry policy stays in one place: a sink never sleeps or
retries by itself (the broker's delay tiers own document retries, design.md §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from schemas.codes import PackageKind


@dataclass(frozen=True, slots=True)
class Handover:
    """One package for one recipient system, with what the router learnt about it."""

    body: bytes
    digest: str
    kind: PackageKind
    system_id: str
    recipients: tuple[str, ...]
    document_id: str | None
    sender: str
    attempt: int = 1
    headers: dict[str, str] = field(default_factory=dict)


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
    """Idempotent by digest: the router is at-least-once, so the same handover may come twice
    (after a crash between the sink's success and the ack); a sink must not duplicate it."""

    def deliver(self, handover: Handover) -> SinkResult: ...
