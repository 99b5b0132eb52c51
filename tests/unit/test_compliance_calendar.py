"""The working-day calendar and the reporting periods the compliance figures count in."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest

from ops.compliance.calendar import CalendarError, load_calendar
from ops.compliance.periods import PeriodError, parse_period
from ops.compliance.rules import RulesError, load_rules

pytestmark = pytest.mark.unit


def test_shipped_calendar_knows_the_holidays_and_the_swapped_saturday() -> None:
    cal = load_calendar()
    assert not cal.is_working_day(date(2025, 9, 2)) and not cal.is_working_day(date(2026, 2, 17))
    assert not cal.is_working_day(date(2025, 5, 2))  # swapped with Saturday 26/4/2025
    assert cal.is_working_day(date(2025, 4, 26))
    assert cal.add_working_days(date(2025, 4, 29), 1) == date(2025, 5, 5)
    assert cal.add_working_days(date(2025, 4, 19), 0) == date(2025, 4, 21)  # Saturday → Monday
    assert cal.working_days_between(date(2025, 5, 5), date(2025, 5, 6)) == 1
    years = {d.year for d in cal.holidays}
    assert years == {2025, 2026, 2027}
    # every year has its 11 statutory days or more (Tết can be longer by notice)
    for year in years:
        assert sum(d.year == year and d.weekday() < 5 for d in cal.holidays) >= 10


def test_a_broken_calendar_names_its_entry(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("holidays:\n  - {from: 2025-01-05, to: 2025-01-01, name: x}\n", encoding="utf-8")
    with pytest.raises(CalendarError, match=r"holidays\[0\]"):
        load_calendar(path)
    path.write_text("weekend: [caturday]\n", encoding="utf-8")
    with pytest.raises(CalendarError, match="weekend"):
        load_calendar(path)


@pytest.mark.parametrize(("text", "first", "last"), [
    ("2025-03", date(2025, 3, 1), date(2025, 3, 31)),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
    ("2025-Q4", date(2025, 10, 1), date(2025, 12, 31)),
    ("2025", date(2025, 1, 1), date(2025, 12, 31)),
    ("R2025-03", date(2025, 2, 15), date(2025, 3, 14)),
    ("R2025-01", date(2024, 12, 15), date(2025, 1, 14)),
    ("R2025-Q1", date(2024, 12, 15), date(2025, 3, 14)),
    ("R2025", date(2024, 12, 15), date(2025, 12, 14)),
    ("2025-03-03..2025-03-09", date(2025, 3, 3), date(2025, 3, 9)),
])
def test_periods(text: str, first: date, last: date) -> None:
    p = parse_period(text)
    assert (p.first, p.last) == (first, last)
    weeks = p.weeks()
    assert weeks[0][0] == first and weeks[-1][1] == last
    assert all(a.weekday() == 0 for a, _ in weeks[1:])


@pytest.mark.parametrize("text", ["2025-13", "2025-Q5", "March", "2025-03-09..2025-03-01"])
def test_bad_periods_say_what_is_expected(text: str) -> None:
    with pytest.raises(PeriodError, match="period"):
        parse_period(text)


def test_rules_pick_the_most_specific_subtree(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("handling_days: {default: 7, organs: {000.00.25.H41: 10, 000.12.25.H41: 3}}\n", encoding="utf-8")
    rules = load_rules(path)
    assert rules.handling_days_for("000.12.25.H41") == 3
    assert rules.handling_days_for("001.12.25.H41") == 3
    assert rules.handling_days_for("000.13.25.H41") == 10
    assert rules.handling_days_for("000.00.26.H41") == 7
    assert rules.handling_days_for("000.12.25.H41", "Công văn") == 3  # no type rule: the organ's
    assert load_rules().late_threshold == 0.5 and load_rules().unsigned_threshold == 0.2
    with pytest.raises(RulesError):
        load_rules().with_thresholds(1.5, None)


def test_a_document_types_handling_time_comes_before_the_organs(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("handling_days:\n  default: 7\n  types: {Giấy mời: 1, 'Công  Văn': 10}\n"
                    "  organs: {000.00.25.H41: 5}\n", encoding="utf-8")
    rules = load_rules(path)
    assert rules.handling_days_for("000.00.25.H41", "GIẤY MỜI") == 1  # case and spacing folded
    assert rules.handling_days_for("000.00.26.H41", "công văn") == 10
    assert rules.handling_days_for("000.00.25.H41", "Quyết định") == 5  # no rule for the type: the organ's
    assert rules.handling_days_for("000.00.26.H41", None) == 7
    # decomposed Vietnamese (NFD, as some Windows software writes it) is the same type
    assert rules.handling_days_for("000.00.26.H41", unicodedata.normalize("NFD", "Giấy mời")) == 1
    path.write_text("handling_days: {types: {Giấy mời: -1}}\n", encoding="utf-8")
    with pytest.raises(RulesError, match="working days"):
        load_rules(path)
