"""The engine the adapters' own tables (mailbox, axis journal) use on the ledger's database.

One owner for it: on SQLite (WAL, busy timeout, as the ledger has) every transaction begins
IMMEDIATE, because these stores read then write, and a deferred transaction that meets another
process's write in between fails at once with "database is locked" instead of waiting its turn
(measured in tests/integration/test_mailbox_concurrency.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Self

from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url


def open_engine(url: str) -> Engine:
    """An engine on the ledger's database. On SQLite (WAL, busy timeout, as the ledger has) every
    transaction begins IMMEDIATE: a mailbox transaction reads then writes, and a deferred one
    that meets another process's write in between fails at once instead of waiting its turn."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _connect(dbapi: object, _record: object) -> None:
            dbapi.isolation_level = None  # type: ignore[attr-defined]  # SQLAlchemy's BEGIN decides, below
            cursor = dbapi.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.drivername == "postgresql":  # the ledger's driver (psycopg 3), not SQLAlchemy's default
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


class TableStore:
    """A store of the adapters' own tables (`META`) on the ledger's database: tables created on
    first use, every method one short transaction through `_tx`."""

    META: ClassVar[MetaData]

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ready = False

    @classmethod
    def open(cls, url: str) -> Self:
        return cls(open_engine(url))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        if not self._ready:
            self.META.create_all(self.engine)
            self._ready = True
        with self.engine.begin() as conn:
            yield conn
