"""The columns every report format shows, named once in Vietnamese and English so the HTML,
XLSX and CSV carry the same figures under the same headings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ops.compliance.figures import Tally


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    vi: str
    en: str
    value: Callable[[Tally], Any]
    share: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("sent", "Văn bản gửi", "documents sent", lambda t: t.sent),
    Column("signed", "Ký số đủ", "signed", lambda t: t.signed),
    Column("partially_signed", "Ký số một phần", "partially signed", lambda t: t.partially_signed),
    Column("unsigned_share", "Tỷ lệ chưa ký số", "unsigned share", lambda t: t.unsigned_share, share=True),
    Column("on_time_share", "Tỷ lệ gửi đúng hạn", "on-time sending", lambda t: t.on_time_share, share=True),
    Column("received", "Văn bản nhận", "documents received", lambda t: t.received),
    Column("same_day_share", "Tỷ lệ tiếp nhận trong ngày", "same-day receipt", lambda t: t.same_day_share,
           share=True),
    Column("with_deadline", "Có hạn xử lý", "with a deadline", lambda t: t.with_deadline),
    Column("late", "Trễ hạn", "late", lambda t: t.late),
    Column("late_missing", "Quá hạn chưa có 06", "06 missing past deadline", lambda t: t.late_missing),
    Column("late_share", "Tỷ lệ trễ hạn", "late share", lambda t: t.late_share, share=True),
)


def percent(value: float | None) -> str:
    """Vietnamese decimal comma: 0.125 → "12,5%"; no denominator → "–"."""
    return "–" if value is None else f"{value * 100:.1f}".replace(".", ",") + "%"
