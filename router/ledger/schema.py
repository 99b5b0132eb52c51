"""The ledger's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Every business row carries the `seq` of the evidence entry that last changed it, so any row
can be traced back to the hashed event that justifies it. There are no foreign keys to
`packages`: at-least-once delivery means a transport event may be replayed into a ledger that
lost nothing but never saw the intake (a restored backup, a second hub); the row is still
evidence worth keeping.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    inspect,
    text,
)

from schemas.limits import Bounded, bound

# Widths of the columns that hold package values come from the one table of bounds that
# validation enforces (schemas.limits.FIELD_BOUNDS), so every admitted value fits on SQLite and
# PostgreSQL alike; values the standard does not bound but validation does are `Text`.
ORGAN = bound(Bounded.ORGAN_ID)
DOCID = bound(Bounded.DOCUMENT_ID)
ATTACHMENT = bound(Bounded.ATTACHMENT_NAME)
SYSTEM = 128  # directory system ids (≤ 63, router.directory.model.SYSTEM_ID) and the hub's own
DIGEST = 64  # sha256 hex


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, whatever the backend does with time zones (SQLite: none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} reached the ledger")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

packages = Table(
    "ledger_packages",
    metadata,
    Column("digest", String(DIGEST), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(8)),
    Column("document_id", String(DOCID)),
    Column("from_organ", String(ORGAN)),
    Column("submitted_by", String(SYSTEM)),
    Column("bussiness_doc_type", SmallInteger),
    Column("target_document_id", String(DOCID)),
    Column("subject", Text),
    Column("priority", SmallInteger),
    Column("due_date", Date),
    Column("promulgation_date", Date),
    Column("document_type", Text),  # added after the first release: open() adds it to older ledgers
    Column("received_at", UTCDateTime, nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("reason_code", String(64)),
    Column("message", Text),
    Column("duplicates_absorbed", Integer, nullable=False, default=0),
    Column("last_duplicate_at", UTCDateTime),
    Index("ix_ledger_packages_from_doc", "from_organ", "document_id"),
    Index("ix_ledger_packages_doc", "document_id"),
    Index("ix_ledger_packages_target", "target_document_id"),
    # One accepted new document per (From, DocumentId): the router's de-duplication is a read,
    # so two workers racing with the same DocumentId and different bytes could both pass it;
    # this index makes the second commit fail, the message is requeued, and on redelivery the
    # read sees the holder and rejects DUPLICATE_CONFLICT. Rejected packages and statuses do
    # not hold a DocumentId, nor do revoke/update/replace packages.
    Index(
        "ux_ledger_packages_accepted_document",
        "from_organ",
        "document_id",
        unique=True,
        sqlite_where=text("kind = 'edoc' AND outcome = 'accepted' AND bussiness_doc_type = 0"),
        postgresql_where=text("kind = 'edoc' AND outcome = 'accepted' AND bussiness_doc_type = 0"),
    ),
)

deliveries = Table(
    "ledger_deliveries",
    metadata,
    Column("digest", String(DIGEST), primary_key=True),
    Column("recipient_organ", String(ORGAN), primary_key=True),
    Column("system_id", String(SYSTEM)),
    Column("forwarded_to", String(ORGAN)),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("first_at", UTCDateTime, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("last_seq", BigInteger, nullable=False),
    Column("reopened_at", UTCDateTime),  # last `parked replay`: older events no longer count
    Index("ix_ledger_deliveries_state", "state"),
)

transitions = Table(
    "ledger_transitions",
    metadata,
    # one evidence entry moves one delivery once (PackageReceived moves each recipient's)
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("digest", String(DIGEST), primary_key=True),
    Column("recipient_organ", String(ORGAN), primary_key=True),
    Column("state", String(10), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("system_id", String(SYSTEM)),
    Column("detail", Text),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_ledger_transitions_delivery", "digest", "recipient_organ", "at"),
)

statuses = Table(
    "ledger_statuses",
    metadata,
    Column("digest", String(DIGEST), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("document_id", String(DOCID), nullable=False),
    Column("reporter_organ", String(ORGAN), nullable=False),
    Column("about_organ", String(ORGAN), nullable=False),
    Column("status_code", String(2), nullable=False),
    Column("description", Text),
    Column("staff", Text),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_ledger_statuses_timeline", "document_id", "reporter_organ", "reported_at"),
)

verdicts = Table(
    "ledger_verdicts",
    metadata,
    Column("digest", String(DIGEST), primary_key=True),
    Column("attachment", String(ATTACHMENT), primary_key=True),  # "" = the package's own signature
    Column("seq", BigInteger, nullable=False),
    Column("verdict", String(64), nullable=False),
    Column("reason", Text),
    Column("report_json", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

# Every event the ledger has taken in, effective or not: a replay of the exact same event (the
# router is at-least-once) is recognised by identity before any state rule runs, so replaying
# any history, in any order of distinct timestamps, adds nothing.
seen = Table(
    "ledger_seen",
    metadata,
    Column("event_key", String(DIGEST), primary_key=True),
)

evidence = Table(
    "ledger_evidence",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    # event_type and at repeat the payload for queries; verify_chain checks they agree with it.
    Column("event_type", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(DIGEST), nullable=False),
    Column("hash", String(DIGEST), nullable=False),
)


def add_missing_columns(conn: Connection) -> list[str]:
    """Bring a ledger made by an earlier release up to these tables: every nullable column it
    lacks is added (`ALTER TABLE … ADD COLUMN`, the same on SQLite and PostgreSQL). Only
    nullable columns are ever added after a release, so old rows read as None — which is what
    an event recorded before the field existed says (events.LATER). Returns what was added."""
    found = inspect(conn)
    existing = {name: {c["name"] for c in found.get_columns(name)}
                for name in metadata.tables if found.has_table(name)}
    added = []
    for name, table in metadata.tables.items():
        for column in table.columns:
            if name not in existing or column.name in existing[name]:
                continue
            if not column.nullable:
                raise RuntimeError(f"ledger table {name} lacks the NOT NULL column {column.name}: "
                                   "this release cannot add it in place")
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE {name} ADD COLUMN "{column.name}" {kind}'))
            added.append(f"{name}.{column.name}")
    return added
