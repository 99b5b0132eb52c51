"""What became of one message in a stage, as a typed value the runtime observes.

Why a value: the stages used to call the metrics themselves and the runtime read counters back
out of the reply dict sent to the submitter. Now each `Decision` carries one `StageOutcome`;
the runtime (router/amqp/observe.py) turns it into the canonical log event and the metrics, and
the intake reply to the submitter is rendered *from* it. Stages decide; they do not count.

`reason` is operator text (it may hold a sink's error with paths or errno): it goes to the log,
never into anything sent to a sender.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from router.pipeline.envelope import Envelope
from schemas.codes import PackageKind


class Stage(StrEnum):
    """The two stages (a bounded metric label; the consumers and the failure policy use it too)."""

    INTAKE = "intake"
    DELIVERY = "deliver"


class Result(StrEnum):
    """The closed set of package outcomes (a bounded metric label)."""

    ACCEPTED = "accepted"  # routed to at least one recipient system
    REJECTED = "rejected"  # refused at intake with a reason code
    DUPLICATE = "duplicate"  # an exact copy absorbed (intake) / a copy the sink already had (delivery)
    DELIVERED = "delivered"
    RETRYING = "retrying"
    PARKED = "parked"


#: The canonical log event of each (stage, result): one per package outcome.
EVENTS: Mapping[tuple[Stage, Result], str] = {
    (Stage.INTAKE, Result.ACCEPTED): "package.routed",
    (Stage.INTAKE, Result.REJECTED): "package.refused",
    (Stage.INTAKE, Result.DUPLICATE): "package.duplicate",
    (Stage.INTAKE, Result.PARKED): "package.parked",
    (Stage.INTAKE, Result.RETRYING): "package.retry_scheduled",
    (Stage.DELIVERY, Result.DELIVERED): "delivery.delivered",
    (Stage.DELIVERY, Result.RETRYING): "delivery.retry_scheduled",
    (Stage.DELIVERY, Result.PARKED): "delivery.parked",
    (Stage.DELIVERY, Result.DUPLICATE): "delivery.duplicate",
}


@dataclass(frozen=True, slots=True)
class StageOutcome:
    """One message's outcome. `system` is the submitting system at intake, the recipient
    system at delivery; `recipients` maps a recipient system to the organs routed there."""

    stage: Stage
    result: Result
    digest: str
    kind: PackageKind | None = None
    system: str | None = None
    document_id: str | None = None
    sender: str | None = None
    attempt: int | None = None
    #: reason code (schemas.findings.Code value) of a rejection, a parking or a refused recipient
    code: str | None = None
    #: clerk-readable text of a rejection (vi / en as two fields), sent in the intake reply
    vi: str | None = None
    en: str | None = None
    #: operator-only detail (sink errors, tier): logged, never sent
    reason: str | None = None
    tier_s: int | None = None
    routed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    refused_recipients: tuple[str, ...] = ()
    forwarded: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: the code of each validation warning of a package recorded now (counted per system)
    validation_warnings: tuple[str, ...] = ()
    note: str | None = None
    previous: Result | None = None
    #: signature verification's certificate-path cache lookups for this package (hits, misses)
    chain_cache: tuple[int, int] = (0, 0)

    @classmethod
    def of_copy(
        cls, result: Result, env: Envelope, *, code: str | None = None, reason: str | None = None,
        tier_s: int | None = None,
    ) -> StageOutcome:
        """The outcome of a routed copy: the delivery stage's, or its recovery's retry or park."""
        return cls(
            Stage.DELIVERY, result, env.digest, kind=env.kind, system=env.system or None,
            document_id=env.document_id or None, sender=env.sender or None, attempt=env.attempt,
            routed={env.system: env.recipients}, code=code, reason=reason, tier_s=tier_s,
        )

    @property
    def event(self) -> str:
        return EVENTS.get((self.stage, self.result), f"{self.stage.value}.{self.result.value}")

    def reply(self) -> dict[str, Any]:
        """The intake result sent to the submitter (JSON over reply_to): the same keys as
        before the outcome became typed, so direct-AMQP clients keep working."""
        out: dict[str, Any] = {"outcome": self.result.value, "digest": self.digest}
        if self.kind is not None:
            out["kind"] = self.kind.value
        for key, value in (("document_id", self.document_id), ("sender", self.sender)):
            if value:
                out[key] = value
        message = " / ".join(t for t in (self.vi, self.en) if t) or None
        for key, item in (
            ("code", self.code), ("message", message), ("message_vi", self.vi), ("message_en", self.en),
            ("note", self.note), ("routed", {s: list(r) for s, r in self.routed.items()}),
            ("rejected_recipients", list(self.refused_recipients)), ("forwarded", dict(self.forwarded)),
            ("warnings", list(self.warnings)),
            ("previous_outcome", self.previous.value if self.previous else None),
        ):
            if item:
                out[key] = item
        return out

    def log_fields(self) -> dict[str, Any]:
        """The canonical event's fields (None and empty values left out)."""
        fields: dict[str, Any] = {
            "outcome": self.result.value, "stage": self.stage.value, "digest": self.digest[:16],
            "kind": self.kind.value if self.kind else None, "system": self.system,
            "document_id": self.document_id, "sender": self.sender, "attempt": self.attempt, "code": self.code,
            "reason": self.reason, "tier_s": self.tier_s,
            "recipients": sorted(r for rs in self.routed.values() for r in rs) or None,
            "refused_recipients": list(self.refused_recipients) or None,
            "previous_outcome": self.previous.value if self.previous else None,
        }
        return {k: v for k, v in fields.items() if v is not None}
