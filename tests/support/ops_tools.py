"""The ops binaries some tests drive for real (promtool, prometheus, chromium): found on PATH,
installed by scripts/ops-tools.sh (apt-get) when missing, a clean skip only when that fails."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from tests.support.services import ROOT


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")
    if found is None:
        subprocess.run(["bash", str(ROOT / "scripts" / "ops-tools.sh")], check=False, timeout=900)
        found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")
    if found is None:
        pytest.skip(f"{name} could not be installed (scripts/ops-tools.sh: apt-get install chromium prometheus)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def defined_metric_names() -> set[str]:
    """Every lienthong_* name the code defines: string literals in ops/, router/, adapters/, and
    the compliance gauges (named by f-string), histograms with their _bucket/_sum/_count."""
    import re

    from prometheus_client import CollectorRegistry

    from ops.compliance.gauges import ComplianceGauges

    source = "\n".join(p.read_text(encoding="utf-8") for d in ("ops", "router", "adapters")
                       for p in (ROOT / d).rglob("*.py"))
    names = set(re.findall(r'"(lienthong_[a-z_]+)"', source))
    registry = CollectorRegistry()
    ComplianceGauges(registry)
    names |= {family.name for family in registry.collect()} | {"lienthong_ready"}
    return names | {f"{n}_{suffix}" for n in names for suffix in ("bucket", "sum", "count")}
