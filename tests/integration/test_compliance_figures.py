"""Compliance figures from a real ledger (SQLite file and PostgreSQL) built through its write
path, against answers worked out by hand from the calendar (tests/support/compliance_ledger.py
says why each document counts as it does)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ops.compliance.calendar import load_calendar
from ops.compliance.figures import Report, compute
from ops.compliance.periods import parse_period
from ops.compliance.rules import load_rules
from ops.compliance.units import Units
from router.directory.model import load_directory
from router.ledger import Ledger
from router.ledger.compliance import count_documents, sent_documents
from router.settings import Settings
from tests.support.compliance_ledger import AS_OF, PROVINCE, SO_TTTT, A, B, Builder, build, rules_file, vn
from tests.support.services import pg_schema

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        with Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}") as opened:
            build(opened)
            yield opened
        return
    with pg_schema(request.getfixturevalue("pg_url"), "lt_compl") as url, Ledger.open(url) as opened:
        build(opened)
        yield opened


def _report(ledger: Ledger, tmp_path: Path, period: str = "2025-04", **kw: object) -> Report:
    d = load_directory(Settings().directory)
    units = Units({o.code: o.name for o in d.organs}, {o.code: o.parent for o in d.organs})
    p = parse_period(period)
    docs = sent_documents(ledger, p.start_utc, p.end_utc, chunk=2)  # several chunks on purpose
    return compute(docs, period=p, calendar=load_calendar(), rules=load_rules(rules_file(tmp_path)),
                   units=units, as_of=AS_OF, **kw)  # type: ignore[arg-type]


def test_receiving_units_late_and_same_day(ledger: Ledger, tmp_path: Path) -> None:
    report = _report(ledger, tmp_path)
    assert report.documents == 7  # March's document and the refused package are not counted
    units = {u.code: u for u in report.units}
    a, b = units[A].tally, units[B].tally
    # A: 1 late across the holiday, 2 on the deadline day, 3 missing past it, 7 refused
    assert (a.received, a.with_deadline, a.late, a.late_missing, a.pending, a.refused) == (4, 3, 2, 1, 0, 1)
    assert a.late_share == pytest.approx(2 / 3)
    assert a.same_day == 1 and a.same_day_share == pytest.approx(1 / 4) and a.same_day_missing == 3
    assert units[A].late_flag and not units[A].unsigned_flag
    # B: 4 on time (Friday evening), 5 pending, 6 no deadline; 3's copy parked, never delivered
    assert (b.received, b.with_deadline, b.late, b.pending, b.not_delivered) == (3, 2, 0, 1, 1)
    assert b.late_share == 0 and not units[B].late_flag
    assert b.same_day == 2 and b.same_day_share == pytest.approx(2 / 3) and b.same_day_missing == 1
    assert units[A].name == "Ủy ban nhân dân huyện Thanh Chương"


def test_sending_units_signatures_and_on_time(ledger: Ledger, tmp_path: Path) -> None:
    units = {u.code: u for u in _report(ledger, tmp_path).units}
    p = units[PROVINCE].tally
    assert (p.sent, p.signed, p.partially_signed, p.unsigned, p.unverified, p.invalid) == (6, 3, 1, 1, 1, 0)
    assert p.unsigned_share == pytest.approx(3 / 6) and p.partially_signed_share == pytest.approx(1 / 6)
    assert units[PROVINCE].unsigned_flag  # 50% > 20%
    assert (p.signing_day_known, p.sent_on_time) == (5, 4)  # 2 was sent a working day late
    s = units[SO_TTTT].tally
    assert (s.sent, s.signed, s.unsigned_share, s.on_time_share) == (1, 1, 0, 1)
    assert not units[SO_TTTT].unsigned_flag


def test_levels_systems_districts_and_weeks(ledger: Ledger, tmp_path: Path) -> None:
    report = _report(ledger, tmp_path)
    levels = {g.key: g.tally for g in report.levels}
    assert levels["1"].sent == 6 and levels["2"].sent == 1 and levels["2"].received == 7
    assert levels["2"].late == 2 and levels["2"].with_deadline == 5
    systems = {g.key: g.tally for g in report.systems}
    assert systems["huyen-thanhchuong"].received == 4 and systems["tinh-nghean"].received == 3
    assert {g.key for g in report.districts} == {PROVINCE, SO_TTTT, A, B}
    weeks = {g.key: g.tally for g in report.weeks}
    assert next(iter(weeks)) == "2025-04-01"  # the first week is clipped to the period
    assert weeks["2025-04-28"].late == 1 and weeks["2025-04-21"].late == 1  # docs 1 and 3
    assert sum(w.sent for w in weeks.values()) == report.total.sent == 7


def test_scope_level_thresholds_and_reporting_period(ledger: Ledger, tmp_path: Path) -> None:
    only_a = _report(ledger, tmp_path, scope=A)
    assert [u.code for u in only_a.units] == [A] and only_a.total.sent == 0 and only_a.total.received == 4
    level1 = _report(ledger, tmp_path, level=1)
    assert [u.code for u in level1.units] == [PROVINCE]
    # R2025-05 = 15/4 … 14/5: documents 1, 2, 3, 4 (18/4) and 5; not 6 (10/4) nor 7 (14/4)
    regime = _report(ledger, tmp_path, period="R2025-05")
    assert (regime.period.first, regime.period.last) == (date(2025, 4, 15), date(2025, 5, 14))
    assert regime.documents == 5
    p = regime.period
    assert count_documents(ledger, p.start_utc, p.end_utc) == 5


def test_the_read_reports_progress_chunk_by_chunk(ledger: Ledger) -> None:
    p = parse_period("2025-04")
    seen: list[tuple[int, int]] = []
    docs = list(sent_documents(ledger, p.start_utc, p.end_utc, chunk=3, progress=lambda d, t: seen.append((d, t))))
    assert len(docs) == 7 and seen == [(3, 7), (6, 7), (7, 7)]


def test_same_day_missing_waits_for_the_end_of_the_arrival_day(ledger: Ledger, tmp_path: Path) -> None:
    """Document 5 reached B on Thursday 24/4 at 14:00 and B never sent 01/03: not missing that
    afternoon (B still has its day), missing from the next morning on."""
    p = parse_period("2025-04-24..2025-04-24")
    docs = list(sent_documents(ledger, p.start_utc, p.end_utc))

    def b_at(moment: str) -> tuple[int, int, int]:
        report = compute(docs, period=p, calendar=load_calendar(), rules=load_rules(rules_file(tmp_path)),
                         units=Units(), as_of=vn(moment))
        t = {u.code: u.tally for u in report.units}[B]
        return t.received, t.same_day, t.same_day_missing

    assert b_at("2025-04-24T16:00") == (1, 0, 0)
    assert b_at("2025-04-25T08:00") == (1, 0, 1)


def test_handling_time_per_document_type_from_the_ledger(tmp_path: Path, pg_url: str) -> None:
    """A Giấy mời without DueDate must be handled within 1 working day (the rules' type entry),
    a Công văn falls back to A's organ rule (10 days); both read back through the real ledger."""
    rules = tmp_path / "types.yaml"
    rules.write_text("handling_days:\n  types: {Giấy mời: 1}\n  organs: {000.00.25.H41: 10}\n", encoding="utf-8")
    b = Builder()
    invite = b.document(31, PROVINCE, (A,), "2025-04-21T09:00", document_type="Giấy mời")
    b.delivered(invite, A, "2025-04-21T09:00:02")
    b.status(invite, A, "06", "2025-04-23T10:00")  # deadline Tue 22/4: late
    letter = b.document(32, PROVINCE, (A,), "2025-04-21T09:00", document_type="Công văn")
    b.delivered(letter, A, "2025-04-21T09:00:02")
    b.status(letter, A, "06", "2025-04-23T10:00")  # deadline 10 working days on: on time
    with pg_schema(pg_url, "lt_types") as url:
        for ledger_url in (f"sqlite:///{tmp_path / 'types.db'}", url):
            with Ledger.open(ledger_url) as ledger:
                ledger.append(b.events)
                p = parse_period("2025-04")
                docs = list(sent_documents(ledger, p.start_utc, p.end_utc))
                assert {d.document_id: d.document_type for d in docs} == {invite: "Giấy mời", letter: "Công văn"}
                d = load_directory(Settings().directory)
                report = compute(iter(docs), period=p, calendar=load_calendar(), rules=load_rules(rules),
                                 units=Units({o.code: o.name for o in d.organs}, {o.code: o.parent for o in d.organs}),
                                 as_of=AS_OF)
                a = {u.code: u for u in report.units}[A].tally
                assert (a.with_deadline, a.late) == (2, 1), ledger_url
