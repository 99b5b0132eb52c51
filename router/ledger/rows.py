"""What the ledger answers: frozen rows, detached from any database session.

They double as the parts of a `Trace`, so they hold only JSON-friendly types and round-trip
through `pydantic.TypeAdapter` without custom code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from router.ledger.events import Outcome, TransportState
from schemas.codes import BussinessDocType, PackageKind, Priority, StatusCode


@dataclass(frozen=True, slots=True)
class DedupKey:
    """What the route stage asks of the ledger before deciding: the package by its digest and,
    for a new document, who already holds (From, DocumentId)."""

    digest: str
    from_organ: str | None = None
    document_id: str | None = None


@dataclass(frozen=True, slots=True)
class PackageRow:
    digest: str
    kind: PackageKind | None
    document_id: str | None
    from_organ: str | None
    submitted_by: str | None
    bussiness_doc_type: BussinessDocType | None
    target_document_id: str | None
    subject: str | None
    priority: Priority | None
    due_date: date | None
    promulgation_date: date | None
    received_at: datetime
    outcome: Outcome
    reason_code: str | None
    message: str | None
    duplicates_absorbed: int
    last_duplicate_at: datetime | None
    document_type: str | None = None  # DocumentType/TypeName (None in rows older than the column)


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    digest: str
    recipient_organ: str
    system_id: str | None
    forwarded_to: str | None
    state: TransportState
    attempts: int
    first_at: datetime
    last_at: datetime
    last_error: str | None
    reopened_at: datetime | None  # when `parked replay` last put it back on the road


@dataclass(frozen=True, slots=True)
class Carried:
    """One accepted edoc package holding a DocumentId, and the organs the hub routed it to: what
    business authorization asks of the ledger ("who sent D", "was D routed to O").

    `routed` holds (recipient organ, successor it was forwarded to or None, system) for every
    recipient the hub took the package for — any transport state but `rejected` (a recipient
    refused at intake never had it)."""

    digest: str
    from_organ: str
    submitted_by: str | None
    doc_type: BussinessDocType
    routed: tuple[tuple[str, str | None, str | None], ...] = ()

    @property
    def organs(self) -> frozenset[str]:
        """Every organ the package went to, successors included (a merged organ answers as itself)."""
        return frozenset(o for r, fwd, _ in self.routed for o in (r, fwd) if o)

    @property
    def systems(self) -> frozenset[str]:
        return frozenset(s for _, _, s in self.routed if s)


@dataclass(frozen=True, slots=True)
class TransitionRow:
    """One step of a delivery's transport history. `detail`: tier and error, park reason, …"""

    seq: int
    digest: str
    recipient_organ: str
    state: TransportState
    attempt: int
    system_id: str | None
    detail: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One business status as reported; `status_code` stays the raw two digits (unknown kept)."""

    seq: int
    digest: str
    document_id: str
    reporter_organ: str
    about_organ: str
    status_code: str
    description: str | None
    staff: str | None
    reported_at: datetime
    received_at: datetime

    @property
    def status(self) -> StatusCode:
        return StatusCode(self.status_code)


@dataclass(frozen=True, slots=True)
class VerdictRow:
    digest: str
    attachment: str | None
    verdict: str
    reason: str | None
    report_json: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    """Figures for ops: every outcome and state appears, zero included, so dashboards see gaps."""

    packages: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)
    duplicates_absorbed: int = 0
    statuses: int = 0
    evidence: int = 0
