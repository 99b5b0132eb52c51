"""`lienthong axis …` without what it needs says so in one line (exit 2), never a traceback, and
never prints the secret."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from router.hub import axis_config
from router.settings import Settings
from tests.support.procs import LIENTHONG

pytestmark = pytest.mark.unit

SECRET = "s3cret-axis-value-never-shown"


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    return subprocess.run([str(LIENTHONG), *args], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**clean, **env}, check=False)


def test_poll_and_reconcile_without_axis_settings_name_what_to_set(tmp_path: Path) -> None:
    for command in (["axis", "poll", "--once"], ["axis", "reconcile"]):
        done = _run(tmp_path, *command)
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert "LIENTHONG_AXIS_URL" in line and "Traceback" not in done.stderr


def test_poll_refuses_a_broker_account_that_is_not_the_gateways(tmp_path: Path) -> None:
    done = _run(tmp_path, "axis", "poll", "--once", LIENTHONG_AXIS_URL="http://127.0.0.1:9/XrdAdapter/adapter",
                LIENTHONG_AXIS_SYSTEM_ID="000.00.00.H41", LIENTHONG_AXIS_SECRET=SECRET,
                LIENTHONG_AXIS_AMQP_URL="amqp://lt-tinh-nghean:pw@127.0.0.1:5672/%2F")
    assert done.returncode == 2, done.stderr
    assert "'lt-tinh-nghean'" in done.stderr and "'lt-truc-quoc-gia'" in done.stderr and "GATEWAY_USERS" in done.stderr
    assert SECRET not in done.stderr + done.stdout


def test_the_secret_comes_from_a_file_and_never_shows_in_a_repr(tmp_path: Path) -> None:
    (tmp_path / "axis.secret").write_text(f"{SECRET}\n", encoding="utf-8")
    settings = Settings(axis_url="https://xrd.example/XrdAdapter/adapter", axis_system_id="000.00.00.H41",
                        axis_secret_file=tmp_path / "axis.secret")
    config = axis_config(settings)
    assert config is not None and config.link.secret == SECRET
    assert SECRET not in repr(config) and SECRET not in repr(settings)
    assert axis_config(Settings()) is None
