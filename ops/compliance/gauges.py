"""The compliance figures, the oldest undelivered package and the trust material's dates as
Prometheus gauges, on a registry of their own (the exporter's; a test's fresh one).

Cardinality is bounded by construction: `group` is one of total/level/system/unit, `key` is "all",
a level 1–4, a system id of the directory, or an organ code of the configured levels only
(default 1–2: a province's departments and districts, never a nation's 100k organs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge

from ops.compliance.figures import Report, Tally

FIGURES = {
    "late": ("late_share", "Share of documents with a deadline whose 06 came after it or is missing past it,"),
    "unsigned": ("unsigned_share", "Share of sent documents without a SIGNED verdict,"),
    "same_day": ("same_day_share", "Share of delivered documents with 01/03 on the working day of arrival,"),
    "on_time": ("on_time_share", "Share of documents sent on the signing day or the next working day,"),
}
#: the denominator of each share, so an alert can ask for enough documents before it judges a
#: unit (one late document of one is 100 %)
BASES = {"late": "with_deadline", "unsigned": "sent", "same_day": "received", "on_time": "signing_day_known"}
GROUPS = ("total", "level", "system", "unit")


class ComplianceGauges:
    """Set from a `Report` each refresh; a series whose figure has no denominator is removed,
    not left at a stale value."""

    def __init__(self, registry: CollectorRegistry, unit_levels: Iterable[int] = (1, 2)) -> None:
        self.unit_levels = frozenset(unit_levels)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(f"lienthong_{name}", doc, labels, registry=registry)

        period = "over the current reporting period"
        self.ratios = {name: gauge(f"compliance_{name}_ratio", f"{doc} {period}.", "group", "key")
                       for name, (_, doc) in FIGURES.items()}
        self.bases = gauge("compliance_base_documents", f"Documents each share is taken of (its denominator), "
                           f"{period}.", "group", "key", "figure")
        self.same_day_missing = gauge("compliance_same_day_missing",
                                      "Delivered documents without a 01/03 on their working day of arrival, "
                                      f"that day over, {period}.",
                                      "group", "key")
        self.sent = gauge("compliance_sent_documents", f"Documents sent by signature verdict, {period} "
                          "(total, level and system only).", "group", "key", "verdict")
        self.received = gauge("compliance_received_documents", f"Documents delivered, {period} "
                              "(total, level and system only).", "group", "key")
        self.documents = gauge("compliance_documents", f"New documents the hub accepted, {period}.")
        self.period_start = gauge("compliance_period_start_timestamp_seconds", "Start of the reporting period.")
        self.refreshed = gauge("compliance_refresh_timestamp_seconds", "When the figures were last computed.")
        self.oldest_age = gauge("oldest_undelivered_age_seconds", "Age of the oldest package not yet delivered "
                                "(accepted, routed, retrying or parked), by recipient system.", "system")
        self.oldest_working_days = gauge(
            "oldest_undelivered_working_days", "Working days since the oldest undelivered package arrived "
            "(Decision 28: send the same day, next morning at the latest), by recipient system.", "system")
        self.parked = gauge("parked_deliveries", "Copies parked now (every retry tier failed, or refused), "
                            "by recipient system.", "system")
        self.parked_intake = gauge("parked_packages", "Packages parked at intake now, waiting for `parked replay`.")
        self.cert_not_after = gauge("trust_certificate_expiry_timestamp_seconds", "Earliest notAfter among the "
                                    "configured trust certificates, by kind (root, intermediate).", "kind")
        self.crl_next_update = gauge("trust_crl_next_update_timestamp_seconds",
                                     "Earliest nextUpdate among the configured CRLs.")

    def set_report(self, report: Report, systems: Iterable[str], now: datetime) -> None:
        series: dict[tuple[str, str], Tally] = {("total", "all"): report.total}
        series |= {("level", g.key): g.tally for g in report.levels}
        known = set(systems)
        series |= {("system", g.key): g.tally for g in report.systems if g.key in known}
        series |= {("unit", u.code): u.tally for u in report.units if u.level in self.unit_levels}
        for name, (attr, _) in FIGURES.items():
            gauge = self.ratios[name]
            gauge.clear()
            for (group, key), tally in series.items():
                value = getattr(tally, attr)
                if value is not None:
                    gauge.labels(group, key).set(value)
        self.bases.clear()
        for (group, key), tally in series.items():
            for figure, attr in BASES.items():
                self.bases.labels(group, key, figure).set(getattr(tally, attr))
        self.same_day_missing.clear()
        self.sent.clear()
        self.received.clear()
        for (group, key), tally in series.items():
            self.same_day_missing.labels(group, key).set(tally.same_day_missing)
            if group == "unit":
                continue
            self.received.labels(group, key).set(tally.received)
            for verdict, n in (("SIGNED", tally.signed), ("PARTIALLY_SIGNED", tally.partially_signed),
                               ("UNSIGNED", tally.unsigned), ("INVALID", tally.invalid),
                               ("UNVERIFIED", tally.unverified)):
                self.sent.labels(group, key, verdict).set(n)
        self.documents.set(report.documents)
        self.period_start.set(report.period.start_utc.timestamp())
        self.refreshed.set(now.timestamp())

    def set_undelivered(self, oldest: Mapping[str, datetime], working_days: Mapping[str, int],
                        systems: Iterable[str], now: datetime) -> None:
        """Every system of the directory gets a series (0 when nothing waits), so an alert sees it."""
        for system in systems:
            at = oldest.get(system)
            self.oldest_age.labels(system).set(0 if at is None else max(0.0, (now - at).total_seconds()))
            self.oldest_working_days.labels(system).set(working_days.get(system, 0))

    def set_parked(self, copies: Mapping[str | None, int], intake: int, systems: Iterable[str]) -> None:
        for system in systems:
            self.parked.labels(system).set(copies.get(system, 0))
        self.parked_intake.set(intake)

    def set_trust(self, not_after: Mapping[str, datetime], crl_next_update: datetime | None) -> None:
        self.cert_not_after.clear()
        for kind, at in not_after.items():
            self.cert_not_after.labels(kind).set(at.timestamp())
        if crl_next_update is not None:
            self.crl_next_update.set(crl_next_update.timestamp())

