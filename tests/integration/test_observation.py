"""Instrumentation at the boundary, on the real `lienthong run` process and the real broker.

A few packages are routed (two accepted, one exact duplicate, one refused); the process logs
JSON on stderr and serves Prometheus metrics. Every package outcome is one canonical log line
carrying the message's context (stage, system, digest, attempt) — accepted packages included,
and the metrics say the same thing the log does.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.amqp import Submitter
from tests.support.packages import make_edoc
from tests.support.procs import HubProcess, hub_environment
from tests.support.services import unique_prefix
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

SENDER = "000.00.00.H41"
DEPARTMENT, COMMUNE = "000.00.13.H41", "000.31.25.H41"  # tinh-nghean, huyen-thanhchuong


def json_lines(proc: HubProcess) -> list[dict[str, Any]]:
    out = []
    for line in proc.log.read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))  # one object per line: a `}{` line fails here
    return out


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode("utf-8")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
        if s.name.startswith("lienthong_")
    }


def test_one_canonical_event_per_package_and_metrics_from_the_outcomes(
    amqp_url: str, tmp_path: Path, free_tcp_port: int
) -> None:
    to_department = make_edoc(SENDER, [DEPARTMENT], 1, notation="OBS")
    to_commune = make_edoc(SENDER, [COMMUNE], 2, notation="OBS")
    refused = b"<html><body>not a package</body></html>"
    with hub_environment(amqp_url, unique_prefix("obs"), tmp_path) as env:
        hub = env.spawn(journal=False, args=("--metrics-port", str(free_tcp_port)))
        hub.wait_ready()
        with Submitter(env.user_url("tinh-nghean"), env.names.intake_exchange) as s:
            replies = [s.submit(b).result for b in (to_department, to_commune, to_department, refused)]
        assert [r["outcome"] for r in replies if r] == ["accepted", "accepted", "duplicate", "rejected"], replies
        # two edoc copies, and the hub's refusal (a status 02) to the sender's system
        wait_for(lambda: sum(len(f) for f in env.delivered_files().values()) == 3, 60, what="every copy delivered")
        wait_for(lambda: hub.log_events("delivery.delivered") == 3, 60, what="every delivery logged")
        metrics = scrape(free_tcp_port)
        assert hub.terminate() == 0, hub.tail()

    events = json_lines(hub)
    outcomes = [e for e in events if e.get("event", "").startswith(("package.", "delivery."))]
    per_package = Counter((e["event"], e["digest"]) for e in outcomes)
    d1, d2 = (hashlib.sha256(b).hexdigest()[:16] for b in (to_department, to_commune))
    d3 = hashlib.sha256(refused).hexdigest()[:16]
    notice = next(e["digest"] for e in outcomes if e["event"] == "delivery.delivered" and e["kind"] == "status")
    assert per_package == {
        ("package.routed", d1): 1, ("package.routed", d2): 1, ("package.duplicate", d1): 1,
        ("package.refused", d3): 1, ("delivery.delivered", d1): 1, ("delivery.delivered", d2): 1,
        ("delivery.delivered", notice): 1,
    }, per_package
    for e in outcomes:  # the bound context and the outcome, on every canonical line
        assert {"stage", "digest", "attempt", "outcome", "queue", "duration_s", "timestamp"} <= set(e), e
    routed = {e["digest"]: e for e in outcomes if e["event"] == "package.routed"}
    assert routed[d1]["system"] == "tinh-nghean" and routed[d1]["recipients"] == [DEPARTMENT]
    assert routed[d1]["stage"] == "intake" and routed[d1]["user_id"] == env.directory.systems["tinh-nghean"].broker_user
    delivered = {e["digest"]: e for e in outcomes if e["event"] == "delivery.delivered"}
    assert delivered[d2]["system"] == "huyen-thanhchuong" and delivered[d2]["attempt"] == 1
    assert delivered[d2]["stage"] == "deliver" and delivered[d2]["outcome"] == "delivered"
    refusal = next(e for e in outcomes if e["event"] == "package.refused")
    assert refusal["code"] == "NOT_EDXML" and refusal["system"] == "tinh-nghean"

    def value(name: str, **labels: str) -> float:
        return metrics.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("lienthong_packages_total", kind="edoc", outcome="accepted") == 2
    assert value("lienthong_packages_total", kind="edoc", outcome="duplicate") == 1
    assert value("lienthong_packages_total", kind="unknown", outcome="rejected") == 1
    assert value("lienthong_rejections_total", code="NOT_EDXML") == 1
    assert value("lienthong_deliveries_total", system="tinh-nghean", result="delivered") == 2  # copy + notice
    assert value("lienthong_deliveries_total", system="huyen-thanhchuong", result="delivered") == 1
    assert value("lienthong_stage_duration_seconds_count", stage="intake") == 4
    assert value("lienthong_stage_duration_seconds_count", stage="deliver") == 3
