"""Two workers decide on the same DocumentId with different bytes before either is recorded:
the ledger's unique index makes the second commit fail, and on redelivery the route stage
rejects it DUPLICATE_CONFLICT. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from router.ledger.store import Ledger
from router.pipeline.intake import IntakeStage
from router.topology.names import Names
from schemas.codes import BussinessDocType
from tests.support.hub import test_directory as directory_for
from tests.support.packages import make_edoc

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_racing_duplicates_cannot_both_be_accepted(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("pg_ledger_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'l.db'}"
    ledger = Ledger.open(url)
    try:
        stage = IntakeStage(directory_for("race"), ledger, Names("race"))
        first = make_edoc("000.00.00.H41", ["000.00.13.H41"], 900)
        second = make_edoc("000.00.00.H41", ["000.00.13.H41"], 900, subject="V/v cùng số, nội dung khác")
        d1 = stage.process(first, "race-tinh-nghean")
        d2 = stage.process(second, "race-tinh-nghean")  # decided before d1 is recorded: both "accepted"
        assert d1.reply["outcome"] == d2.reply["outcome"] == "accepted"
        ledger.append(d1.before)
        with pytest.raises(IntegrityError):
            ledger.append(d2.before)
        again = stage.process(second, "race-tinh-nghean")  # the broker redelivers the requeued message
        assert again.reply["outcome"] == "rejected"
        assert again.reply["code"] == "DUPLICATE_CONFLICT"
        ledger.append(again.before)
        # revoke/update/replace and statuses are not held to one per DocumentId
        revoke = make_edoc("000.00.00.H41", ["000.00.13.H41"], 900, subject="Thu hồi",
                           doc_type=BussinessDocType.REVOKE,
                           target="000.00.00.H41,2025/03/14,900/UBND-VP")
        d3 = stage.process(revoke, "race-tinh-nghean")
        assert d3.reply["outcome"] == "accepted", d3.reply
        ledger.append(d3.before)
        assert ledger.verify_chain().ok
    finally:
        ledger.close()
