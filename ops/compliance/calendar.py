"""Working days: weekends, public holidays and make-up working days, from an editable file.

Every deadline in the compliance figures is counted in working days (Decree 30 Art. 21, 24;
Decision 28), and the holidays move every year by notice, so they are data, not code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CALENDAR = Path(__file__).with_name("calendar_vn.yaml")

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class CalendarError(ValueError):
    """The calendar file is unreadable or names something that is not a day."""


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Which Vietnam calendar days are working days. `holidays` and `working_days` map a day
    to its name (a make-up working day is a weekend day worked instead of a weekday off)."""

    weekend: frozenset[int]
    holidays: dict[date, str]
    working_days: dict[date, str]

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        return day.weekday() not in self.weekend and day not in self.holidays

    def on_or_after(self, day: date) -> date:
        """`day` if it is a working day, else the next one."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n = 0: `day` itself, or the next working day)."""
        day = self.on_or_after(day)
        for _ in range(n):
            day = self.on_or_after(day + timedelta(days=1))
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many working days `end` lies after `start`
        (negative when end is before start). Used to say "late by N working days"."""
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        n, day = 0, start
        while day < end:
            day += timedelta(days=1)
            n += self.is_working_day(day)
        return sign * n


def load_calendar(path: str | Path = DEFAULT_CALENDAR) -> WorkCalendar:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CalendarError(f"calendar {path}: cannot read it ({type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise CalendarError(f"calendar {path}: expected a mapping with weekend/holidays/working_days")
    try:
        weekend = frozenset(_WEEKDAYS.index(str(d).lower()) for d in data.get("weekend", ["saturday", "sunday"]))
    except ValueError as exc:
        raise CalendarError(f"calendar {path}: weekend lists an unknown day") from exc
    return WorkCalendar(weekend, _days(path, "holidays", data.get("holidays") or []),
                        _days(path, "working_days", data.get("working_days") or []))


def _days(path: str | Path, key: str, entries: list[Any]) -> dict[date, str]:
    out: dict[date, str] = {}
    for i, entry in enumerate(entries):
        where = f"calendar {path}: {key}[{i}]"
        if not isinstance(entry, dict) or not entry.get("name"):
            raise CalendarError(f"{where}: needs a name and a date (or from/to)")
        first, last = entry.get("from", entry.get("date")), entry.get("to", entry.get("date"))
        if not isinstance(first, date) or not isinstance(last, date) or last < first:
            raise CalendarError(f"{where}: date, or from <= to, must be ISO dates (YYYY-MM-DD)")
        day = first
        while day <= last:
            out[day] = str(entry["name"])
            day += timedelta(days=1)
    return out
