"""The shipped alert rules: valid for the real promtool, each alert unit-tested by promtool
(ops/prometheus/lienthong.rules.test.yml), and every metric they name exists in the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.ops_tools import defined_metric_names, tool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "lienthong.rules.yml"
pytestmark = pytest.mark.unit

def test_promtool_checks_the_rules() -> None:
    proc = subprocess.run([tool("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 14 rules found" in proc.stdout


def test_promtool_unit_tests_every_alert() -> None:
    tests = RULES.with_name("lienthong.rules.test.yml")
    proc = subprocess.run([tool("promtool"), "test", "rules", tests.name], capture_output=True, text=True,
                          timeout=120, check=False, cwd=RULES.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for r in g["rules"]}
    tested = set(re.findall(r"alertname: (\w+)", tests.read_text(encoding="utf-8")))
    assert alerts == tested, f"alerts without a promtool test: {alerts - tested}"


def test_every_metric_the_rules_name_is_defined() -> None:
    names = set(re.findall(r"\b(lienthong_[a-z_]+)", RULES.read_text(encoding="utf-8")))
    missing = names - defined_metric_names()
    assert not missing, f"the rules name metrics no code defines: {sorted(missing)}"
