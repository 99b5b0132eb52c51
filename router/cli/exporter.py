"""`lienthong exporter`: the compliance figures, the oldest undelivered package per system and
the trust material's dates as Prometheus gauges, for the alert rules of ops/prometheus/.

A process of its own (the compose stack's `compliance` service): the figures are a read of the
whole reporting period from the ledger, recomputed every `--interval` seconds, not per scrape.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from prometheus_client import CollectorRegistry

from ops.compliance.calendar import DEFAULT_CALENDAR, WorkCalendar, load_calendar
from ops.compliance.exporter import Exporter
from ops.compliance.figures import compute, vn_day
from ops.compliance.gauges import ComplianceGauges
from ops.compliance.periods import Period, parse_period
from ops.compliance.rules import DEFAULT_RULES, Rules, load_rules
from ops.compliance.units import Units
from router.cli.errors import OperatorError
from router.cli.options import DirectoryOpt, LedgerOpt, command_settings
from router.directory.model import Directory, load_directory
from router.ledger import Ledger
from router.ledger.compliance import oldest_undelivered, parked_by_system, sent_documents
from schemas.policy import VIETNAM


def current_reporting_period(today: datetime) -> Period:
    """The reporting regime's month containing `today` (15th of last month … 14th of this one)."""
    day = today.astimezone(VIETNAM).date()
    year, month = (day.year, day.month + 1) if day.day >= 15 else (day.year, day.month)
    if month == 13:
        year, month = year + 1, 1
    return parse_period(f"R{year}-{month:02d}")


def exporter(
    port: Annotated[int, typer.Option("--port", help="Port of /metrics, /healthz, /readyz")] = 9464,
    addr: Annotated[str, typer.Option("--addr", help="Address to listen on (0.0.0.0 in a container)")] = "127.0.0.1",
    interval: Annotated[float, typer.Option("--interval", min=1, help="Seconds between two reads of the ledger")] = 300,
    unit_levels: Annotated[str, typer.Option(
        "--unit-levels", help="Levels whose units get a series of their own (others only by level/system)")] = "1,2",
    calendar: Annotated[Path, typer.Option("--calendar", help="Working-day calendar YAML")] = DEFAULT_CALENDAR,
    rules: Annotated[Path, typer.Option("--rules", help="Rules YAML (office day end, handling times)")] = DEFAULT_RULES,
    ledger_url: LedgerOpt = None,
    directory: DirectoryOpt = None,
) -> None:
    """Serve the compliance gauges of the current reporting period (15th to 14th) for Prometheus."""
    try:
        levels = {int(x) for x in unit_levels.split(",") if x.strip()}
    except ValueError:
        raise OperatorError(f"--unit-levels {unit_levels!r}: levels 1–4, comma-separated (e.g. 1,2)") from None
    if not levels <= {1, 2, 3, 4}:
        raise OperatorError(f"--unit-levels {unit_levels!r}: levels are 1–4")
    settings = command_settings(ledger_url=ledger_url, directory=directory)
    d = load_directory(settings.directory)
    work_calendar, chosen_rules = load_calendar(calendar), load_rules(rules)
    registry = CollectorRegistry()
    gauges = ComplianceGauges(registry, levels)
    trust = settings.trust_dir

    def refresh() -> None:
        with Ledger.open(settings.ledger_url, create=False) as ledger:
            refresh_gauges(gauges, ledger, d, work_calendar, chosen_rules, datetime.now(VIETNAM))
        if trust is not None:
            gauges.set_trust(*trust_dates(trust))

    Exporter(registry, refresh, interval_s=interval, addr=addr, port=port).serve_forever()


def refresh_gauges(gauges: ComplianceGauges, ledger: Ledger, d: Directory, calendar: WorkCalendar, rules: Rules,
                   now: datetime) -> None:
    period = current_reporting_period(now)
    units = Units({o.code: o.name for o in d.organs}, {o.code: o.parent for o in d.organs})
    report = compute(sent_documents(ledger, period.start_utc, period.end_utc), period=period, calendar=calendar,
                     rules=rules, units=units, as_of=now)
    systems = sorted(d.systems)
    gauges.set_report(report, systems, now)
    oldest = {s: at for s, at in oldest_undelivered(ledger).items() if s in d.systems}
    today = vn_day(now)
    waiting = {s: calendar.working_days_between(vn_day(at), today) for s, at in oldest.items() if s is not None}
    gauges.set_undelivered({s: at for s, at in oldest.items() if s is not None}, waiting, systems, now)
    gauges.set_parked(*parked_by_system(ledger), systems)


def trust_dates(trust_dir: Path) -> tuple[dict[str, datetime], datetime | None]:
    """Earliest notAfter per kind (roots/, intermediates/) and earliest CRL nextUpdate (crls/)."""
    not_after: dict[str, datetime] = {}
    for kind, sub in (("root", "roots"), ("intermediate", "intermediates")):
        for path in sorted((trust_dir / sub).glob("*")) if (trust_dir / sub).is_dir() else []:
            for cert in _certificates(path.read_bytes()):
                at = cert.not_valid_after_utc
                not_after[kind] = min(not_after.get(kind, at), at)
    next_update: datetime | None = None
    crls = trust_dir / "crls"
    for path in sorted(crls.glob("*")) if crls.is_dir() else []:
        data = path.read_bytes()
        try:
            crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
        except ValueError:
            continue
        if crl.next_update_utc is not None:
            next_update = crl.next_update_utc if next_update is None else min(next_update, crl.next_update_utc)
    return not_after, next_update


def _certificates(data: bytes) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        return []


def register(app: typer.Typer) -> None:
    app.command("exporter")(exporter)
