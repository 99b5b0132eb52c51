"""What a stage decides, as data: the runtime executes it (publish, confirm, ledger, settle)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from router.ledger.events import LedgerEvent
from router.pipeline.failure import Failure


@dataclass(frozen=True, slots=True)
class Publish:
    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any]
    priority: int = 0
    correlation_id: str | None = None
    #: AMQP message_id: meaningful (digest, system, attempt) so a consumer or an operator can
    #: tell copies apart; the runtime falls back to its own sequence when None.
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """`before` is written to the ledger before publishing, `after` once every publish is
    confirmed; then the input message is settled. `reply` goes to the submitter (reply_to).
    `failure` set: the stage could not finish; the runtime's executor asks the failure policy
    and carries out its answer instead (the other fields are then ignored)."""

    publishes: tuple[Publish, ...] = ()
    before: tuple[LedgerEvent, ...] = ()
    after: tuple[LedgerEvent, ...] = ()
    settle: Literal["ack", "requeue"] = "ack"
    reply: Mapping[str, Any] = field(default_factory=dict)
    failure: Failure | None = None
