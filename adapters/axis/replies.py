"""Byte-identical re-sends answered like the first, with no second effect.

The vendor SDK re-sends the identical request (signature and frozen timestamp included) when a
connection drops (domain.md §7.6). For `sendEdoc` and `updateStatus` the hub keeps the first
answer under (systemId, hash-header, hash-file): the HMAC covers every signed parameter, and
`hash-file` the body. A request with that key gets the stored answer and does nothing else.
Only final answers are kept: "hub unavailable, try again" is not, so the retry is served.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, Engine, Integer, LargeBinary, MetaData, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError

META = MetaData()
REPLIES = Table(
    "lt_axis_replies",
    META,
    Column("key", String(220), primary_key=True),
    Column("operation", String(32), nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("answer", LargeBinary, nullable=False),
    Column("at", DateTime(timezone=False), nullable=False),
    Column("until", DateTime(timezone=False), nullable=True),  # None: for good
)


def reply_key(system_id: str, fingerprint: str, hash_file: str = "") -> str:
    return f"{system_id}|{fingerprint}|{hash_file}"[:220]


class Replies:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        META.create_all(engine)

    def get(self, key: str) -> tuple[int, bytes] | None:
        """The kept answer, or None (never answered, or kept only for a while that is over)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(REPLIES.c.http_status, REPLIES.c.answer, REPLIES.c.until)
                               .where(REPLIES.c.key == key)).first()
            if row is None:
                return None
            if row[2] is not None and row[2] <= _now():
                conn.execute(delete(REPLIES).where(REPLIES.c.key == key))
                return None
        return int(row[0]), bytes(row[1])

    def keep(self, key: str, operation: str, http_status: int, answer: bytes, *, keep_s: float | None = None) -> None:
        now = _now()
        until = now + timedelta(seconds=keep_s) if keep_s is not None else None
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(REPLIES).values(key=key, operation=operation, http_status=http_status,
                                                    answer=answer, at=now, until=until))
        except IntegrityError:  # a concurrent twin kept the same answer first
            pass


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
