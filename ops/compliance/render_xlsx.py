"""`--format xlsx`: the workbook a provincial office forwards (the existing hubs export Excel).

openpyxl writes real Office Open XML with shared strings in UTF-8, so Vietnamese names survive
every Excel and LibreOffice; shares are numbers with a percent format (sortable, summable), not
text, and flagged units are filled red.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ops.compliance.columns import COLUMNS
from ops.compliance.figures import Group, Report, Tally
from schemas.policy import VIETNAM

_FLAG = PatternFill("solid", fgColor="FDE8E8")
_HEAD = PatternFill("solid", fgColor="EEF2F7")


def to_xlsx(report: Report) -> bytes:
    book = Workbook()
    units = book.active
    assert units is not None
    units.title = "Đơn vị"
    _title(units, report)
    _write_header(units, ["Mã đơn vị", "Tên đơn vị", "Cấp"], ["Vượt ngưỡng / flag"])
    for u in report.units:
        marks = "; ".join(m for m, on in (("trễ hạn", u.late_flag), ("chưa ký số", u.unsigned_flag)) if on)
        units.append([u.code, u.name, u.level, *_values(u.tally), marks])
        if marks:
            for cell in units[units.max_row]:
                cell.fill = _FLAG
    _format(units, first_share_col=4)
    for title, groups in (("Cấp", report.levels), ("Hệ thống", report.systems),
                          ("Huyện - sở", report.districts), ("Theo tuần", report.weeks)):
        sheet = book.create_sheet(title)
        _title(sheet, report)
        _groups(sheet, groups)
    total = book.create_sheet("Tổng hợp")
    _title(total, report)
    _groups(total, [Group("", "Toàn bộ", report.total)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _title(sheet: Worksheet, report: Report) -> None:
    sheet.append([f"Báo cáo tuân thủ liên thông văn bản — kỳ {report.period.label} "
                  f"({report.period.first:%d/%m/%Y} – {report.period.last:%d/%m/%Y}), tính đến "
                  f"{report.as_of.astimezone(VIETNAM):%H:%M %d/%m/%Y}"])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([f"Ngưỡng: trễ hạn > {report.rules.late_threshold:.0%}, chưa ký số > "
                  f"{report.rules.unsigned_threshold:.0%}"])


def _write_header(sheet: Worksheet, first: list[str], last: list[str]) -> None:
    sheet.append([*first, *(f"{c.vi} ({c.en})" for c in COLUMNS), *last])
    for cell in sheet[sheet.max_row]:
        cell.font, cell.fill = Font(bold=True), _HEAD
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _values(tally: Tally) -> list[float | int | None]:
    return [c.value(tally) for c in COLUMNS]


def _groups(sheet: Worksheet, groups: Sequence[Group]) -> None:
    _write_header(sheet, ["Khóa", "Tên"], [])
    for g in groups:
        sheet.append([g.key, g.name, *_values(g.tally)])
    _format(sheet, first_share_col=3)


def _format(sheet: Worksheet, first_share_col: int) -> None:
    for i, column in enumerate(COLUMNS):
        letter = get_column_letter(first_share_col + i)
        sheet.column_dimensions[letter].width = 14
        if column.share:
            for (cell,) in sheet.iter_rows(min_row=4, min_col=first_share_col + i, max_col=first_share_col + i):
                cell.number_format = "0.0%"
    sheet.column_dimensions["B"].width = 48
    sheet.freeze_panes = "A4"
