"""Engines and the one write path: a transaction that holds the ledger's append lock.

Several router processes append to one chain. Each append reads the chain head and writes the
next entries; two appends interleaving would fork the chain. So every write transaction first
takes a lock the database itself arbitrates:
- SQLite: `BEGIN IMMEDIATE` takes the database's single write lock up front (a plain `BEGIN`
  would only upgrade at the first write, after the head was read — and deadlock-retry);
- PostgreSQL: `pg_advisory_xact_lock`, keyed on the current schema so ledgers in separate
  schemas (tests, tenants) do not wait for each other; released at commit or rollback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SQLITE_BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "lienthong_ledger_immediate"
_LOCK_CLASS = 0x4C54  # "LT": first key of the two-key advisory lock


class LedgerUrlError(ValueError):
    """The ledger URL is not one the ledger can use (unparsable, or neither SQLite nor PostgreSQL)."""


class LedgerMissing(LookupError):
    """A command that only reads the ledger was pointed at a SQLite file that does not exist:
    creating an empty one would answer "nothing found" about a typo."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"ledger not found: {path}")


def make_engine(url: str, *, create: bool = True) -> Engine:
    """`create`: a missing SQLite file (and its folder) is made; otherwise it is `LedgerMissing`."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise LedgerUrlError(f"ledger URL {url!r} is not a database URL") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise LedgerUrlError(f"ledger URL {url!r}: SQLite needs a file path (sqlite:///path/ledger.db)")
        path = Path(parsed.database)
        if not create and not path.exists():
            raise LedgerMissing(path)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":  # the installed driver, not SQLAlchemy's psycopg2 default
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    raise LedgerUrlError(f"ledger URL {url!r}: only sqlite:/// and postgresql+psycopg:// are supported")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module so `_sqlite_begin` decides the mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint; safe with WAL
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction holding the append lock; commits on success, rolls back on error."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:cls, hashtext(current_schema()))"),
                    {"cls": _LOCK_CLASS},
                )
            yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read transaction: one consistent snapshot for multi-query answers such as a trace.
    On PostgreSQL the isolation level and read-only mode go with the BEGIN itself (psycopg
    sends `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`) rather than as a `SET TRANSACTION`
    of their own: one round trip less for every read, and most of the hub's reads are one
    statement on its hot path (issue 12: −50 µs of CPU and −0.3 ms of wall time a read)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


def unavailable(exc: BaseException) -> bool:
    """Is this the database being away (connection refused or dropped, locked, timed out), as
    opposed to a bug? The runtime waits such failures out in the retry tiers."""
    from sqlalchemy.exc import DBAPIError, TimeoutError

    return isinstance(exc, DBAPIError | TimeoutError)
