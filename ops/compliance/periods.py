"""Reporting periods: calendar months, quarters and years, and the reporting regime's
15th-to-14th periods (Decree 09/2019 Art. 12: a monthly report covers the 15th of the month
before to the 14th of the month; a quarter, the 15th of the month before it to the 14th of its
last month; a year, 15 December to 14 December).

Spelling (`--period`): `2025-03`, `2025-Q1`, `2025` (calendar); `R2025-03`, `R2025-Q1`,
`R2025` (reporting regime); `2025-03-01..2025-03-31` (any range of days, both included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from schemas.policy import VIETNAM


class PeriodError(ValueError):
    """`--period` is not one of the spellings above."""


@dataclass(frozen=True, slots=True)
class Period:
    """Vietnam calendar days `first` … `last`, both included."""

    label: str
    first: date
    last: date

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.first, time(), VIETNAM)

    @property
    def end_utc(self) -> datetime:
        """Exclusive: midnight in Vietnam after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time(), VIETNAM)

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last

    def weeks(self) -> list[tuple[date, date]]:
        """The ISO weeks (Monday … Sunday) the period touches, clipped to it: the trend chart's bars."""
        out, monday = [], self.first - timedelta(days=self.first.weekday())
        while monday <= self.last:
            out.append((max(monday, self.first), min(monday + timedelta(days=6), self.last)))
            monday += timedelta(days=7)
        return out


_MONTH = re.compile(r"(R?)(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(R?)(\d{4})-Q([1-4])", re.IGNORECASE)
_YEAR = re.compile(r"(R?)(\d{4})")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _span(year: int, first_month: int, months: int, regime: bool) -> tuple[date, date]:
    start = _month_start(year, first_month)
    after = _month_start(year, first_month + months)
    if regime:  # 15th of the month before the first … 14th of the last month
        return _month_start(year, first_month - 1).replace(day=15), _month_start(
            year, first_month + months - 1).replace(day=14)
    return start, after - timedelta(days=1)


def parse_period(text: str) -> Period:
    value = text.strip()
    try:
        if m := _RANGE.fullmatch(value):
            first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if last < first:
                raise PeriodError(f"period {text!r}: the last day is before the first")
            return Period(value, first, last)
        if m := _MONTH.fullmatch(value):
            if not 1 <= int(m[3]) <= 12:
                raise PeriodError(f"period {text!r}: no month {m[3]}")
            return Period(value, *_span(int(m[2]), int(m[3]), 1, bool(m[1])))
        if m := _QUARTER.fullmatch(value):
            return Period(value.upper(), *_span(int(m[2]), 3 * int(m[3]) - 2, 3, bool(m[1])))
        if m := _YEAR.fullmatch(value):
            return Period(value, *_span(int(m[2]), 1, 12, bool(m[1])))
    except ValueError as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"period {text!r}: {exc}") from exc
    raise PeriodError(
        f"period {text!r}: expected 2025-03, 2025-Q1, 2025, R2025-03 (15th to 14th), R2025-Q1, R2025 "
        "or 2025-03-01..2025-03-31")
