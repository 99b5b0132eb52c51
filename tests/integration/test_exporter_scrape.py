"""`lienthong exporter` on a real ledger: a fresh registry obeys the naming and cardinality
rules, and Debian's real prometheus, loaded with the shipped rules, scrapes it and fires the
late-share alert for a unit whose document passed its deadline without a 06."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from prometheus_client import CollectorRegistry

from ops.compliance.calendar import load_calendar
from ops.compliance.gauges import BASES, GROUPS, ComplianceGauges
from ops.compliance.rules import load_rules
from router.cli.exporter import current_reporting_period, refresh_gauges
from router.directory.model import load_directory
from router.ledger import Ledger
from router.settings import Settings
from schemas.policy import VIETNAM
from tests.support.compliance_ledger import PROVINCE, A, B, Builder, build
from tests.support.ops_tools import free_port, tool
from tests.support.services import ROOT
from tests.unit.test_grafana_dashboard import dashboard_queries

pytestmark = pytest.mark.integration

LIENTHONG = str(Path(sys.executable).parent / "lienthong")
RULES = ROOT / "ops" / "prometheus" / "lienthong.rules.yml"


def _late_ledger(path: Path) -> str:
    """The April 2025 cases, plus, in the current reporting period, five documents to A whose
    DueDate is the day before the period (so they are past due whatever today is) and no 06 —
    five, the fewest the alert judges a unit on."""
    url = f"sqlite:///{path}"
    period = current_reporting_period(datetime.now(VIETNAM))
    b = Builder()
    arrival = (period.start_utc + timedelta(minutes=1)).astimezone(VIETNAM).replace(tzinfo=None).isoformat()
    for n in range(900, 905):
        doc = b.document(n, PROVINCE, (A,), arrival, due=period.first - timedelta(days=1))
        b.delivered(doc, A, arrival)
    on_time = b.document(905, PROVINCE, (B,), arrival, due=period.last + timedelta(days=30))
    b.delivered(on_time, B, arrival)
    b.status(on_time, B, "06", arrival)  # B answered before its deadline: only A is late
    with Ledger.open(url) as ledger:
        build(ledger)
        ledger.append(b.events)
    return url


def test_fresh_registry_names_and_labels(tmp_path: Path) -> None:
    d = load_directory(Settings().directory)
    registry = CollectorRegistry()
    gauges = ComplianceGauges(registry)
    with Ledger.open(_late_ledger(tmp_path / "l.db")) as ledger:
        refresh_gauges(gauges, ledger, d, load_calendar(), load_rules(), datetime.now(VIETNAM))
    organs_1_2 = {o.code for o in d.organs if o.level in (1, 2)}
    allowed = {"group": set(GROUPS), "system": set(d.systems), "kind": {"root", "intermediate"},
               "verdict": {"SIGNED", "PARTIALLY_SIGNED", "UNSIGNED", "INVALID", "UNVERIFIED"},
               "figure": set(BASES)}
    keys = {"total": {"all"}, "level": {"1", "2", "3", "4"}, "system": set(d.systems), "unit": organs_1_2}
    samples = 0
    for family in registry.collect():
        assert family.name.startswith("lienthong_"), family.name
        assert family.type == "gauge" and not family.name.endswith("_total"), family.name
        assert not any(u in family.name for u in ("_ms", "_minutes", "_hours", "_percent", "_kb")), family.name
        for sample in family.samples:
            samples += 1
            for label, value in sample.labels.items():
                if label == "key":
                    assert value in keys[sample.labels["group"]], sample
                else:
                    assert value in allowed[label], sample
    assert samples > 10
    late = {s.labels["key"]: s.value for f in registry.collect() if f.name == "lienthong_compliance_late_ratio"
            for s in f.samples if s.labels["group"] == "unit"}
    assert late == {A: 1.0, B: 0.0}


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # loopback test URL
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def _wait(what: str, check: object, timeout: float = 90) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()  # type: ignore[operator]
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_real_prometheus_fires_the_late_share_alert(tmp_path: Path) -> None:
    prometheus = tool("prometheus")
    url = _late_ledger(tmp_path / "ledger.db")
    exporter_port, prom_port = free_port(), free_port()
    exporter = subprocess.Popen(
        [LIENTHONG, "--log-format", "json", "exporter", "--port", str(exporter_port), "--interval", "2",
         "--ledger", url], stdout=subprocess.DEVNULL, stderr=(tmp_path / "exporter.log").open("wb"))
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "lienthong-compliance",
                            "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]}],
    }), encoding="utf-8")
    prom = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"))
    try:
        _wait("the exporter to be ready", lambda: _get(f"http://127.0.0.1:{exporter_port}/readyz")[0] == 200)
        assert _get(f"http://127.0.0.1:{exporter_port}/healthz")[0] == 200

        def firing() -> list[dict[str, object]]:
            status, body = _get(f"http://127.0.0.1:{prom_port}/api/v1/alerts")
            if status != 200:
                return []
            alerts = json.loads(body)["data"]["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "LienthongLateShareHigh"
                    and a["state"] == "firing"]

        alerts = _wait("LienthongLateShareHigh to fire", firing)
        for query in dashboard_queries():  # the real Prometheus parses every dashboard query
            status, body = _get(f"http://127.0.0.1:{prom_port}/api/v1/query?" + urlencode({"query": query}))
            assert status == 200, (query, body)
        assert [a["labels"]["key"] for a in alerts] == [A]  # type: ignore[index, union-attr]
        assert "Đơn vị 000.00.25.H41: tỷ lệ văn bản trễ hạn 100%" in alerts[0]["annotations"]["summary"]  # type: ignore[index]
    finally:
        for proc in (prom, exporter):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
