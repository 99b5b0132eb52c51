"""One clock: merger resolution uses the Vietnam calendar day of the hub's receipt instant, and
a fact's replay identity does not depend on when it was recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.ledger.events import Delivered, PackageKind, PackageReceived, event_key
from router.ledger.store import Ledger
from router.pipeline.clock import fixed_clock, vietnam_day
from router.pipeline.intake import IntakeStage
from router.topology.names import Names
from tests.support.hub import test_directory as directory_for
from tests.support.packages import make_edoc

pytestmark = pytest.mark.unit

#: 01:00 on 1 July in Vietnam is still 30 June in UTC; Thanh Tiên (000.32.25.H41) was merged
#: into Thanh Hưng (000.31.25.H41) with effect from 1 July 2025 (valid_to 2025-06-30).
EARLY_MORNING = datetime.fromisoformat("2025-07-01T01:00+07:00").astimezone(UTC)
DISSOLVED, SUCCESSOR = "000.32.25.H41", "000.31.25.H41"


def test_vietnam_day_is_not_the_utc_date() -> None:
    assert EARLY_MORNING.date().isoformat() == "2025-06-30"
    assert vietnam_day(EARLY_MORNING).isoformat() == "2025-07-01"
    assert fixed_clock(EARLY_MORNING)() == EARLY_MORNING
    with pytest.raises(ValueError):
        fixed_clock(datetime(2025, 7, 1, 1))


def test_a_dissolved_organ_is_forwarded_between_midnight_and_seven_in_vietnam(tmp_path: Path) -> None:
    with Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite3'}") as ledger:
        stage = IntakeStage(directory_for("clk"), ledger, Names("clk"))
        body = make_edoc("000.00.00.H41", [DISSOLVED], 41)
        reply = stage.process(body, "clk-tinh-nghean", EARLY_MORNING).reply
        assert reply["outcome"] == "accepted", reply
        assert reply["forwarded"] == {DISSOLVED: SUCCESSOR}


def test_replay_identity_comes_from_facts_not_from_the_time(tmp_path: Path) -> None:
    first = Delivered("d" * 64, SUCCESSOR, "huyen-thanhchuong", 1, at=EARLY_MORNING)
    again = Delivered("d" * 64, SUCCESSOR, "huyen-thanhchuong", 1, at=datetime(2025, 7, 1, 9, tzinfo=UTC))
    assert event_key(first) == event_key(again)
    assert event_key(first) != event_key(Delivered("d" * 64, SUCCESSOR, "huyen-thanhchuong", 2, at=EARLY_MORNING))
    received = PackageReceived("d" * 64, PackageKind.EDOC, "000.00.00.H41", "tinh-nghean",
                               document_id="000.00.00.H41,2025/07/01,41/UBND-VP", recipients=(SUCCESSOR,))
    with Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite3'}") as ledger:
        ledger.append([received, first])
        ledger.append([again])  # the same message redelivered, stamped with a later receipt time
        assert ledger.counts().evidence == 2
        assert ledger.verify_chain().ok


def test_every_event_type_has_an_identity() -> None:
    """A new event type without an identity rule would crash the ledger writer."""
    import typing

    from router.ledger import events

    kinds = {t.__name__ for t in typing.get_args(events.LedgerEvent)}
    assert kinds and kinds <= set(events.IDENTITY), kinds - set(events.IDENTITY)
