"""`--format json` and `--format csv`: the figures for tools and spreadsheets.

The CSV starts with a UTF-8 byte-order mark: without it Excel on Windows reads the Vietnamese
names as Windows-1252 mojibake, and a provincial office opens CSVs in Excel.
"""

from __future__ import annotations

import csv
import io
import json

from ops.compliance.columns import COLUMNS
from ops.compliance.figures import Report


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"


def to_csv(report: Report) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["Mã đơn vị", "Tên đơn vị", "Cấp", *(c.vi for c in COLUMNS), "Vượt ngưỡng trễ hạn",
                     "Vượt ngưỡng chưa ký số"])
    for row in report.units:
        values = [c.value(row.tally) for c in COLUMNS]
        writer.writerow([row.code, row.name, row.level if row.level is not None else "",
                         *("" if v is None else (f"{v:.4f}" if isinstance(v, float) else v) for v in values),
                         int(row.late_flag), int(row.unsigned_flag)])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
