"""What the hub did with the national axis, both ways, in two tables of the ledger's database.

* `lt_axis_sent`: one row per hand-over the axis sink sent (or is about to send): the frozen
  SDK timestamp its request is signed with (so a re-send after a crash is byte-identical) and
  the DocId the axis answered. The sink's idempotency and `lienthong axis reconcile` read it.
* `lt_axis_received`: one row per axis docId the poller took in: the package's digest, its
  de-duplication key (kind 0 edoc: From + DocumentId; status: From + ResponseFor/DocumentId +
  StatusCode + Timestamp), and how far it got (`submitted`: the broker confirmed the intake
  publish; `confirmed`: the axis accepted updateStatus(done); `duplicate`: the same key came
  under another docId and was not submitted again; `refused`: not a package, updateStatus(fail)).

The ledger's own tables stay the ledger's: these rows are the adapter's memory, like the folder
sink's journal, kept in the same database so that two hub instances share them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from adapters.sink import Handover
from adapters.store_engine import TableStore

META = MetaData()
SENT = Table(
    "lt_axis_sent",
    META,
    Column("handover_id", String(200), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("document_id", Text, nullable=True),
    Column("sender", String(64), nullable=False),
    Column("recipients", Text, nullable=False),  # JSON list
    Column("timestamp", String(32), nullable=False),  # the SDK timestamp the request is signed with
    Column("doc_id", String(64), nullable=True),  # the axis's DocId, once it answered
    Column("reserved_at", DateTime(timezone=False), nullable=False),  # naive UTC on every backend
    Column("sent_at", DateTime(timezone=False), nullable=True),
    Index("ix_lt_axis_sent_digest", "digest"),
)
RECEIVED = Table(
    "lt_axis_received",
    META,
    Column("doc_id", String(64), primary_key=True),
    Column("message_type", String(8), nullable=False),
    Column("digest", String(64), nullable=True),
    Column("dedup_key", Text, nullable=True),
    Column("state", String(12), nullable=False),
    Column("first_seen", DateTime(timezone=False), nullable=False),
    Column("updated_at", DateTime(timezone=False), nullable=False),
    Index("ix_lt_axis_received_digest", "digest"),
    Index("ix_lt_axis_received_key", "dedup_key"),
)

ReceivedState = Literal["submitted", "confirmed", "duplicate", "refused"]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class SentRecord:
    handover_id: str
    digest: str
    kind: str
    document_id: str | None
    sender: str
    recipients: tuple[str, ...]
    timestamp: str
    doc_id: str | None
    reserved_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReceivedRecord:
    doc_id: str
    message_type: str
    digest: str | None
    dedup_key: str | None
    state: ReceivedState


class AxisJournal(TableStore):
    """The two tables; every method is one short transaction."""

    META = META

    # -- sent ------------------------------------------------------------------------------------
    def reserve(self, h: Handover, timestamp: str) -> SentRecord:
        """The hand-over's row, created with `timestamp` if it has none (a racing reservation
        loses and reads the winner's, so both sign the same request)."""
        existing = self.sent(h.handover_id)
        if existing is not None:
            return existing
        row = {
            "handover_id": h.handover_id, "digest": h.digest, "kind": str(h.kind), "document_id": h.document_id,
            "sender": h.sender, "recipients": json.dumps(list(h.recipients)), "timestamp": timestamp,
            "doc_id": None, "reserved_at": _now(), "sent_at": None,
        }
        try:
            with self._tx() as conn:
                conn.execute(insert(SENT).values(**row))
        except IntegrityError:
            pass
        record = self.sent(h.handover_id)
        assert record is not None
        return record

    def release(self, handover_id: str) -> None:
        """Forget an unsent reservation (the axis refused it: the next attempt signs anew)."""
        with self._tx() as conn:
            conn.execute(delete(SENT).where(SENT.c.handover_id == handover_id, SENT.c.doc_id.is_(None)))

    def mark_sent(self, handover_id: str, doc_id: str) -> None:
        with self._tx() as conn:
            conn.execute(update(SENT).where(SENT.c.handover_id == handover_id, SENT.c.doc_id.is_(None))
                         .values(doc_id=doc_id, sent_at=_now()))

    def sent(self, handover_id: str) -> SentRecord | None:
        with self._tx() as conn:
            row = conn.execute(select(SENT).where(SENT.c.handover_id == handover_id)).mappings().first()
        return None if row is None else _sent(row)

    def all_sent(self) -> list[SentRecord]:
        with self._tx() as conn:
            rows = conn.execute(select(SENT).order_by(SENT.c.reserved_at)).mappings().all()
        return [_sent(r) for r in rows]

    # -- received --------------------------------------------------------------------------------
    def received(self, doc_id: str) -> ReceivedRecord | None:
        with self._tx() as conn:
            row = conn.execute(select(RECEIVED).where(RECEIVED.c.doc_id == doc_id)).mappings().first()
        return None if row is None else _received(row)

    def received_digest(self, digest: str) -> bool:
        """Did these exact bytes come in from the axis?"""
        with self._tx() as conn:
            return conn.execute(select(RECEIVED.c.doc_id).where(
                RECEIVED.c.digest == digest, RECEIVED.c.state.in_(("submitted", "confirmed")))).first() is not None

    def holder_of(self, dedup_key: str) -> ReceivedRecord | None:
        """The docId already taken in under this key (submitted or confirmed), if any."""
        with self._tx() as conn:
            row = conn.execute(select(RECEIVED).where(
                RECEIVED.c.dedup_key == dedup_key, RECEIVED.c.state.in_(("submitted", "confirmed")),
            ).order_by(RECEIVED.c.first_seen)).mappings().first()
        return None if row is None else _received(row)

    def record(self, doc_id: str, message_type: str, digest: str | None, dedup_key: str | None,
               state: ReceivedState) -> None:
        now = _now()
        with self._tx() as conn:
            done = conn.execute(update(RECEIVED).where(RECEIVED.c.doc_id == doc_id)
                                .values(state=state, updated_at=now, digest=digest, dedup_key=dedup_key))
            if done.rowcount == 0:
                conn.execute(insert(RECEIVED).values(doc_id=doc_id, message_type=message_type, digest=digest,
                                                     dedup_key=dedup_key, state=state, first_seen=now,
                                                     updated_at=now))

    def set_state(self, doc_id: str, state: ReceivedState) -> None:
        with self._tx() as conn:
            conn.execute(update(RECEIVED).where(RECEIVED.c.doc_id == doc_id).values(state=state, updated_at=_now()))


def _sent(r: RowMapping) -> SentRecord:
    return SentRecord(r["handover_id"], r["digest"], r["kind"], r["document_id"], r["sender"],
                      tuple(json.loads(r["recipients"])), r["timestamp"], r["doc_id"], r["reserved_at"],
                      r["sent_at"])


def _received(r: RowMapping) -> ReceivedRecord:
    return ReceivedRecord(r["doc_id"], r["message_type"], r["digest"], r["dedup_key"], r["state"])
