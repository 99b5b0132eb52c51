"""The ledger on its two real backends, and the fixtures every ledger test shares.

`ledger_url` runs a test once on a SQLite file and once on PostgreSQL in a schema of its own
(created before, dropped after), reached through `search_path` in the URL: the ledger code sees
one URL and nothing else, exactly as in production.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from router.ledger import Ledger, PackageKind, PackageReceived
from schemas.codes import BussinessDocType, Priority

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)  # 08:30 in Vietnam
H41 = "000.00.00.H41"  # UBND tỉnh Nghệ An
DISTRICT = "000.12.00.H41"
COMMUNE = "001.03.12.H41"
VPCP = "000.00.00.G22"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def digest(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def doc_id(number: int, organ: str = H41) -> str:
    return f"{organ},2025/03/03,{number}/UBND-VP"


def edoc(
    label: str,
    number: int,
    recipients: tuple[str, ...] = (DISTRICT, VPCP),
    *,
    organ: str = H41,
    kind: BussinessDocType = BussinessDocType.NEW,
    target: str | None = None,
    seconds: float = 0,
) -> PackageReceived:
    return PackageReceived(
        digest(label), PackageKind.EDOC, organ, "sys-province", doc_id(number, organ), recipients,
        kind, target, "Về việc triển khai chuyển đổi số năm 2025", Priority.URGENT,
        date(2025, 3, 10), date(2025, 3, 3), at=at(seconds),
    )


def pg_schema_url(pg_url: str, schema: str) -> str:
    return make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """An open ledger that, after the test, must still prove itself: chain intact and every
    table equal to the replay of the chain (so each test also checks the fold stays pure)."""
    with Ledger.open(ledger_url) as opened:
        yield opened
        verdict = opened.verify_chain()
        assert verdict.ok, verdict


# -- the backends themselves ----------------------------------------------------------------


def test_open_creates_the_tables_once_and_reopens(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as first:
        first.append([edoc("a", 1)])
        names = set(inspect(first.engine).get_table_names())
    assert {"ledger_packages", "ledger_deliveries", "ledger_transitions", "ledger_statuses",
            "ledger_verdicts", "ledger_evidence"} <= names
    with Ledger.open(ledger_url) as again:  # schema present: open must not fail or reset
        assert again.get_package(digest("a")) is not None


def test_sqlite_file_is_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    with Ledger.open(f"sqlite:///{tmp_path / 'l.db'}") as ledger, ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000


def test_postgresql_schema_in_the_url_isolates_the_ledger(pg_url: str) -> None:
    schema = f"lt_ledger_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        with Ledger.open(pg_schema_url(pg_url, schema)) as ledger:
            ledger.append([edoc("iso", 7)])
        with admin.connect() as conn:
            count = conn.execute(text(f'SELECT count(*) FROM "{schema}".ledger_packages')).scalar()
        assert count == 1
        assert "ledger_packages" in inspect(admin).get_table_names(schema=schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://root@localhost/x"])
def test_urls_the_ledger_cannot_keep_are_refused_by_name(url: str) -> None:
    with pytest.raises(ValueError, match="ledger URL"):
        Ledger.open(url)
