"""ops/health.py on a real loopback port: /readyz names the failing check, /healthz notices a
stalled main loop, a check that raises is a "not ready", not a crash."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Gauge

from ops.health import Cached, HealthServer

pytestmark = pytest.mark.unit


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_readiness_liveness_and_metrics() -> None:
    registry = CollectorRegistry()
    Gauge("lienthong_test_gauge", "a gauge", registry=registry).set(3)
    server = HealthServer(0, registry=registry, stall_s=0.5)
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert _get(f"{base}/readyz")[0] == 503  # no checks registered yet: still starting
        broker = {"up": False}

        def broken() -> bool:
            raise RuntimeError("secret text")

        server.set_checks({"broker": lambda: broker["up"], "ledger": lambda: True})
        status, body = _get(f"{base}/readyz")
        assert status == 503 and json.loads(body)["checks"] == {"broker": False, "ledger": True}
        broker["up"] = True
        assert _get(f"{base}/readyz") == (200, b'{"ready": true, "checks": {"broker": true, "ledger": true}}\n')
        server.set_checks({"ledger": broken})
        assert _get(f"{base}/readyz")[0] == 503
        server.beat()
        assert _get(f"{base}/healthz")[0] == 200
        time.sleep(0.6)
        assert _get(f"{base}/healthz")[0] == 503
        assert b"lienthong_test_gauge 3.0" in _get(f"{base}/metrics")[1]
    finally:
        server.close()


def test_cached_check_runs_at_most_once_per_ttl() -> None:
    calls: list[int] = []
    check = Cached(lambda: calls.append(1) is None, ttl_s=60)
    assert check() and check() and len(calls) == 1
