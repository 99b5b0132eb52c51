"""Replays are recognised by event identity in the database, before any state rule: the two
out-of-order histories hypothesis found (a repeated state arriving with a later timestamp)
replayed through `Ledger.append` add nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.ledger.events import LedgerEvent, Parked, Routed
from router.ledger.store import Ledger

pytestmark = pytest.mark.integration

D = "a" * 64
ORG = "000.12.00.H41"


def at(s: int) -> datetime:
    return datetime(2025, 3, 3, 1, 30, s, tzinfo=UTC)


HISTORIES = {
    "parked-twice-then-older-reopen": [
        Parked(D, ORG, "sys", 1, "r", at=at(0)), Parked(D, ORG, "sys", 1, "r", at=at(2)), Routed(D, ORG, "sys", at=at(1)),
    ],
    "routed-twice-then-parked": [
        Routed(D, ORG, "sys", at=at(0)), Routed(D, ORG, "sys", at=at(1)), Parked(D, ORG, "sys", 1, "r", at=at(0)),
    ],
}


@pytest.mark.parametrize("name", sorted(HISTORIES))
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_replaying_a_history_adds_nothing(name: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("pg_ledger_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'l.db'}"
    events: list[LedgerEvent] = list(HISTORIES[name])
    with Ledger.open(url) as ledger:
        for e in events:  # one batch per event, as separate router messages would
            ledger.append([e])
        before = (ledger.delivery_state(D, ORG), len(ledger.history(D, ORG)), ledger.verify_chain().length)
        ledger.append(events)  # the whole history again, in one batch
        for e in events:
            ledger.append([e])
        after = (ledger.delivery_state(D, ORG), len(ledger.history(D, ORG)), ledger.verify_chain().length)
        assert after == before
        assert ledger.verify_chain().ok
