"""`--format html`: one self-contained page a person opens on a government network.

No CDN, no web font, no script: the styles are inline and the charts are inline SVG drawn here,
so the page renders the same with no network at all (tested in headless Chromium). Every text
from the ledger or the directory goes through `html.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ops.compliance.columns import COLUMNS, percent
from ops.compliance.figures import Group, Report, Tally, UnitRow
from schemas.policy import VIETNAM

_STYLE = """
body{font-family:"Segoe UI","Noto Sans","DejaVu Sans",Arial,sans-serif;margin:24px;color:#1b1b1b}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .en{color:#666;font-size:85%}
table{border-collapse:collapse;font-size:13px;margin-bottom:8px}
th,td{border:1px solid #c8c8c8;padding:4px 6px;text-align:right} th{background:#eef2f7;vertical-align:bottom}
td.t,th.t{text-align:left} tr.flag td{background:#fde8e8} .mark{color:#b00020;font-weight:600}
svg text{font-family:inherit;font-size:11px} .note{font-size:12px;color:#444;max-width:900px}
"""
_LATE, _UNSIGNED = "#c0392b", "#2c6fbb"


def to_html(report: Report) -> str:
    r = report
    title = f"Báo cáo tuân thủ liên thông văn bản — {r.period.label}"
    parts = [
        "<!DOCTYPE html>", '<html lang="vi">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f"<h1>{escape(title)}</h1>",
        f'<p>Kỳ báo cáo <b>{r.period.first:%d/%m/%Y} – {r.period.last:%d/%m/%Y}</b>; số liệu tính đến '
        f'{r.as_of.astimezone(VIETNAM):%H:%M %d/%m/%Y} (giờ Việt Nam); {r.documents} văn bản mới. '
        f'Ngưỡng: trễ hạn &gt; {percent(r.rules.late_threshold)}, chưa ký số &gt; '
        f'{percent(r.rules.unsigned_threshold)}.'
        f'<br><span class="en">Compliance report of the document exchange hub; thresholds: late share above '
        f'{percent(r.rules.late_threshold)}, unsigned share above {percent(r.rules.unsigned_threshold)}.</span></p>',
    ]
    if r.scope:
        parts.append(f"<p>Phạm vi / scope: <b>{escape(r.scope)}</b> và các đơn vị trực thuộc</p>")
    parts += [
        '<h2>Theo huyện, sở, ngành <span class="en">by district or department (level-2 subtree)</span></h2>',
        _bars(r.districts, r),
        '<h2>Diễn biến theo tuần <span class="en">trend by week</span></h2>', _trend(r.weeks, r),
        '<h2>Tổng hợp <span class="en">totals</span></h2>',
        _group_table([Group("", "Toàn bộ / all", r.total)], "Phạm vi"),
        '<h2>Theo cấp <span class="en">by level</span></h2>', _group_table(r.levels, "Cấp"),
        '<h2>Theo hệ thống <span class="en">by system</span></h2>', _group_table(r.systems, "Hệ thống"),
        '<h2>Theo đơn vị <span class="en">by unit (flagged rows exceed a threshold)</span></h2>',
        _unit_table(r.units),
        _definitions(),
        "</body>", "</html>",
    ]
    return "\n".join(parts) + "\n"


def _header(first: str) -> str:
    cells = "".join(f'<th>{escape(c.vi)}<br><span class="en">{escape(c.en)}</span></th>' for c in COLUMNS)
    return f'<tr><th class="t">{escape(first)}</th>{cells}</tr>'


def _cells(tally: Tally) -> str:
    out = []
    for c in COLUMNS:
        v = c.value(tally)
        out.append(f"<td>{percent(v) if c.share else v}</td>")
    return "".join(out)


def _group_table(groups: Sequence[Group], first: str) -> str:
    rows = "".join(f'<tr><td class="t">{escape(g.name)}</td>{_cells(g.tally)}</tr>' for g in groups)
    return f"<table>{_header(first)}{rows}</table>"


def _unit_table(units: Sequence[UnitRow]) -> str:
    head = _header("Đơn vị").replace("<tr>", '<tr><th class="t">Mã / code</th><th>Cấp</th>', 1)
    head = head.replace("</tr>", '<th class="t">Cảnh báo / flag</th></tr>')
    rows = []
    for u in units:
        marks = [m for m, on in (("Trễ hạn vượt ngưỡng", u.late_flag), ("Chưa ký số vượt ngưỡng", u.unsigned_flag))
                 if on]
        cls = ' class="flag"' if marks else ""
        mark = f'<span class="mark">⚠ {escape("; ".join(marks))}</span>' if marks else ""
        rows.append(f'<tr{cls} data-unit="{escape(u.code)}"><td class="t">{escape(u.code)}</td>'
                    f'<td>{u.level or ""}</td><td class="t">{escape(u.name)}</td>{_cells(u.tally)}'
                    f'<td class="t">{mark}</td></tr>')
    if not rows:
        rows.append(f'<tr><td class="t" colspan="{len(COLUMNS) + 4}">Không có văn bản trong kỳ / '
                    "no documents in the period</td></tr>")
    return f'<table id="units">{head}{"".join(rows)}</table>'


def _legend(y: int) -> str:
    return (f'<rect x="10" y="{y}" width="12" height="12" fill="{_LATE}"/>'
            f'<text x="26" y="{y + 10}">Tỷ lệ trễ hạn / late share</text>'
            f'<rect x="220" y="{y}" width="12" height="12" fill="{_UNSIGNED}"/>'
            f'<text x="236" y="{y + 10}">Tỷ lệ chưa ký số / unsigned share</text>')


def _bars(groups: Sequence[Group], report: Report) -> str:
    """Two horizontal bars per district (late, unsigned) against dashed threshold lines."""
    label_w, bar_w, row_h = 330, 420, 30
    height = 40 + row_h * max(len(groups), 1)
    x0 = label_w + 10
    out = [f'<svg id="chart-districts" xmlns="http://www.w3.org/2000/svg" width="{x0 + bar_w + 80}" '
           f'height="{height}" role="img" aria-label="Tỷ lệ trễ hạn và chưa ký số theo huyện">', _legend(4)]
    for i, g in enumerate(groups):
        y = 26 + i * row_h
        out.append(f'<text x="{label_w}" y="{y + 14}" text-anchor="end">{escape(_short(g.name))}</text>')
        for j, (share, colour) in enumerate(((g.tally.late_share, _LATE), (g.tally.unsigned_share, _UNSIGNED))):
            w = round((share or 0) * bar_w, 1)
            out.append(f'<rect class="bar" x="{x0}" y="{y + j * 12}" width="{w}" height="11" fill="{colour}">'
                       f"<title>{escape(g.name)}: {percent(share)}</title></rect>"
                       f'<text x="{x0 + w + 4}" y="{y + j * 12 + 10}">{percent(share)}</text>')
    for threshold, colour in ((report.rules.late_threshold, _LATE), (report.rules.unsigned_threshold, _UNSIGNED)):
        x = x0 + threshold * bar_w
        out.append(f'<line x1="{x}" y1="22" x2="{x}" y2="{height}" stroke="{colour}" stroke-dasharray="4 3"/>')
    out.append("</svg>")
    return "".join(out)


def _trend(weeks: Sequence[Group], report: Report) -> str:
    """Per week, a pair of columns (late, unsigned), 0–100% on the vertical axis."""
    col_w, plot_h, top = 44, 180, 24
    width = 60 + col_w * max(len(weeks), 1)
    out = [f'<svg id="chart-weeks" xmlns="http://www.w3.org/2000/svg" width="{max(width, 480)}" '
           f'height="{top + plot_h + 40}" role="img" aria-label="Diễn biến theo tuần">', _legend(4)]
    base = top + plot_h
    for pct in (0, 50, 100):
        y = base - plot_h * pct / 100
        out.append(f'<line x1="40" y1="{y}" x2="{width}" y2="{y}" stroke="#ddd"/>'
                   f'<text x="36" y="{y + 4}" text-anchor="end">{pct}%</text>')
    for i, g in enumerate(weeks):
        x = 46 + i * col_w
        for j, (share, colour) in enumerate(((g.tally.late_share, _LATE), (g.tally.unsigned_share, _UNSIGNED))):
            h = round((share or 0) * plot_h, 1)
            out.append(f'<rect class="bar" x="{x + j * 16}" y="{base - h}" width="14" height="{h}" fill="{colour}">'
                       f"<title>{escape(g.name)}: {percent(share)}</title></rect>")
        out.append(f'<text x="{x + 15}" y="{base + 14}" text-anchor="middle">{escape(g.name.split("–")[0])}</text>')
    for threshold, colour in ((report.rules.late_threshold, _LATE), (report.rules.unsigned_threshold, _UNSIGNED)):
        y = base - threshold * plot_h
        out.append(f'<line x1="40" y1="{y}" x2="{width}" y2="{y}" stroke="{colour}" stroke-dasharray="4 3"/>')
    out.append("</svg>")
    return "".join(out)


def _short(name: str) -> str:
    return name if len(name) <= 48 else name[:47] + "…"


def _definitions() -> str:
    return (
        '<h2>Cách tính <span class="en">definitions</span></h2><div class="note"><p>'
        "<b>Tỷ lệ trễ hạn</b>: trong số văn bản đơn vị nhận trong kỳ có hạn xử lý (DueDate, hoặc thời hạn "
        "quy định theo đơn vị), số văn bản báo trạng thái 06 sau hạn hoặc quá hạn mà chưa có 06. "
        "<b>Tỷ lệ chưa ký số</b>: văn bản đơn vị gửi không có kết quả SIGNED trên tổng số văn bản gửi "
        "(ký một phần được đếm riêng). <b>Tiếp nhận trong ngày</b>: 01 hoặc 03 trong ngày làm việc văn bản đến "
        "(Nghị định 30, Điều 21). <b>Gửi đúng hạn</b>: gửi trong ngày ký hoặc ngày làm việc tiếp theo "
        "(Quyết định 28). Ngày làm việc theo lịch nghỉ lễ, Tết đã cấu hình.</p>"
        '<p class="en">Late share: of the documents a unit received in the period that carry a deadline, those '
        "whose status 06 came after it or is still missing past it. Unsigned share: documents a unit sent "
        "without a SIGNED verdict over all it sent (partially signed shown separately). Same-day receipt: "
        "01 or 03 on the working day of arrival. On-time sending: sent on the signing day or the next working "
        "day. Full definitions: README, Compliance.</p></div>"
    )
