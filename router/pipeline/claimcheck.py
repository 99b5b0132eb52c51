"""The claim check as data: when a package travels as a reference, what the reference says, and
when its payload may go.

A package larger than `threshold_bytes` (default 8 MiB, well under RabbitMQ 4.x's 16 MiB
`max_message_size`) is stored once in the payload store (adapters/payloadstore.py) and each
copy carries the small JSON `ClaimReference` instead of the bytes (defined beside the store:
the adapters that stream a large file in write it too), marked by the `lt-claim` header
(router/pipeline/envelope.py spells it). No pika here; retention reads the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.payloadstore import ClaimError, ClaimReference, PayloadStore
from router.ledger.events import Outcome, TransportState
from router.ledger.store import Ledger
from router.pipeline.clock import system_clock
from router.pipeline.envelope import CLAIM

DEFAULT_THRESHOLD_BYTES = 8 * 1024 * 1024
#: header a copy carries when its body is a reference (a hub reads the body accordingly)
CLAIM_HEADER = CLAIM
#: delivery adapters whose systems consume their broker queue themselves (adapters/amqp.py
#: DirectQueue): they cannot reach the store, so their copy carries the bytes
SELF_CONSUMING = frozenset({"amqp"})
#: a delivery in one of these states may still need the bytes (parked: `parked replay`)
_ON_THE_ROAD = frozenset({TransportState.ACCEPTED, TransportState.ROUTED, TransportState.RETRYING,
                          TransportState.PARKED})


def should_claim(size: int, threshold_bytes: int = DEFAULT_THRESHOLD_BYTES) -> bool:
    """Above the threshold the bytes go to the payload store; at or below it, through the broker."""
    return threshold_bytes > 0 and size > threshold_bytes


def still_needed(ledger: Ledger, digest: str, retention_s: float, now: datetime | None = None) -> bool:
    """Must the payload `digest` stay? While intake holds it parked, while any recipient's copy
    is still on its way (accepted, routed, retrying, parked — a parked copy may be replayed), and
    for `retention_s` after the last recipient got it. A payload the ledger does not know (a
    gateway stored it, intake never took the reference in, or refused it) goes once the store's
    own age check passes (`PayloadStore.sweep` removes nothing younger than the retention)."""
    package = ledger.get_package(digest)
    if package is None or package.outcome is Outcome.REJECTED:
        return False
    if package.outcome is Outcome.PARKED:
        return True
    deliveries = ledger.deliveries(digest)
    if any(d.state in _ON_THE_ROAD for d in deliveries):
        return True
    cutoff = (now or system_clock()) - timedelta(seconds=retention_s)
    return any(d.state is TransportState.DELIVERED and _aware(d.last_at) > cutoff for d in deliveries)


def sweep(store: PayloadStore, ledger: Ledger, retention_s: float, now: datetime | None = None) -> list[str]:
    """Remove every payload no recipient needs any more (`still_needed`); returns their digests."""
    at = now or system_clock()
    return store.sweep(lambda d: still_needed(ledger, d, retention_s, at), retention_s, now=at.timestamp())


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


__all__ = ["CLAIM_HEADER", "DEFAULT_THRESHOLD_BYTES", "SELF_CONSUMING", "ClaimError", "ClaimReference", "should_claim",
           "still_needed", "sweep"]
