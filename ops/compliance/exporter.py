"""The compliance exporter's HTTP side: `/metrics` of its own registry, `/healthz` (the refresh
loop is alive) and `/readyz` (the last refresh could read the ledger).

The figures are a read of the whole reporting period, far too heavy for every scrape, so a loop
recomputes them every `interval_s` and a scrape only reads the gauges.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from prometheus_client import CollectorRegistry, Gauge

from ops.health import HealthServer

log = structlog.get_logger()


class Exporter:
    """Runs `refresh` now and every `interval_s`, and serves the registry on `addr:port`
    (port 0: any free port, see `.port`) through the same HealthServer as the hub's roles: the
    refresh loop is its heartbeat (stalled after three intervals and a minute) and `ledger` its
    one readiness check. A refresh that raises is logged by its class only (never the exception
    text, which may carry a URL) and makes `/readyz` answer 503."""

    def __init__(self, registry: CollectorRegistry, refresh: Callable[[], None], *, interval_s: float = 300,
                 addr: str = "127.0.0.1", port: int = 9464) -> None:
        self.registry, self._refresh, self.interval_s = registry, refresh, interval_s
        self.ready = Gauge("lienthong_ready", "1 when the process can do its job (here: the ledger was read).",
                           registry=registry)
        self._ok = False
        self._stop = threading.Event()
        self._health = HealthServer(port, addr, registry=registry, stall_s=3 * interval_s + 60)
        self._health.set_checks({"ledger": lambda: self._ok})
        self.port = self._health.port

    def refresh_once(self) -> None:
        self._health.beat()
        try:
            self._refresh()
        except Exception as exc:  # noqa: BLE001  # a failed read must not kill the loop: /readyz tells
            self._ok = False
            log.warning("exporter.refresh_failed", error=type(exc).__name__)
        else:
            self._ok = True
        self.ready.set(1 if self._ok else 0)

    def serve_forever(self) -> None:
        """The refresh loop, in the foreground (HealthServer answers on its own thread)."""
        log.info("exporter.serving", port=self.port, interval_s=self.interval_s)
        try:
            while not self._stop.is_set():
                self.refresh_once()
                self._stop.wait(self.interval_s)
        finally:
            self._health.close()

    def stop(self) -> None:
        self._stop.set()
