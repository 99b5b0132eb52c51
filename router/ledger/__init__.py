"""The ledger: packages, per-recipient transport state, business statuses, signature verdicts
and a hash-chained evidence log — SQLite by default, PostgreSQL by URL. See LEDGER.md."""

from router.ledger.chain import ChainVerdict
from router.ledger.engine import LedgerMissing
from router.ledger.events import (
    CopyRefused,
    Delivered,
    DuplicateAbsorbed,
    LedgerEvent,
    Outcome,
    PackageParked,
    PackageReceived,
    PackageRejected,
    Parked,
    Retrying,
    Routed,
    StatusRecorded,
    TransportState,
    VerdictRecorded,
)
from router.ledger.render import render_trace_text
from router.ledger.rows import (
    Carried,
    DedupKey,
    DeliveryRow,
    LedgerCounts,
    PackageRow,
    StatusEntry,
    TransitionRow,
    VerdictRow,
)
from router.ledger.store import Ledger
from router.ledger.trace import DeliveryTrace, OrganTrace, Trace
from schemas.codes import PackageKind

__all__ = [
    "Carried",
    "ChainVerdict",
    "CopyRefused",
    "DedupKey",
    "Delivered",
    "DeliveryRow",
    "DeliveryTrace",
    "DuplicateAbsorbed",
    "Ledger",
    "LedgerCounts",
    "LedgerEvent",
    "LedgerMissing",
    "OrganTrace",
    "Outcome",
    "PackageKind",
    "PackageParked",
    "PackageReceived",
    "PackageRejected",
    "PackageRow",
    "Parked",
    "Retrying",
    "Routed",
    "StatusEntry",
    "StatusRecorded",
    "Trace",
    "TransitionRow",
    "TransportState",
    "VerdictRecorded",
    "VerdictRow",
    "render_trace_text",
]
