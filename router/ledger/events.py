"""What the router tells the ledger: one frozen value per fact, written in batches.

Events are the ledger's input *and* its evidence: each effective event is stored, in its
canonical JSON form, in the hash chain. So every field must be plain data (str, int, date,
tz-aware datetime, enums, tuples) and the canonical form must never depend on the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any, TypeAlias

from schemas.codes import BussinessDocType, PackageKind, Priority, StatusCode


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime, name: str) -> datetime:
    """Naive datetimes are a bug in the caller (whose clock?): refuse them rather than guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


class Outcome(StrEnum):
    """The intake verdict on a package, kept so an exact duplicate can be answered the same way.

    There is deliberately no `duplicate` outcome: an exact duplicate has the same digest, hence
    the same row, and is counted on it (`duplicates_absorbed`) instead of overwriting the verdict
    the router must re-send. A same-DocumentId-other-bytes package is a rejection
    (`DUPLICATE_CONFLICT`) with its own row.
    """

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    #: held at intake for an operator (the hub could not finish it); a later acceptance or
    #: rejection of the same bytes replaces it (`parked replay`)
    PARKED = "parked"


class TransportState(StrEnum):
    """Transport state of one (package, recipient) — not the business status (domain.md §2.3)."""

    ACCEPTED = "accepted"
    ROUTED = "routed"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    PARKED = "parked"
    REJECTED = "rejected"


#: Marks a field added after events of its type were already chained: left out of the canonical
#: form while None, so an event recorded before the field existed keeps its identity and hash.
LATER: Mapping[str, bool] = MappingProxyType({"omit_if_none": True})


def _post_init_at(event: Any) -> None:
    object.__setattr__(event, "at", as_utc(event.at, f"{type(event).__name__}.at"))


@dataclass(frozen=True, slots=True)
class PackageReceived:
    """The router accepted a package for routing (after validation, authorization, verification
    and de-duplication). `recipients` (To organ codes, or ResponseFor/OrganId for a status) get a
    delivery row in state `accepted`. Recording the same digest again changes nothing."""

    digest: str
    kind: PackageKind
    from_organ: str
    submitted_by: str
    document_id: str | None = None
    recipients: tuple[str, ...] = ()
    bussiness_doc_type: BussinessDocType | None = None
    target_document_id: str | None = None
    subject: str | None = None
    priority: Priority | None = None
    due_date: date | None = None
    promulgation_date: date | None = None
    at: datetime = field(default_factory=utc_now)
    #: MessageHeader/DocumentType/TypeName as sent (Công văn, Quyết định …): the compliance
    #: figures' handling time per document type (its numbering is not settled, domain.md §5.5)
    document_type: str | None = field(default=None, metadata=LATER)
    #: the validation warnings the package was accepted with: (code, path, line, "vi / en")
    #: each, at most `MAX_WARNINGS` (router/pipeline/warnings.py), in the evidence chain
    warnings: tuple[tuple[str, str, int | None, str], ...] | None = field(default=None, metadata=LATER)

    def __post_init__(self) -> None:
        _post_init_at(self)
        object.__setattr__(self, "kind", PackageKind(self.kind))
        if self.warnings is not None:  # from JSON (audit) lists come back: keep one spelling
            kept = tuple((str(c), str(p), None if n is None else int(n), str(m)) for c, p, n, m in self.warnings)
            object.__setattr__(self, "warnings", kept or None)
        object.__setattr__(self, "recipients", tuple(dict.fromkeys(self.recipients)))
        if self.kind is PackageKind.EDOC and not self.document_id:
            raise ValueError("PackageReceived: an edoc needs its MessageHeader/DocumentId")


@dataclass(frozen=True, slots=True)
class PackageRejected:
    """A permanent refusal. Without `recipient_organ` the whole package is rejected (its row is
    created if the package never parsed far enough to be recorded); with it, only that
    recipient's delivery becomes `rejected` (e.g. an unknown recipient among several).

    A refusal is evidence about *someone*: `submitted_by` (the system behind the broker user,
    when the directory knows it), and, when the package could be read that far, its `kind`,
    `document_id` and `from_organ` — what it claimed, so `trace` finds it by DocumentId."""

    digest: str
    reason_code: str
    message: str
    recipient_organ: str | None = None
    at: datetime = field(default_factory=utc_now)
    submitted_by: str | None = field(default=None, metadata=LATER)
    kind: PackageKind | None = field(default=None, metadata=LATER)
    document_id: str | None = field(default=None, metadata=LATER)
    from_organ: str | None = field(default=None, metadata=LATER)

    def __post_init__(self) -> None:
        _post_init_at(self)
        if self.kind is not None:
            object.__setattr__(self, "kind", PackageKind(self.kind))


@dataclass(frozen=True, slots=True)
class PackageParked:
    """Intake could not finish the package (its parts failed through every retry tier, or the
    hub crashed on it): held in the intake parked queue for an operator. Records who submitted
    it and, when the bytes parse, its DocumentId and From, so `trace` and the sender find it.
    A package already accepted or rejected keeps that outcome (the fact is still chained)."""

    digest: str
    submitted_by: str
    reason_code: str
    message: str
    document_id: str | None = None
    from_organ: str | None = None
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _post_init_at(self)


@dataclass(frozen=True, slots=True)
class CopyRefused:
    """A message on a delivery, retry or parked queue that only the hub may write, which the hub
    did not publish (`publisher`: the broker-validated user_id) or whose envelope the ledger
    does not know: an intrusion. Chained as evidence only: it changes no package, delivery or
    timeline (its headers are the intruder's word), and it is never delivered or replayed."""

    digest: str
    system_id: str
    queue: str
    publisher: str
    reason: str
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _post_init_at(self)


