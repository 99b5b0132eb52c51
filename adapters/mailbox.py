"""Pull delivery: a durable per-system mailbox in the ledger's database.

A system that pulls (a DMS built on the national axis's SDK, through the hub's axis-compatible
API) is handed its packages by `MailboxSink`: the delivery stage stores the copy here, in one
database transaction, and then acks the broker message. The package then waits for the system
as long as it takes — never as an unacknowledged broker message, which RabbitMQ would take back
after its consumer timeout (30 minutes by default) and deliver again.

Each letter has a docId (a UUID derived from the hand-over id, so every re-delivery of the same
package to the same system lands on the same letter: one copy, the same docId) and a state:

    waiting ──processing──▶ processing ──done──▶ done          (final: confirmed by the system)
       │  ▲                     │
       │  └── after the delay ──┤ fail: the failure policy says "retry after N s" → retrying
       └────────────────────────┴ fail, tiers exhausted → parked (final: the system never took it)

Only the system a letter was delivered to can see, fetch or confirm it: every read takes the
system id and a letter of another system is "not found", the same answer as no letter at all.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

import structlog
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from adapters.sink import Delivered, Handover, SinkResult, TransientFailure
from adapters.store_engine import TableStore

log = structlog.get_logger("lienthong.mailbox")

#: docIds are uuid5 of the hand-over id in this namespace (stable, safe as a file name)
DOC_NAMESPACE = uuid.UUID("6f1c0a52-8a43-4d53-9a0c-2f1b1f3a7d10")

META = MetaData()
LETTERS = Table(
    "lt_mailbox",
    META,
    Column("doc_id", String(36), primary_key=True),
    Column("handover_id", String(200), nullable=False, unique=True),
    Column("system_id", String(128), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("document_id", Text, nullable=True),
    Column("body", LargeBinary, nullable=False),
    Column("state", String(12), nullable=False),
    Column("fails", Integer, nullable=False, default=0),
    Column("visible_after", DateTime(timezone=False), nullable=False),  # naive UTC on every backend
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("updated_at", DateTime(timezone=False), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("headers", Text, nullable=True),  # the hand-over's envelope (JSON): to send a parked letter back
    Column("reported_at", DateTime(timezone=False), nullable=True),  # a parked letter handed back to the hub
    Index("ix_lt_mailbox_system_state", "system_id", "kind", "state"),
)


class LetterState(StrEnum):
    WAITING = "waiting"
    PROCESSING = "processing"
    RETRYING = "retrying"
    DONE = "done"
    PARKED = "parked"


#: what a system still has to take (listed, counted)
OPEN = (LetterState.WAITING, LetterState.PROCESSING, LetterState.RETRYING)
Kind = Literal["edoc", "status"]
Confirmation = Literal["done", "fail", "processing"]


def doc_id_of(handover_id: str) -> str:
    return str(uuid.uuid5(DOC_NAMESPACE, handover_id))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Letter:
    """One package waiting for (or taken by) one system."""

    doc_id: str
    handover_id: str
    system_id: str
    kind: Kind
    digest: str
    sender: str
    recipients: tuple[str, ...]
    document_id: str | None
    body: bytes
    state: LetterState
    fails: int
    created_at: datetime  # aware UTC
    updated_at: datetime
    visible_after: datetime
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Confirmed:
    letter: Letter
    #: seconds until a failed letter is offered again, None unless the system said `fail` and
    #: the failure policy chose a retry tier
    retry_in_s: float | None = None


@dataclass(frozen=True, slots=True)
class NotYours:
    """No such letter for this system (whether it does not exist or is another system's)."""


@dataclass(frozen=True, slots=True)
class WrongState:
    letter: Letter
    wanted: Confirmation


ConfirmResult = Confirmed | NotYours | WrongState

#: the failure policy, as the mailbox needs it: given how many times the system reported `fail`
#: (1 = the first), seconds until the letter is offered again, or None to park it
RetryPolicy = Callable[[int], float | None]



class Mailbox(TableStore):
    """The letters of every pulling system, in one table of the ledger's database."""

    META = META

    # -- the hub's side ---------------------------------------------------------------------
    def put(self, h: Handover, *, before_commit: Callable[[], None] = lambda: None) -> str:
        """Store the hand-over once; a second put of the same hand-over id (a re-delivery after
        a crash, even after the system confirmed the first) changes nothing. Returns the docId."""
        doc_id = doc_id_of(h.handover_id)
        now = _now()
        row = {
            "doc_id": doc_id, "handover_id": h.handover_id, "system_id": h.system_id, "kind": str(h.kind),
            "digest": h.digest, "sender": h.sender, "recipients": ",".join(h.recipients),
            "document_id": h.document_id, "body": h.read(), "state": LetterState.WAITING.value, "fails": 0,
            "visible_after": now, "created_at": now, "updated_at": now, "last_error": None,
            "headers": json.dumps(h.headers, ensure_ascii=False), "reported_at": None,
        }
        try:
            with self._tx() as conn:
                if conn.execute(select(LETTERS.c.doc_id).where(LETTERS.c.doc_id == doc_id)).first() is None:
                    conn.execute(insert(LETTERS).values(**row))
                before_commit()
        except IntegrityError:  # a concurrent put of the same hand-over won: the letter is there
            pass
        return doc_id

    # -- the system's side (every call names the system; another's letter is NotYours) ----------
    def letters(self, system_id: str, kind: Kind, *, limit: int = 1000) -> list[Letter]:
        """What the system has still to take, oldest first (retrying letters once their delay is over)."""
        with self._tx() as conn:
            rows = conn.execute(
                select(LETTERS).where(*self._open(system_id, kind)).order_by(LETTERS.c.created_at).limit(limit)
            ).mappings().all()
        return [_letter(r) for r in rows]

    def count(self, system_id: str, kind: Kind) -> int:
        with self._tx() as conn:
            return int(conn.execute(select(func.count()).select_from(LETTERS).where(*self._open(system_id, kind)))
                       .scalar_one())

    def get(self, system_id: str, doc_id: str) -> Letter | None:
        with self._tx() as conn:
            row = conn.execute(
                select(LETTERS).where(LETTERS.c.doc_id == doc_id, LETTERS.c.system_id == system_id)
            ).mappings().first()
        return _letter(row) if row is not None else None

    def confirm(self, system_id: str, doc_id: str, status: Confirmation, retry: RetryPolicy) -> ConfirmResult:
        """The system's updateStatus. `done` again is harmless; anything after `done` or a park is
        WrongState. `fail` counts one failure and asks `retry` when to offer the letter again."""
        now = _now()
        with self._tx() as conn:
            row = conn.execute(
                select(LETTERS).where(LETTERS.c.doc_id == doc_id, LETTERS.c.system_id == system_id)
            ).mappings().first()
            if row is None:
                return NotYours()
            letter = _letter(row)
            if letter.state is LetterState.DONE:
                return Confirmed(letter) if status == "done" else WrongState(letter, status)
            if letter.state is LetterState.PARKED:
                return WrongState(letter, status)
            if status == "fail" and letter.state is LetterState.RETRYING and letter.visible_after > _aware(now):
                # not offered again yet: the same failure reported twice, not a second one
                return Confirmed(letter, (letter.visible_after - _aware(now)).total_seconds())
            values: dict[str, object] = {"updated_at": now}
            delay: float | None = None
            if status == "done":
                values["state"] = LetterState.DONE.value
            elif status == "processing":
                values["state"] = LetterState.PROCESSING.value
            else:
                fails = letter.fails + 1
                delay = retry(fails)
                values["fails"] = fails
                values["last_error"] = "the recipient's system reported it could not take the package"
                if delay is None:
                    values["state"] = LetterState.PARKED.value
                else:
                    values["state"] = LetterState.RETRYING.value
                    values["visible_after"] = now + timedelta(seconds=delay)
            conn.execute(update(LETTERS).where(LETTERS.c.doc_id == doc_id).values(**values))
            fresh = conn.execute(select(LETTERS).where(LETTERS.c.doc_id == doc_id)).mappings().one()
        return Confirmed(_letter(fresh), delay)

    # -- the hub's side again: parked letters go back through the failure executor --------------
    def parked_unreported(self, limit: int = 100) -> list[Letter]:
        """Letters parked after the system's `fail`s whose park the hub has not carried out yet
        (the record, the sender's failure status: router/amqp/mailbox_returns.py)."""
        with self._tx() as conn:
            rows = conn.execute(
                select(LETTERS).where(LETTERS.c.state == LetterState.PARKED.value, LETTERS.c.reported_at.is_(None))
                .order_by(LETTERS.c.updated_at).limit(limit)
            ).mappings().all()
        return [_letter(r) for r in rows]

    def mark_reported(self, doc_id: str) -> None:
        with self._tx() as conn:
            conn.execute(update(LETTERS).where(LETTERS.c.doc_id == doc_id).values(reported_at=_now()))

    def _open(self, system_id: str, kind: Kind) -> tuple[ColumnElement[bool], ...]:
        return (
            LETTERS.c.system_id == system_id, LETTERS.c.kind == kind,
            LETTERS.c.state.in_([s.value for s in OPEN]), LETTERS.c.visible_after <= _now(),
        )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _letter(r: RowMapping) -> Letter:
    get = r.__getitem__
    return Letter(
        doc_id=get("doc_id"), handover_id=get("handover_id"), system_id=get("system_id"), kind=get("kind"),
        digest=get("digest"), sender=get("sender"), recipients=tuple(x for x in get("recipients").split(",") if x),
        document_id=get("document_id"), body=bytes(get("body")), state=LetterState(get("state")),
        fails=int(get("fails")), created_at=_aware(get("created_at")), updated_at=_aware(get("updated_at")),
        visible_after=_aware(get("visible_after")), headers=json.loads(get("headers") or "{}"),
    )


class MailboxSink:
    """The sink of a pulling system: a hand-over is delivered once it is committed to the mailbox.

    Why a sink and not a broker queue the API reads: the system may take hours (a clerk's DMS
    polls every few minutes and may be off for a weekend); the broker must not hold the message."""

    def __init__(self, mailbox: Mailbox, system_id: str) -> None:
        self.mailbox = mailbox
        self.system_id = system_id

    def _before_commit(self) -> None:
        """A seam for the crash tests (a process killed with the row written, not committed)."""

    def deliver(self, handover: Handover) -> SinkResult:
        try:
            doc_id = self.mailbox.put(handover, before_commit=self._before_commit)
        except SQLAlchemyError as exc:
            log.warning("mailbox unavailable", system=self.system_id, digest=handover.digest[:16], error=repr(exc))
            return TransientFailure("the hub's mailbox store is unavailable; delivery will be retried")
        log.info("in mailbox", system=self.system_id, digest=handover.digest[:16], doc_id=doc_id)
        return Delivered(f"in the mailbox as docId {doc_id}")
