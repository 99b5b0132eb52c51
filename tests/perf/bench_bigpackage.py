"""Large packages through the claim check: the hub's peak RSS with a 50 MB / 200 MB package in flight.

Run: .venv/bin/python -m tests.perf.bench_bigpackage [--sizes 50,200] [--broker own|shared]

The hub is `lienthong run --role all`, a process of its own, exactly as in production: the
district's DMS drops the package file into its drop folder (`adapter: folder`), the hub's poller
streams it into the payload store and submits the reference, intake validates it from the store
as a stream, and the delivery workers write it into the province's and the national-axis
gateway's inboxes from the store (two recipient systems). Measured on the hub process: its
resident set sampled every 50 ms with psutil, and the kernel's peak (VmHWM) before the package
(idle, consumers ready) and after both copies arrived; the seconds from the drop to the last
copy; both copies checked byte for byte against the file dropped (SHA-256, streamed).

`--broker own` (default) runs a RabbitMQ node of the run's own (tests/support/cluster.py) with
`max_message_size = 16777216`, RabbitMQ 4.x's default, and first shows that node refusing a
17 MiB message published directly; `shared` uses 127.0.0.1:5672 under a unique prefix (3.10 here:
128 MiB). The machine's load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pika
import psutil
import yaml
from pika.exceptions import AMQPError

from ops.logging import configure_logging
from ops.provision import gateway_grant
from tests.support.bigpackage import MiB, file_digest, write_big_package
from tests.support.cluster import available, own_nodes
from tests.support.procs import LIENTHONG, HubProcess, write_test_directory
from tests.support.services import AMQP_URL, ROOT, delete_broker_objects, unique_prefix

A, B, G = "huyen-thanhchuong", "tinh-nghean", "truc-quoc-gia"
DISTRICT, PROVINCE, GOVERNMENT_OFFICE = "000.00.25.H41", "000.00.00.H41", "000.00.00.G22"
MAX_MESSAGE_SIZE = 16 * MiB  # RabbitMQ 4.x's default max_message_size
GATEWAY_PASSWORD = "lienthong-bench-gw"


@dataclass(frozen=True, slots=True)
class Run:
    size_bytes: int
    idle_peak_mb: float
    peak_mb: float
    sampled_peak_mb: float
    seconds: float
    identical: bool

    def row(self) -> str:
        return (f"{self.size_bytes / 1e6:8.1f} MB  idle VmHWM {self.idle_peak_mb:6.1f} MB  peak VmHWM "
                f"{self.peak_mb:6.1f} MB  sampled max RSS {self.sampled_peak_mb:6.1f} MB  drop→2 copies "
                f"{self.seconds:6.1f} s  byte-identical {'yes' if self.identical else 'NO'}")


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sampler:
    """The resident set of one process every `interval_s`, its maximum kept."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self.proc = psutil.Process(pid)
        self.interval_s = interval_s
        self.max_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            with suppress(psutil.Error):
                self.max_mb = max(self.max_mb, self.proc.memory_info().rss / MiB)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(5)
        return self.max_mb


