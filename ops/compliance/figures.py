"""The compliance figures: each document judged against the calendar and rules, then counted
per unit, level, system, district (level-2 subtree) and week. Definitions: README, Compliance.

A pure function of the facts read from the ledger, so the tests can build a ledger with known
answers and compare every count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

from ops.compliance.calendar import WorkCalendar
from ops.compliance.facts import Receipt, SentDocument, SignState
from ops.compliance.periods import Period
from ops.compliance.rules import Rules
from ops.compliance.units import Units
from schemas.policy import VIETNAM


def vn_day(moment: datetime) -> date:
    return moment.astimezone(VIETNAM).date()


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


@dataclass(slots=True)
class Tally:
    """Counts behind the four shares. Sending side: documents a unit sent. Receiving side:
    deliveries to a unit (one per recipient)."""

    sent: int = 0
    signed: int = 0
    partially_signed: int = 0
    unsigned: int = 0  # no signature at all
    invalid: int = 0  # a failing signature
    unverified: int = 0  # no verdict recorded
    signing_day_known: int = 0
    sent_on_time: int = 0
    received: int = 0  # delivered to the unit
    same_day: int = 0  # 01/03 on the working day of arrival
    same_day_missing: int = 0  # no 01/03 by the end of that day, and the day is over
    with_deadline: int = 0
    late: int = 0  # 06 after the deadline, or missing past it
    late_missing: int = 0  # of which: no 06 at all
    pending: int = 0  # no 06 yet, deadline not passed
    refused: int = 0  # 02 and no 06: returned, no deadline counted
    not_delivered: int = 0

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def late_share(self) -> float | None:
        return _share(self.late, self.with_deadline)

    @property
    def unsigned_share(self) -> float | None:
        return _share(self.sent - self.signed, self.sent)

    @property
    def partially_signed_share(self) -> float | None:
        return _share(self.partially_signed, self.sent)

    @property
    def same_day_share(self) -> float | None:
        return _share(self.same_day, self.received)

    @property
    def on_time_share(self) -> float | None:
        return _share(self.sent_on_time, self.signing_day_known)

    def to_dict(self) -> dict[str, Any]:
        shares = {name: getattr(self, name) for name in SHARES}
        return {**asdict(self), **shares}


SHARES = ("late_share", "unsigned_share", "partially_signed_share", "same_day_share", "on_time_share")


@dataclass(frozen=True, slots=True)
class UnitRow:
    code: str
    name: str
    level: int | None
    district: str
    tally: Tally
    late_flag: bool
    unsigned_flag: bool

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "level": self.level, "district": self.district,
                "late_flag": self.late_flag, "unsigned_flag": self.unsigned_flag, **self.tally.to_dict()}


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    name: str
    tally: Tally

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, **self.tally.to_dict()}


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    as_of: datetime
    rules: Rules
    scope: str | None
    documents: int
    total: Tally
    units: list[UnitRow]
    levels: list[Group]
    systems: list[Group]
    districts: list[Group]
    weeks: list[Group]
    generated_at: datetime = field(default_factory=lambda: datetime.now(VIETNAM))

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {"label": self.period.label, "first": self.period.first.isoformat(),
                       "last": self.period.last.isoformat()},
            "as_of": self.as_of.astimezone(VIETNAM).isoformat(),
            "thresholds": {"late_share": self.rules.late_threshold,
                           "unsigned_share": self.rules.unsigned_threshold},
            "scope": self.scope,
            "documents": self.documents,
            "total": self.total.to_dict(),
            "units": [u.to_dict() for u in self.units],
            "levels": [g.to_dict() for g in self.levels],
            "systems": [g.to_dict() for g in self.systems],
            "districts": [g.to_dict() for g in self.districts],
            "weeks": [g.to_dict() for g in self.weeks],
        }


class Judge:
    """Judges one document's sending side and each of its receipts."""

    def __init__(self, calendar: WorkCalendar, rules: Rules, as_of: datetime) -> None:
        self.calendar, self.rules, self.as_of_day = calendar, rules, vn_day(as_of)

    def arrival_day(self, delivered_at: datetime) -> date:
        """The working day a delivery counts as arriving: after the office day ends, or on a day
        off, the next working day (a Friday-evening document arrives on Monday)."""
        local = delivered_at.astimezone(VIETNAM)
        day = local.date() + timedelta(days=1) if local.time() >= self.rules.office_day_ends else local.date()
        return self.calendar.on_or_after(day)

    def sending(self, doc: SentDocument, tally: Tally) -> None:
        tally.sent += 1
        match doc.sign_state:
            case SignState.SIGNED:
                tally.signed += 1
            case SignState.PARTIALLY_SIGNED:
                tally.partially_signed += 1
            case SignState.UNSIGNED:
                tally.unsigned += 1
            case SignState.INVALID:
                tally.invalid += 1
            case SignState.UNVERIFIED:
                tally.unverified += 1
        signing_day = vn_day(doc.signed_at) if doc.signed_at is not None else doc.promulgation_date
        if signing_day is not None:
            tally.signing_day_known += 1
            latest = self.calendar.on_or_after(signing_day + timedelta(days=1))
            tally.sent_on_time += vn_day(doc.received_at) <= latest

    def deadline(self, doc: SentDocument, receipt: Receipt, arrival: date) -> date | None:
        if doc.due_date is not None:
            return doc.due_date
        days = self.rules.handling_days_for(receipt.organ, doc.document_type)
        return None if days is None else self.calendar.add_working_days(arrival, days)

    def receiving(self, doc: SentDocument, receipt: Receipt, tally: Tally) -> None:
        if receipt.delivered_at is None:
            tally.not_delivered += 1
            return
        tally.received += 1
        arrival = self.arrival_day(receipt.delivered_at)
        acknowledged = receipt.first_ack_at is not None and vn_day(receipt.first_ack_at) <= arrival
        tally.same_day += acknowledged
        tally.same_day_missing += not acknowledged and self.as_of_day > arrival
        if receipt.refused_at is not None and receipt.done_at is None:
            tally.refused += 1
            return
        deadline = self.deadline(doc, receipt, arrival)
        if deadline is None:
            return
        tally.with_deadline += 1
        if receipt.done_at is not None:
            tally.late += vn_day(receipt.done_at) > deadline
        elif self.as_of_day > deadline:
            tally.late += 1
            tally.late_missing += 1
        else:
            tally.pending += 1


