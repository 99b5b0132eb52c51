"""A ledger written by an earlier release opens under this one: the columns added since (today
`ledger_packages.document_type`) are added in place, old rows read them as None, the evidence
chain stays intact, and new rows fill them. On a real SQLite file and a real PostgreSQL schema."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import create_engine, inspect, text

from router.ledger import Ledger
from router.ledger.events import PackageReceived
from schemas.codes import PackageKind

pytestmark = pytest.mark.integration

SENDER, DEPT = "000.00.00.H41", "000.00.13.H41"


def received(n: int, document_type: str | None = None) -> PackageReceived:
    doc_id = f"{SENDER},2025/04/01,{n}/UBND-VP"
    return PackageReceived(hashlib.sha256(doc_id.encode()).hexdigest(), PackageKind.EDOC, SENDER, "tinh-nghean",
                           doc_id, (DEPT,), document_type=document_type)


def columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns("ledger_packages")}
    finally:
        engine.dispose()


def test_an_older_ledger_gains_the_new_columns_and_keeps_its_chain(ledger_url: str) -> None:
    url = ledger_url
    old = received(1)
    with Ledger.open(url) as ledger:
        ledger.append([old])
    engine = create_engine(url)  # make it the shape the earlier release left
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE ledger_packages DROP COLUMN document_type"))
    engine.dispose()
    assert "document_type" not in columns(url)

    new = received(2, "Công văn")
    with Ledger.open(url) as ledger:
        assert "document_type" in columns(url)
        row = ledger.get_package(old.digest)
        assert row is not None and row.document_type is None
        ledger.append([new])
        fresh = ledger.get_package(new.digest)
        assert fresh is not None and fresh.document_type == "Công văn"
        assert ledger.verify_chain().ok
    with Ledger.open(url) as ledger:  # opening again adds nothing and changes nothing
        assert ledger.verify_chain().ok
