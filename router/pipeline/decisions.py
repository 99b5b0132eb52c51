"""What a stage decides, as data: the runtime executes it (publish, confirm, ledger, settle)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from router.ledger.events import LedgerEvent
from router.pipeline.failure import Failure
from router.pipeline.outcome import Result, Stage, StageOutcome
from schemas.findings import Code


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a package is refused: a reason code and clerk-readable text in both languages (sent
    to the submitter in the hub's status 02: never paths, exception text or other internals)."""

    code: Code
    vi: str
    en: str

    @property
    def message(self) -> str:
        return f"{self.vi} / {self.en}"


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
    confirmed; then the input message is settled. `outcome` is what the runtime observes (log
    event, metrics); the intake's reply to the submitter (reply_to) is rendered from it.
    `failure` set: the stage could not finish; the runtime's executor asks the failure policy
    and carries out its answer instead (the other fields are then ignored)."""

    publishes: tuple[Publish, ...] = ()
    before: tuple[LedgerEvent, ...] = ()
    after: tuple[LedgerEvent, ...] = ()
    settle: Literal["ack", "requeue"] = "ack"
    outcome: StageOutcome | None = None
    failure: Failure | None = None

    @property
    def reply(self) -> Mapping[str, Any]:
        """The JSON answer to the submitter: intake outcomes only (copies have no submitter), and
        not while the hub retries (the retry copy has no reply route; the final word comes then)."""
        if self.outcome is None or self.outcome.stage is not Stage.INTAKE or self.outcome.result is Result.RETRYING:
            return {}
        return self.outcome.reply()
