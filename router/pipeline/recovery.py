"""What carrying out a failure decision means for one stage, as Decisions (no pika here).

The policy (`failure.py`) says *retry at tier N* or *park with code C*; a stage's `Recovery`
turns that into the publishes and ledger events the runtime executes like any other
Decision: the copy to the stage's retry tier, or the park record, the sender's status and the
copy to the parked queue. It also reads what a message itself says about failure: the broker
dead-lettered it (x-death), or a park was decided earlier and still has to be recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from router.pipeline.decisions import Decision
from router.pipeline.failure import Failure, FailureKind, Park
from router.pipeline.outcome import Stage
from schemas.findings import Code


@dataclass(frozen=True, slots=True)
class Inbound:
    """The parts of a received message a stage's recovery needs."""

    body: bytes
    headers: Mapping[str, Any]
    user_id: str | None
    digest: str
    queue: str
    at: datetime


class Recovery(Protocol):
    stage: Stage
    #: how many delay tiers the stage has (the last one also holds parks waiting for the ledger)
    tiers: int

    def inbound_failure(self, inbound: Inbound) -> Failure | None:
        """A failure the message carries in (dead-lettered, park pending), or None: handle it."""

    def attempt(self, inbound: Inbound) -> int:
        """The 1-based attempt this delivery of the message is."""

    def retry(self, inbound: Inbound, tier: int, failure: Failure) -> Decision:
        """A copy to retry tier `tier` (its ledger events, if any, in `after`: best effort)."""

    def park(self, inbound: Inbound, park: Park, failure: Failure) -> Decision:
        """Record (before), tell the sender and copy to the parked queue (publishes)."""

    def park_later(self, inbound: Inbound, park: Park) -> Decision:
        """The park could not be recorded: a copy to the last tier that parks when it comes back."""


def dead_letter_failure(headers: Mapping[str, Any]) -> Failure:
    """Why the broker dead-lettered a message, from its `x-death` header (newest first)."""
    deaths = headers.get("x-death")
    first: Mapping[str, Any] = deaths[0] if isinstance(deaths, list) and deaths else {}
    reason = _text(first.get("reason"))
    queue = _text(first.get("queue"))
    count = first.get("count", 1)
    detail = f"dead-lettered by the broker from {queue or '?'}: {reason or '?'} (count {count})"
    kind = FailureKind.DELIVERY_LIMIT if reason == "delivery_limit" else FailureKind.DEAD_LETTERED
    if reason == "rejected":  # the hub rejects only with requeue: a direct-AMQP system refused it for good
        kind = FailureKind.SINK_PERMANENT
    return Failure(kind, detail)


def ledger_reason(park: Park, failure: Failure) -> str:
    """What the ledger keeps about a park: the clerk's text and, for operators, the detail."""
    return f"{park.en} ({failure.kind.value}: {failure.detail})"[:1000] if failure.detail else park.en


def reason_code(value: str | None) -> Code:
    """A reason code carried in a header; an unknown one reads as a crash loop (never raises)."""
    try:
        return Code(value or "")
    except ValueError:
        return Code.CRASH_LOOP


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)
