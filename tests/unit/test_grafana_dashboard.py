"""The Grafana dashboard and its provisioning: valid JSON, the panels the issue asks for, and
only metrics the code defines (the real scrape test also runs every query on Prometheus)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support.ops_tools import defined_metric_names

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "ops" / "grafana" / "lienthong.json"
pytestmark = pytest.mark.unit


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in board["panels"] for t in p["targets"]]


def test_dashboard_panels_cover_the_hub_and_the_compliance_figures() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert board["uid"] == "lienthong-hub" and board["timezone"] == "Asia/Ho_Chi_Minh"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    text = "\n".join(dashboard_queries())
    for needed in ('lienthong_compliance_received_documents{group="level"}',  # traffic by level
                   "sum by (system) (rate(lienthong_deliveries_total",  # by system
                   "lienthong_stage_duration_seconds_bucket",  # latency
                   'result="retrying"', "lienthong_parked_deliveries",  # retries and parked
                   "lienthong_compliance_sent_documents",  # signature verdicts
                   'lienthong_compliance_late_ratio{group="unit"}', 'lienthong_compliance_unsigned_ratio{group="unit"}'):
        assert needed in text, needed
    assert "10991" in board["description"] and "11340" in board["description"]


def test_dashboard_names_only_defined_metrics() -> None:
    names = set(re.findall(r"\b(lienthong_[a-z_]+)", "\n".join(dashboard_queries())))
    assert not names - defined_metric_names()


def test_provisioning_points_at_the_dashboard_folder_and_prometheus() -> None:
    prov = ROOT / "ops" / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    dash = yaml.safe_load((prov / "dashboards" / "lienthong.yml").read_text(encoding="utf-8"))
    assert dash["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