@dataclass(frozen=True, slots=True)
class DuplicateAbsorbed:
    """The same bytes came in again (at-least-once upstream): counted, never re-routed."""

    digest: str
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _post_init_at(self)


@dataclass(frozen=True, slots=True)
class Routed:
    """Published to the level exchanges for `system_id` and confirmed. `forwarded_to` names the
    successor organ when the addressed organ was dissolved (2025 mergers)."""

    digest: str
    recipient_organ: str
    system_id: str
    forwarded_to: str | None = None
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _post_init_at(self)


@dataclass(frozen=True, slots=True)
class Delivered:
    digest: str
    recipient_organ: str
    system_id: str
    attempt: int
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _post_init_at(self)


@dataclass(frozen=True, slots=True)
class Retrying:
    """A transient sink failure sent the package to retry tier `tier` (its label, e.g. "2m")."""

    digest: str
    recipient_organ: str
    system_id: str
    attempt: int
    tier: str
    error: str
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _post_init_at(self)


@dataclass(frozen=True, slots=True)
class Parked:
    digest: str
    recipient_organ: str
    system_id: str
    attempt: int
    reason: str
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _post_init_at(self)


@dataclass(frozen=True, slots=True)
class StatusRecorded:
    """A business status (01 … 16) reported by `reporter_organ` about the document `document_id`
    of `about_organ` (ResponseFor). Unknown two-digit codes are kept as they came. `digest` is
    the status package's own digest: the same status package twice is one entry."""

    document_id: str
    reporter_organ: str
    about_organ: str
    status_code: str
    description: str | None
    staff: str | None
    reported_at: datetime
    digest: str
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _post_init_at(self)
        object.__setattr__(self, "reported_at", as_utc(self.reported_at, "StatusRecorded.reported_at"))
        code = str(StatusCode(str(self.status_code)).value)  # ValueError names a non-NN code
        object.__setattr__(self, "status_code", code)


@dataclass(frozen=True, slots=True)
class VerdictRecorded:
    """The signature verdict on a package (`attachment` None: the package's own XML-DSig)."""

    digest: str
    verdict: str
    reason: str | None
    attachment: str | None
    report_json: str
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        _post_init_at(self)
        json.loads(self.report_json)  # a report that is not JSON is a bug upstream: fail loudly


LedgerEvent: TypeAlias = (
    PackageReceived
    | PackageRejected
    | PackageParked
    | DuplicateAbsorbed
    | Routed
    | Delivered
    | Retrying
    | Parked
    | StatusRecorded
    | VerdictRecorded
    | CopyRefused
)

EVENT_TYPES: dict[str, type[LedgerEvent]] = {
    cls.__name__: cls
    for cls in (
        PackageReceived, PackageRejected, PackageParked, DuplicateAbsorbed, Routed, Delivered,
        Retrying, Parked, StatusRecorded, VerdictRecorded, CopyRefused,
    )
}


def plain_value(value: object) -> object:
    if isinstance(value, datetime):
        return as_utc(value, "timestamp").isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [plain_value(v) for v in value]
    return value


def event_payload(event: LedgerEvent) -> dict[str, object]:
    """The event as JSON-ready data with its type name: what the evidence chain hashes."""
    body: dict[str, object] = {"type": type(event).__name__}
    for f in fields(event):
        value = getattr(event, f.name)
        if value is None and f.metadata.get("omit_if_none"):
            continue
        body[f.name] = plain_value(value)
    return body


#: The fields that make an event the same fact, per type. Replay identity comes from facts
#: (digest, kind, recipient, attempt …), never from `at`: the hub stamps a redelivered message
#: with a new receipt time, and that must not make a fact new. Four kinds are occurrences whose
#: repetition is itself news — an absorbed duplicate copy, and the routing, retry or parking of
#: a journey re-opened by `parked replay` (attempts restart at 1) — so their time is part of
#: them; a redelivered copy of those is a repeat the transition rules absorb (transitions.py).
IDENTITY: dict[str, tuple[str, ...]] = {
    "PackageReceived": ("digest",),
    "PackageRejected": ("digest", "reason_code", "recipient_organ"),
    "PackageParked": ("digest", "reason_code", "at"),  # parked again after a replay is news
    "DuplicateAbsorbed": ("digest", "at"),
    "Routed": ("digest", "recipient_organ", "system_id", "forwarded_to", "at"),
    "Delivered": ("digest", "recipient_organ", "system_id", "attempt"),
    "Retrying": ("digest", "recipient_organ", "system_id", "attempt", "tier", "at"),
    "Parked": ("digest", "recipient_organ", "system_id", "attempt", "reason", "at"),
    "StatusRecorded": ("digest", "document_id", "reporter_organ", "about_organ", "status_code"),
    "VerdictRecorded": ("digest", "attachment"),
    "CopyRefused": ("digest", "system_id", "queue", "publisher", "at"),  # each intrusion is news
}


def event_key(event: LedgerEvent) -> str:
    """The identity of an event: the same fact recorded twice has the same key."""
    return prepared(event)[1]


def identity_key(payload: dict[str, object]) -> str:
    kind = str(payload["type"])
    facts = {name: payload.get(name) for name in IDENTITY[kind]}
    return hashlib.sha256(canonical_json({"type": kind, **facts}).encode("utf-8")).hexdigest()


def prepared(event: LedgerEvent) -> tuple[str, str]:
    """(canonical JSON, identity key) of an event, computed once and shared by the replay check
    and the evidence chain (both are on the ledger's hot path)."""
    body = event_payload(event)
    return canonical_json(body), identity_key(body)


def canonical_json(payload: dict[str, object]) -> str:
    """One spelling per value (sorted keys, no spaces, UTF-8 kept), so the hash is reproducible."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
