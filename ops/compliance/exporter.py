"""The compliance exporter's HTTP side: `/metrics` of its own registry, `/healthz` (the refresh
loop is alive) and `/readyz` (the last refresh could read the ledger).

The figures are a read of the whole reporting period, far too heavy for every scrape, so a loop
recomputes them every `interval_s` and a scrape only reads the gauges.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

log = structlog.get_logger()


class Exporter:
    """Runs `refresh` now and every `interval_s`, and serves the registry on `addr:port`
    (port 0: any free port, see `.port`). A refresh that raises is logged by its class only
    (never the exception text, which may carry a URL) and makes `/readyz` answer 503."""

    def __init__(self, registry: CollectorRegistry, refresh: Callable[[], None], *, interval_s: float = 300,
                 addr: str = "127.0.0.1", port: int = 9464) -> None:
        self.registry, self._refresh, self.interval_s = registry, refresh, interval_s
        self.ready = Gauge("lienthong_ready", "1 when the process can do its job (here: the ledger was read).",
                           registry=registry)
        self._last_tick = 0.0
        self._ok = False
        self._stop = threading.Event()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/metrics"):
                    self._send(200, generate_latest(exporter.registry), CONTENT_TYPE_LATEST)
                elif self.path == "/healthz":
                    alive = time.monotonic() - exporter._last_tick < 3 * exporter.interval_s + 60
                    self._send(200 if alive else 503, b"ok\n" if alive else b"refresh loop stalled\n")
                elif self.path == "/readyz":
                    self._send(200 if exporter._ok else 503, b"ok\n" if exporter._ok else b"ledger not read\n")
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

    def refresh_once(self) -> None:
        self._last_tick = time.monotonic()
        try:
            self._refresh()
        except Exception as exc:  # noqa: BLE001  # a failed read must not kill the loop: /readyz tells
            self._ok = False
            log.warning("exporter.refresh_failed", error=type(exc).__name__)
        else:
            self._ok = True
        self.ready.set(1 if self._ok else 0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.refresh_once()
            self._stop.wait(self.interval_s)

    def serve_forever(self) -> None:
        threading.Thread(target=self._loop, name="compliance-refresh", daemon=True).start()
        log.info("exporter.serving", port=self.port, interval_s=self.interval_s)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
