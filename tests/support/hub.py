"""A whole hub on the real broker for integration tests: isolated by a name prefix, with its
own broker users (one per system, as in production), a real ledger and real folder sinks."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import yaml

from adapters.amqp import SubmitResult, Submitter
from adapters.folder import FolderSink
from adapters.sink import Sink
from ops.provision import ensure_user, revoke_user, system_grant
from router.amqp.consumer import Consumer
from router.directory.model import Directory
from router.hub import Hub
from router.pipeline.clock import Clock, system_clock
from router.pipeline.signatures import SignatureCheck
from router.settings import PACKAGE_DATA, Settings
from router.topology.declare import apply_topology

PASSWORD = "lienthong-test-pw"


def test_directory(prefix: str) -> Directory:
    """The shipped Nghệ An directory with broker users renamed after the test prefix."""
    data = yaml.safe_load((PACKAGE_DATA / "nghe_an.yaml").read_text(encoding="utf-8"))
    for system in data["systems"]:
        system["broker_user"] = f"{prefix}-{system['id']}"
    return Directory.from_dict(data)


@dataclass
class RunningHub:
    hub: Hub
    amqp_url: str
    prefix: str
    sink_root: Path
    consumers: list[Consumer] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def user_url(self, system_id: str) -> str:
        user = self.hub.directory.systems[system_id].broker_user
        rest = self.amqp_url.split("@", 1)[1]
        return f"amqp://{user}:{PASSWORD}@{rest}"

    def submit(self, system_id: str, body: bytes, **kw: Any) -> SubmitResult:
        with Submitter(self.user_url(system_id), self.hub.topology.names.intake_exchange) as s:
            return s.submit(body, **kw)

    def inbox(self, system_id: str) -> list[Path]:
        sink = self.hub.sinks[system_id]
        inner = getattr(sink, "inner", sink)
        assert isinstance(inner, FolderSink)
        return inner.delivered()

    def start(self, *, intake: bool = True, deliver: bool = True) -> None:
        if intake:
            self.consumers.append(self.hub.intake_consumer())
        if deliver:
            self.consumers.append(self.hub.delivery_consumer())
        for c in self.consumers[-(int(intake) + int(deliver)):]:
            t = threading.Thread(target=c.run, name=f"hub-{c.name}", daemon=True)
            t.start()
            self.threads.append(t)
        for c in self.consumers:
            assert c.ready.wait(20), f"consumer {c.name} did not become ready"

    def stop(self) -> None:
        for c in self.consumers:
            c.stop()
        for t in self.threads:
            t.join(30)
        self.consumers.clear()
        self.threads.clear()

    def queue_depth(self, queue: str) -> int:
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
        finally:
            conn.close()


@contextmanager
def running_hub(
    amqp_url: str,
    prefix: str,
    tmp_path: Path,
    *,
    ledger_url: str | None = None,
    retry_delays_s: tuple[int, ...] = (1, 1, 1),
    delivery_limit: int = 3,
    sinks: Mapping[str, Sink] | None = None,
    signatures: SignatureCheck | None = None,
    start: bool = True,
    clock: Clock = system_clock,
    **settings: Any,
) -> Iterator[RunningHub]:
    directory = test_directory(prefix)
    sink_root = tmp_path / "deliver"
    real_sinks: dict[str, Sink] = {sid: FolderSink(sink_root / sid) for sid in directory.systems}
    real_sinks.update(sinks or {})
    s = Settings(
        amqp_url=amqp_url, prefix=prefix, ledger_url=ledger_url or f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
        retry_delays_s=retry_delays_s, delivery_limit=delivery_limit, prefetch=32, workers=3, grace_s=10,
        **settings,
    )
    hub = Hub.from_settings(s, directory=directory, sinks=real_sinks, signatures=signatures, clock=clock)
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        apply_topology(hub.topology, conn.channel())
    finally:
        conn.close()
    users = [sys.broker_user for sys in directory.systems.values()]
    for sid, system in directory.systems.items():
        ensure_user(system_grant(system.broker_user, prefix, sid), PASSWORD)
    running = RunningHub(hub, amqp_url, prefix, sink_root)
    try:
        if start:
            running.start()
        yield running
    finally:
        running.stop()
        hub.close()
        for u in users:
            revoke_user(u)