@dataclass
class Bench:
    root: Path
    amqp_url: str
    gateway_url: str
    prefix: str
    env: dict[str, str]
    out: Path

    def inbox(self, system: str) -> Path:
        return self.root / "deliver" / "var" / "deliver" / system

    def spawn(self) -> HubProcess:
        log = self.root / "hub.log"
        with log.open("wb") as fh:
            popen = subprocess.Popen([str(LIENTHONG), "--log-format", "json", "run", "--role", "all"],
                                     cwd=self.root, env=self.env, stdout=fh, stderr=subprocess.STDOUT)
        return HubProcess(popen, log, consumers=2)

    def route(self, hub: HubProcess, size_bytes: int, number: int) -> Run:
        """Drop one package of about `size_bytes` and wait for both copies."""
        staging = self.root / f"staging-{number}.edxml"
        payload = max((size_bytes - 6000) * 3 // 4, 1)
        digest, size = write_big_package(staging, payload, sender=DISTRICT, recipients=(PROVINCE, GOVERNMENT_OFFICE),
                                         number=number, seed=number)
        idle = vm_hwm_mb(hub.popen.pid)
        sampler = Sampler(hub.popen.pid)
        started = time.monotonic()
        os.rename(staging, self.out / f"cong-van-{number}.edxml")
        targets = [self.inbox(s) / f"edoc-{digest[:32]}-{s}.edxml" for s in (B, G)]
        deadline = started + 900
        while not all(t.exists() for t in targets):
            if not hub.alive or time.monotonic() > deadline:
                sampler.stop()
                raise RuntimeError(f"the package did not arrive: {hub.tail()}")
            time.sleep(0.05)
        seconds = time.monotonic() - started
        peak = vm_hwm_mb(hub.popen.pid)
        sampled = sampler.stop()
        identical = all(file_digest(t) == digest and t.stat().st_size == size for t in targets)
        for t in targets:  # disk: a 200 MB package is on it five times (store, sent/, 2 inboxes, spool)
            t.unlink()
        return Run(size, idle, peak, sampled, seconds, identical)


def broker_refuses(url: str, size: int) -> str:
    """Publish `size` bytes straight to a queue of the broker: what it answers."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        q = ch.queue_declare("", exclusive=True).method.queue
        try:
            ch.basic_publish("", q, b"\0" * size)
        except AMQPError as exc:
            return f"refused: {exc}"
        return "accepted"
    finally:
        with suppress(AMQPError):
            conn.close()


@contextmanager
def bench_environment(root: Path, broker: str) -> Iterator[Bench]:
    prefix = unique_prefix("big")
    with _broker(root, broker) as (amqp_url, add_gateway, remove_gateway):
        gateway = f"{prefix}-gw-folders"
        add_gateway(gateway, prefix)
        gateway_url = f"amqp://{gateway}:{GATEWAY_PASSWORD}@{amqp_url.split('@', 1)[1]}"
        directory_file = root / "directory.yaml"
        write_test_directory(prefix, directory_file)
        data = yaml.safe_load(directory_file.read_text(encoding="utf-8"))
        for system in data["systems"]:
            if system["id"] == A:  # the district hands its packages over in a drop folder
                system["delivery"] = {"adapter": "folder", "options": {"root": str(root / "folders" / A),
                                                                       "settle_s": 0, "poll_s": 0.2}}
        directory_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
        env.update({
            "PYTHONPATH": str(ROOT),
            "LIENTHONG_AMQP_URL": amqp_url, "LIENTHONG_PREFIX": prefix,
            "LIENTHONG_QUORUM_INITIAL_GROUP_SIZE": "0",
            "LIENTHONG_DIRECTORY": str(directory_file), "LIENTHONG_LEDGER_URL": f"sqlite:///{root / 'ledger.sqlite3'}",
            "LIENTHONG_DELIVER_ROOT": str(root / "deliver"), "LIENTHONG_PAYLOAD_DIR": str(root / "payloads"),
            "LIENTHONG_FOLDERS_AMQP_URL": gateway_url, "LIENTHONG_GATEWAY_USERS": gateway,
            "LIENTHONG_GRACE_S": "10",
        })
        try:
            yield Bench(root, amqp_url, gateway_url, prefix, env, root / "folders" / A / "out")
        finally:
            remove_gateway(gateway)
            if broker == "shared":
                delete_broker_objects(prefix)


@contextmanager
def _broker(root: Path, broker: str) -> Iterator[tuple[str, Callable[[str, str], object], Callable[[str], object]]]:
    if broker == "own":
        with own_nodes(root, 1, label="lt-big", config=f"max_message_size = {MAX_MESSAGE_SIZE}\n") as cluster:
            node = cluster.nodes[0]

            def add(user: str, prefix: str) -> None:
                grant = gateway_grant(user, prefix)
                node.add_user(user, GATEWAY_PASSWORD, grant.configure, grant.write, grant.read)

            yield node.url, add, lambda user: None
        return
    from ops.provision import ensure_user, revoke_user

    yield (AMQP_URL, lambda user, prefix: ensure_user(gateway_grant(user, prefix), GATEWAY_PASSWORD),
           revoke_user)


def measure(sizes_mb: list[float], broker: str, keep: Path | None = None) -> list[Run]:
    with tempfile.TemporaryDirectory(prefix="lt-big-", dir=keep) as tmp:
        root = Path(tmp)
        with bench_environment(root, broker) as bench:
            if broker == "own":
                print(f"own node, max_message_size {MAX_MESSAGE_SIZE} B; a 17 MiB publish: "
                      f"{broker_refuses(bench.amqp_url, 17 * MiB)}", flush=True)
            hub = bench.spawn()
            try:
                hub.wait_ready(120)
                return [bench.route(hub, int(mb * 1e6), 900 + i) for i, mb in enumerate(sizes_mb)]
            finally:
                hub.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="50,200", help="package sizes in MB (10^6 bytes), comma-separated")
    parser.add_argument("--broker", choices=("own", "shared"), default="own" if available() else "shared")
    args = parser.parse_args()
    configure_logging("console", "WARNING")
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    load = os.getloadavg()
    runs = measure(sizes, args.broker)
    print(f"broker {args.broker}; hub = `lienthong run --role all` (drop folder → store → 2 recipient systems)")
    for r in runs:
        print(r.row())
    after = os.getloadavg()
    print(f"load average before {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, after {after[0]:.1f} {after[1]:.1f} "
          f"{after[2]:.1f}; {os.cpu_count()} cores")
    if not all(r.identical for r in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
