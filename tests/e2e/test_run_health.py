"""`lienthong run --metrics-port`: /metrics, /healthz and /readyz of a real hub process on the
real broker; /readyz names each check and fails (503) while the broker is not consuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.ops_tools import free_port
from tests.support.services import delete_broker_objects, unique_prefix

pytestmark = pytest.mark.e2e

LIENTHONG = Path(sys.executable).parent / "lienthong"


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def test_run_serves_metrics_health_and_readiness(tmp_path: Path, amqp_url: str) -> None:
    prefix, port = unique_prefix("health"), free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    log = (tmp_path / "hub.log").open("wb")
    hub = subprocess.Popen([str(LIENTHONG), "--log-format", "json", "run", "--prefix", prefix, "--amqp-url",
                            amqp_url, "--metrics-port", str(port)], cwd=tmp_path, env=clean, stdout=log,
                           stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        status, body = 0, b""
        while time.monotonic() < deadline and hub.poll() is None:
            status, body = _get(f"{base}/readyz")
            if status == 200:
                break
            time.sleep(0.3)
        assert status == 200, (status, body, (tmp_path / "hub.log").read_text()[-2000:])
        assert json.loads(body) == {"ready": True, "checks": {"broker": True, "topology": True, "trust": True,
                                                              "ledger": True}}
        assert _get(f"{base}/healthz")[0] == 200
        status, metrics = _get(f"{base}/metrics")
        assert status == 200 and b'lienthong_consumer_ready{consumer="intake"} 1.0' in metrics
        assert _get(f"{base}/nothing")[0] == 404
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(60) == 0
    finally:
        if hub.poll() is None:
            hub.kill()
        log.close()
        delete_broker_objects(prefix)