def compute(
    documents: Iterable[SentDocument],
    *,
    period: Period,
    calendar: WorkCalendar,
    rules: Rules,
    units: Units,
    as_of: datetime,
    scope: str | None = None,
    level: int | None = None,
) -> Report:
    """Count every document hub-received in `period`. `scope` keeps the subtree of one unit
    (its own documents and those it received); `level` keeps only that level's rows in the
    unit table (levels, systems and totals still cover the scope)."""
    judge = Judge(calendar, rules, as_of)
    weeks = period.weeks()
    by_unit: dict[str, Tally] = defaultdict(Tally)
    by_system: dict[str, Tally] = defaultdict(Tally)
    by_week = [Tally() for _ in weeks]
    total = Tally()
    in_scope: Callable[[str], bool] = (lambda _c: True) if scope is None else (lambda c: units.within(c, scope))
    n = 0
    for doc in documents:
        day = vn_day(doc.received_at)
        if not period.contains(day):
            continue
        n += 1
        week = next(i for i, (first, last) in enumerate(weeks) if first <= day <= last)
        if in_scope(doc.from_organ):
            for tally in (by_unit[doc.from_organ], by_system[doc.system_id or "?"], by_week[week], total):
                judge.sending(doc, tally)
        for receipt in doc.receipts:
            if in_scope(receipt.organ):
                for tally in (by_unit[receipt.organ], by_system[receipt.system_id or "?"], by_week[week], total):
                    judge.receiving(doc, receipt, tally)
    rows = [
        UnitRow(code, units.name(code), units.level(code), units.district(code), tally,
                _over(tally.late_share, rules.late_threshold), _over(tally.unsigned_share, rules.unsigned_threshold))
        for code, tally in sorted(by_unit.items())
    ]
    levels: dict[int, Tally] = defaultdict(Tally)
    districts: dict[str, Tally] = defaultdict(Tally)
    for row in rows:
        if row.level is not None:
            levels[row.level].add(row.tally)
        districts[row.district].add(row.tally)
    return Report(
        period=period, as_of=as_of, rules=rules, scope=scope, documents=n, total=total,
        units=[r for r in rows if level is None or r.level == level],
        levels=[Group(str(k), f"Cấp {k}", v) for k, v in sorted(levels.items())],
        systems=[Group(k, k, v) for k, v in sorted(by_system.items())],
        districts=[Group(k, units.name(k), v) for k, v in sorted(districts.items())],
        weeks=[Group(first.isoformat(), f"{first:%d/%m}–{last:%d/%m}", t) for (first, last), t in zip(weeks, by_week,
                                                                                               strict=True)],
    )


def _over(share: float | None, threshold: float) -> bool:
    return share is not None and share > threshold
