"""`/metrics`, `/healthz` and `/readyz` of a hub process, on one loopback (or container) port.

* `/healthz` — the process's main loop is alive (it calls `beat()`; silent for `stall_s` → 503):
  restart me if this fails.
* `/readyz` — every readiness check passes (broker connected and consumers active, topology
  declared, trust loaded, ledger writable): send me work. The answer is JSON naming each check,
  so an operator sees which one fails; 503 until the process has registered its checks.
* `/metrics` — the process's Prometheus registry (ops/metrics.py).

Checks are plain callables returning True/False; one that raises counts as failing (its
exception class is logged, never its text).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = structlog.get_logger()

Check = Callable[[], bool]


class HealthServer:
    def __init__(self, port: int, addr: str = "127.0.0.1", *, registry: CollectorRegistry = REGISTRY,
                 stall_s: float = 30.0) -> None:
        self.registry, self.stall_s = registry, stall_s
        self._checks: dict[str, Check] = {}
        self._last_beat = time.monotonic()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/metrics"):
                    self._send(200, generate_latest(server.registry), CONTENT_TYPE_LATEST)
                elif self.path == "/healthz":
                    alive = server.alive()
                    self._send(200 if alive else 503, b"ok\n" if alive else b"main loop stalled\n")
                elif self.path == "/readyz":
                    ready, results = server.readiness()
                    body = json.dumps({"ready": ready, "checks": results}).encode() + b"\n"
                    self._send(200 if ready else 503, body, "application/json")
                else:
                    self._send(404, b"not found\n")

            def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((addr, port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, name="health", daemon=True).start()

    def set_checks(self, checks: Mapping[str, Check]) -> None:
        self._checks = dict(checks)

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self._last_beat < self.stall_s

    def readiness(self) -> tuple[bool, dict[str, bool]]:
        return evaluate(self._checks)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def evaluate(checks: Mapping[str, Check]) -> tuple[bool, dict[str, bool]]:
    """Run every check: (all passed and there was at least one, each check's result)."""
    results: dict[str, bool] = {}
    for name, check in checks.items():
        try:
            results[name] = bool(check())
        except Exception as exc:  # noqa: BLE001  # a failing probe is a "not ready", not a crash
            log.warning("readiness check failed", check=name, error=type(exc).__name__)
            results[name] = False
    return bool(results) and all(results.values()), results


class Cached:
    """A check run at most every `ttl_s` (a ledger write probe takes the append lock)."""

    def __init__(self, check: Check, ttl_s: float = 15.0) -> None:
        self.check, self.ttl_s = check, ttl_s
        self._at, self._value = -1e9, False

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._at >= self.ttl_s:
            self._value, self._at = bool(self.check()), now
        return self._value
