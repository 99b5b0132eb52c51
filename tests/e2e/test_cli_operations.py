"""The operator's commands as processes, against the real broker: `lienthong run` (stopped by
SIGTERM), `send` (prints the intake result), `parked list` / `parked replay`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.packages import document_id, make_edoc
from tests.support.procs import LIENTHONG, PASSWORD, HubEnv, hub_environment
from tests.support.services import unique_prefix

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(amqp_url: str, tmp_path: Path) -> Iterator[HubEnv]:
    with hub_environment(amqp_url, unique_prefix("cli"), tmp_path) as e:
        yield e


def _cli(env: HubEnv, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LIENTHONG), *args], capture_output=True, text=True, env=env.env(),
                          cwd=env.root, timeout=timeout, check=False)


def _wait(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_run_send_park_replay_and_sigterm(env: HubEnv) -> None:
    # a Thanh Chương commune (district DMS) writes to a provincial department (province DMS)
    body = make_edoc("000.31.25.H41", ["000.00.13.H41"], 77, notation="UBND")
    package = env.root / "cong-van-77.edxml"
    package.write_bytes(body)
    blocker = env.inbox("tinh-nghean").directory
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder: the DMS inbox is broken")  # every delivery to it fails
    hub = env.spawn("all", journal=False)
    try:
        sent = _cli(env, "send", str(package), "--system", "huyen-thanhchuong", "--password", PASSWORD)
        assert sent.returncode == 0, sent.stderr
        result = json.loads(sent.stdout)
        assert result["outcome"] == "accepted"
        assert result["routed"] == {"tinh-nghean": ["000.00.13.H41"]}

        def parked() -> list[dict[str, object]]:
            out = _cli(env, "parked", "list", "--format", "json")
            assert out.returncode == 0, out.stderr[-3000:]
            return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

        _wait(lambda: len(parked()) == 1, timeout=60)
        item = parked()[0]
        assert item["system"] == "tinh-nghean" and item["code"] == "DELIVERY_FAILED", item
        dry = _cli(env, "parked", "replay", "--dry-run")
        assert "1" in dry.stdout and len(parked()) == 1  # a dry run changes nothing

        blocker.unlink()  # the DMS is fixed
        replay = _cli(env, "parked", "replay", "--system", "tinh-nghean")
        assert replay.returncode == 0 and "1" in replay.stdout
        _wait(lambda: len(env.inbox("tinh-nghean").delivered()) == 1)
        assert env.inbox("tinh-nghean").delivered()[0].read_bytes() == body
        assert parked() == []
        # the sender heard of the failure: the hub's hold notice (05) [DELIVERY_FAILED] in the district's inbox
        statuses = [f.read_text(encoding="utf-8") for f in env.inbox("huyen-thanhchuong").delivered()]
        assert any("[DELIVERY_FAILED]" in text for text in statuses)

        traced = _cli(env, "trace", document_id("000.31.25.H41", 77, "UBND"), "--ledger", env.ledger_url)
        assert traced.returncode == 0
        assert "parked" in traced.stdout and "delivered" in traced.stdout
    finally:
        hub.popen.send_signal(signal.SIGTERM)
        rc = hub.popen.wait(timeout=30)
    assert rc == 0, hub.log.read_text(errors="replace")[-2000:]
