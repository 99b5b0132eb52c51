"""`lienthong report`: the province's compliance figures for a period, from the ledger.

Reads only (a missing SQLite ledger is never created). Formats: html (one offline page with
charts), xlsx (what a provincial office forwards), csv (UTF-8 with BOM, for Excel), json (for
tools). Definitions of the figures: README, Compliance.
"""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ops.compliance.calendar import DEFAULT_CALENDAR, CalendarError, WorkCalendar, load_calendar
from ops.compliance.figures import Report, compute
from ops.compliance.periods import Period, PeriodError, parse_period
from ops.compliance.render_html import to_html
from ops.compliance.render_text import to_csv, to_json
from ops.compliance.rules import DEFAULT_RULES, Rules, RulesError, load_rules
from ops.compliance.units import Units
from router.cli.errors import OperatorError
from router.cli.options import DirectoryOpt, LedgerOpt, command_settings
from router.directory.model import load_directory
from router.ledger import Ledger
from router.ledger.compliance import sent_documents
from schemas.policy import VIETNAM


class ReportFormat(StrEnum):
    HTML = "html"
    XLSX = "xlsx"
    CSV = "csv"
    JSON = "json"


def report(
    period: Annotated[str, typer.Option(
        "--period", "-p", help="2025-03, 2025-Q1, 2025 (calendar); R2025-03, R2025-Q1, R2025 (15th to 14th "
                               "reporting periods); or 2025-03-01..2025-03-31")],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="html | xlsx | csv | json")] = ReportFormat.HTML,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write here instead of stdout (required for xlsx on a terminal)")] = None,
    unit: Annotated[str | None, typer.Option(
        "--unit", help="Only this organ and the units under it, e.g. 000.00.25.H41")] = None,
    level: Annotated[int | None, typer.Option(
        "--level", min=1, max=4, help="Only units of this level (1–4) in the unit table")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Judge missing 06s as of this moment (ISO, e.g. 2025-04-01T08:00+07:00; default now)")] = None,
    late_threshold: Annotated[float | None, typer.Option(
        "--late-threshold", help="Flag a unit whose late share is above this (default 0.5, rules file)")] = None,
    unsigned_threshold: Annotated[float | None, typer.Option(
        "--unsigned-threshold", help="Flag a unit whose unsigned share is above this (default 0.2)")] = None,
    calendar: Annotated[Path, typer.Option(
        "--calendar", help="Working-day calendar YAML (weekends, holidays, make-up days)")] = DEFAULT_CALENDAR,
    rules: Annotated[Path, typer.Option(
        "--rules", help="Rules YAML (thresholds, office day end, handling times)")] = DEFAULT_RULES,
    ledger_url: LedgerOpt = None,
    directory: DirectoryOpt = None,
) -> None:
    """Compliance figures per unit, level, system and week: late share, unsigned share, same-day
    receipt and on-time sending, flagged against the province's thresholds."""
    if fmt is ReportFormat.XLSX and output is None and sys.stdout.isatty():
        raise OperatorError("an xlsx workbook is binary: give --output FILE.xlsx")
    try:
        chosen = parse_period(period)
        work_calendar = load_calendar(calendar)
        chosen_rules = load_rules(rules).with_thresholds(late_threshold, unsigned_threshold)
        moment = datetime.now(VIETNAM) if as_of is None else datetime.fromisoformat(as_of)
    except (PeriodError, CalendarError, RulesError) as exc:
        raise OperatorError(str(exc)) from None
    except ValueError:
        raise OperatorError(f"--as-of {as_of!r}: expected an ISO time, e.g. 2025-04-01T08:00+07:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    settings = command_settings(ledger_url=ledger_url, directory=directory)
    d = load_directory(settings.directory)
    units = Units({o.code: o.name for o in d.organs}, {o.code: o.parent for o in d.organs})
    with Ledger.open(settings.ledger_url, create=False) as ledger:
        figures = _compute(ledger, chosen, work_calendar, chosen_rules, units, moment, unit, level)
    _emit(figures, fmt, output)


def _compute(ledger: Ledger, period: Period, calendar: WorkCalendar, rules: Rules, units: Units,
             moment: datetime, unit: str | None, level: int | None) -> Report:
    """The figures, with a progress bar on a terminal (a year of a province is a long read)."""
    console = Console(stderr=True)
    with Progress(TextColumn("Đang đọc sổ cái / reading the ledger"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("ledger", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        docs = sent_documents(ledger, period.start_utc, period.end_utc, progress=advance)
        return compute(docs, period=period, calendar=calendar, rules=rules, units=units, as_of=moment,
                       scope=unit, level=level)


def _emit(figures: Report, fmt: ReportFormat, output: Path | None) -> None:
    data: bytes
    match fmt:
        case ReportFormat.HTML:
            data = to_html(figures).encode("utf-8")
        case ReportFormat.JSON:
            data = to_json(figures).encode("utf-8")
        case ReportFormat.CSV:
            data = to_csv(figures)
        case ReportFormat.XLSX:
            from ops.compliance.render_xlsx import to_xlsx  # openpyxl only when asked for
            data = to_xlsx(figures)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    output.write_bytes(data)
    flagged = sum(u.late_flag or u.unsigned_flag for u in figures.units)
    sys.stderr.buffer.write(f"{output}: {len(figures.units)} đơn vị, {flagged} vượt ngưỡng / "
                            f"{len(figures.units)} units, {flagged} flagged\n".encode())


def register(app: typer.Typer) -> None:
    from router.cli import exporter  # its command sits beside the report it exports

    app.command("report")(report)
    exporter.register(app)
