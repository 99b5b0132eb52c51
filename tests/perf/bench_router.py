"""Routing throughput and end-to-end latency of the hub against the raw broker, in one run.

Run: .venv/bin/python -m tests.perf.bench_router [--packages N] [--window W] [--profile DIR]
     .venv/bin/python -m tests.perf.bench_router --ledger postgresql --processes 2
     .venv/bin/python -m tests.perf.bench_router --matrix   # every shape below, SQLite and PostgreSQL

Each hub shape is measured twice: a flood (all N published at once) gives its maximum rate, then
a paced run at half that rate gives its latency; the raw broker is paced at the same rate in the
same run. Shapes: one process (`--role all`), two (`--split`: intake | deliver, the most a SQLite
ledger takes) and `--processes N` (N intake + N deliver workers under the supervisor; PostgreSQL).

Raw: the best pika does here — N persistent messages of exactly the packages' size published to
a quorum queue with asynchronous confirms (a window of W unconfirmed publishes on a
SelectConnection) while a consumer with prefetch 100 acks them. Rate = N / (last receipt −
first publish); latency = receipt − publish.

Hub: the same N packages (unsigned, one recipient each) published the same way to the intake
exchange with `user_id`, routed by `lienthong run --role all` in its own process (journaled
folder sinks: the real delivery path, fsync and rename included), measured until the last file
is written. Latency = the sink's write − publish.

Both use tests/support/flood.py, so the two figures differ only in what is behind the exchange.
The machine's load average is printed with the figures: on a shared 2-core machine they move.
`--profile DIR` samples every thread of the hub process (tests/support/procs.py; py-spy cannot
attach to this interpreter build) into DIR/hub.stacks, collapsed stacks for flame graphs; and
`python -m tests.perf.bench_router --top DIR/hub.stacks` summarises them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import psutil
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.spec import Basic, BasicProperties

from router.topology.names import Names
from tests.support.flood import Flood
from tests.support.packages import make_edoc
from tests.support.procs import PROFILE_ENV, HubEnv, HubProcess, hub_environment, read_journal
from tests.support.services import AMQP_URL, PG_URL, delete_broker_objects, pg_schema, unique_prefix

SENDER, RECIPIENT, SYSTEM = "000.00.00.H41", "000.00.13.H41", "tinh-nghean"
#: messages per window in `--breakdown` (the hub's default LIENTHONG_WINDOW)
WINDOW = 16


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    n: int
    seconds: float
    latencies: list[float]
    cpu_s: float | None = None
    broker_cpu_s: float | None = None
    #: the machine's 1-minute load average at the end of the run
    load: float = 0.0
    #: CPU of the PostgreSQL server processes over the run (every backend on the machine)
    db_cpu_s: float | None = None
    #: PostgreSQL: share of the run the ledger's append lock was held, mean backends waiting for it
    lock_held: float | None = None
    lock_waiters: float | None = None

    @property
    def rate(self) -> float:
        return self.n / self.seconds

    def pct(self, q: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000

    def row(self, raw: Result | None) -> str:
        share = f"{100 * self.rate / raw.rate:.0f} %" if raw else "–"
        cpu = f"{1000 * self.cpu_s / self.n:.2f}" if self.cpu_s else "–"
        broker = f"{1000 * self.broker_cpu_s / self.n:.2f}" if self.broker_cpu_s else "–"
        db = f"{1000 * self.db_cpu_s / self.n:.2f}" if self.db_cpu_s else "–"
        lock = "–" if self.lock_held is None else f"{100 * self.lock_held:.0f} % / {self.lock_waiters:.1f}"
        return (f"| {self.name} | {self.n} | {self.rate:,.0f} | {share} | {self.pct(0.5):,.0f} | "
                f"{self.pct(0.99):,.0f} | {cpu} | {broker} | {db} | {lock} | {self.load:.1f} |")


class AppendLock:
    """Samples pg_locks every 20 ms during a run: is the ledger's append lock (the advisory lock
    of router/ledger/engine.py, first key 0x4C54) held, and how many transactions wait for it.
    Held nearly all the time means the one evidence chain, not CPU, sets the pace."""

    SQL = ("SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) FROM pg_locks "
           "WHERE locktype = 'advisory' AND classid = 19540")

    def __init__(self) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> AppendLock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.engine.dispose()

    def _run(self) -> None:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            while not self._stop.wait(0.02):
                held, waiting = conn.execute(text(self.SQL)).one()
                conn.rollback()
                self.samples.append((int(held), int(waiting)))

    def figures(self) -> tuple[float | None, float | None]:
        if not self.samples:
            return None, None
        return (sum(1 for h, _ in self.samples if h) / len(self.samples),
                sum(w for _, w in self.samples) / len(self.samples))


@dataclass(frozen=True, slots=True)
class Shape:
    """How the hub runs: one process, intake | deliver, or N workers per role; on which ledger."""

    ledger: str = "sqlite"
    split: bool = False
    processes: int | None = None

    @property
    def label(self) -> str:
        if self.processes is not None:
            how = f"{self.processes} + {self.processes} workers (--processes {self.processes})"
        else:
            how = "2 processes (intake \\| deliver)" if self.split else "1 process"
        return f"hub, {how}, {'PostgreSQL' if self.ledger == 'postgresql' else 'SQLite'}"


MATRIX = (Shape("sqlite"), Shape("sqlite", split=True), Shape("postgresql"), Shape("postgresql", split=True),
          Shape("postgresql", processes=2))


@dataclass(frozen=True, slots=True)
class Run:
    """One measurement: a flood (max_rate None) for throughput, or a paced one for latency."""

    label: str
    bodies: list[bytes]
    max_rate: float | None = None


def broker_process(port: int = 5672) -> psutil.Process | None:
    """The node serving AMQP on `port`: other RabbitMQ nodes (tests' own, on other ports) may run
    beside it and come and go during the run."""
    nodes = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "beam.smp"]
    for p in nodes:
        try:
            if any(c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in p.net_connections()):
                return p
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
    return nodes[0] if nodes else None


def packages(n: int, tag: str) -> list[bytes]:
    return [make_edoc(SENDER, [RECIPIENT], i + 1, notation=tag) for i in range(n)]


# -- raw broker ---------------------------------------------------------------------------------
class RawConsumer:
    """Prefetch 100, one ack per message, receipt time per message_id."""

    def __init__(self, url: str, queue: str, expected: int) -> None:
        self.url, self.queue, self.expected = url, queue, expected
        self.received: dict[int, float] = {}
        self.ready = threading.Event()
        self._conn: SelectConnection | None = None

    def run(self) -> None:
        self._conn = SelectConnection(
            pika.URLParameters(self.url),
            on_open_callback=lambda c: c.channel(on_open_callback=self._on_channel),
            on_close_callback=lambda c, r: c.ioloop.stop(),
        )
        self._conn.ioloop.start()

    def _on_channel(self, ch: Channel) -> None:
        def consume(_frame: object) -> None:
            ch.basic_consume(self.queue, self._on_message)
            self.ready.set()

        ch.basic_qos(prefetch_count=100, callback=consume)

    def _on_message(self, ch: Channel, method: Basic.Deliver, props: BasicProperties, body: bytes) -> None:
        self.received[int(props.message_id or -1)] = time.time()
        ch.basic_ack(method.delivery_tag)
        if len(self.received) >= self.expected and self._conn is not None:
            self._conn.close()


def bench_raw(runs: list[Run], window: int) -> list[Result]:
    prefix = unique_prefix("bench")
    queue = f"{prefix}.raw"
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    conn.channel().queue_declare(queue, durable=True, arguments={
        "x-queue-type": "quorum", "x-delivery-limit": 5, "x-overflow": "reject-publish",
    })
    conn.close()
    broker = broker_process()
    results = []
    try:
        for run in runs:
            consumer = RawConsumer(AMQP_URL, queue, len(run.bodies))
            thread = threading.Thread(target=consumer.run, daemon=True)
            thread.start()
            consumer.ready.wait(30)
            b0 = _cpu(broker) if broker else 0.0
            sent = Flood(AMQP_URL, "", run.bodies, routing_key=queue, window=window, max_rate=run.max_rate).run()
            thread.join(600)
            assert len(consumer.received) == len(run.bodies), f"raw: got {len(consumer.received)} of {len(run.bodies)}"
            first = min(sent.sent_at.values())
            lat = [consumer.received[i] - sent.sent_at[i] for i in range(len(run.bodies))]
            results.append(Result(f"raw broker{run.label}", len(run.bodies), max(consumer.received.values()) - first,
                                  lat, broker_cpu_s=(_cpu(broker) - b0) if broker else None, load=os.getloadavg()[0]))
        return results
    finally:
        delete_broker_objects(prefix)


# -- the hub ------------------------------------------------------------------------------------
class HubUnderTest:
    """The hub of one shape, started in its environment; `measure` floods or paces one run."""

    def __init__(self, env: HubEnv, shape: Shape, window: int, profile: Path | None, cpu_profile: bool) -> None:
        self.env, self.shape, self.window = env, shape, window
        if profile is not None:
            profile.mkdir(parents=True, exist_ok=True)
        roles = ("intake", "deliver") if shape.split else ("all",)
        self.hubs = [
            env.spawn(role, processes=shape.processes,
                      extra_env={PROFILE_ENV: str(profile / f"{role}.{'cpu' if cpu_profile else 'stacks'}")}
                      if profile else None)
            for role in roles
        ]
        for hub in self.hubs:
            hub.wait_ready(120)
        # the supervisor and its workers (their CPU is the hub's too)
        self.procs = [q for hub in self.hubs for p in [psutil.Process(hub.popen.pid)] for q in [p, *p.children()]]
        self.broker = broker_process()

    def measure(self, run: Run) -> Result:
        import hashlib

        digests = [hashlib.sha256(b).hexdigest() for b in run.bodies]
        db = postgres_processes() if self.shape.ledger == "postgresql" else []
        db0 = _cpu_by_pid(db)
        cpu0 = sum(_cpu(p) for p in self.procs)
        b0 = _cpu(self.broker) if self.broker else 0.0
        with AppendLock() if self.shape.ledger == "postgresql" else nullcontext() as lock:
            sent = Flood(self.env.user_url(SYSTEM), Names(self.env.prefix).intake_exchange, run.bodies,
                         window=self.window, max_rate=run.max_rate).run()
            written = _wait_written(self.env, digests, self.hubs)
        held, waiters = lock.figures() if lock is not None else (None, None)
        cpu = sum(_cpu(p) for p in self.procs) - cpu0
        first = min(sent.sent_at.values())
        lat = [written[i] - sent.sent_at[i] for i in range(len(digests))]
        return Result(f"{self.shape.label}{run.label}", len(digests), max(written) - first, lat, cpu,
                      (_cpu(self.broker) - b0) if self.broker else None, load=os.getloadavg()[0],
                      db_cpu_s=_cpu_delta(db, db0) if db else None, lock_held=held, lock_waiters=waiters)

    def stop(self) -> None:
        for hub in self.hubs:
            hub.terminate()


@contextmanager
def ledger_for(shape: Shape, root: Path) -> Iterator[str]:
    if shape.ledger == "postgresql":
        with pg_schema(PG_URL, "lt_bench") as url:
            yield url
    else:
        yield f"sqlite:///{root / 'ledger.sqlite3'}"


def bench_shape(
    shape: Shape, n: int, paced_n: int, window: int, root: Path, env_extra: dict[str, Any], *,
    paced_rate: float | None = None, profile: Path | None = None, cpu_profile: bool = False, skip_raw: bool = False,
) -> list[Result]:
    """Hub flood (its maximum rate), then the hub and the raw broker paced at half of it."""
    tag = f"{shape.ledger[:2]}{'s' if shape.split else ''}{shape.processes or 1}"
    with ledger_for(shape, root) as url, \
            hub_environment(AMQP_URL, unique_prefix("bench"), root, ledger_url=url, **env_extra) as env:
        hub = HubUnderTest(env, shape, window, profile, cpu_profile)
        try:
            flood = hub.measure(Run(" — flood", packages(n, f"F{tag}")))
            rate = paced_rate or max(1.0, round(flood.rate / 2))
            paced = hub.measure(Run(f" — paced {rate:g}/s (half its max)", packages(paced_n, f"P{tag}"), rate))
        finally:
            hub.stop()
    raw = [] if skip_raw else bench_raw([Run(f" — paced {rate:g}/s", packages(paced_n, f"R{tag}"), rate)], window)
    return [flood, paced, *raw]


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def postgres_processes() -> list[psutil.Process]:
    """The PostgreSQL server's processes now (the hub's pooled backends are open by then); other
    sessions' backends on a shared machine are counted too, so the figure is an upper bound."""
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres", "postmaster")]


def _cpu_by_pid(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in procs:
        try:
            out[p.pid] = _cpu(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def _cpu_delta(procs: list[psutil.Process], before: dict[int, float]) -> float:
    """CPU used since `before` by the processes alive at both ends (a backend that ended during
    the run is left out rather than counted negative)."""
    after = _cpu_by_pid(procs)
    return sum(after[pid] - before[pid] for pid in after.keys() & before.keys())


def _wait_written(env: HubEnv, digests: list[str], hubs: list[HubProcess], timeout: float = 900) -> list[float]:
    """Until the sink wrote every package; the write time of each, in order."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = env.tally().first_write_at
        if all((SYSTEM, d) in at for d in digests):
            return [at[(SYSTEM, d)] for d in digests]
        for hub in hubs:
            if not hub.alive:
                raise RuntimeError(f"hub died: {hub.tail()}")
        time.sleep(0.25)
    raise TimeoutError(f"only {len(read_journal(env.journal))} journal lines after {timeout}s")


def breakdown(n: int = 300) -> None:
    """CPU per package of each stage, in-process (no broker): where the hub's time goes."""
    import tempfile as tf
    from datetime import UTC, datetime

    from adapters.folder import FolderSink
    from router.ledger.store import Ledger
    from router.pipeline.decisions import Decision
    from router.pipeline.delivery import DeliveryStage
    from router.pipeline.intake import IntakeStage
    from router.pipeline.window import Submission
    from router.topology.build import TopologyOptions, build_topology
    from schemas.parse import validate_package
    from schemas.policy import ValidationOptions
    from tests.support.hub import test_directory

    bodies = packages(n, "CPU")
    directory = test_directory("lt-cpu")
    topology = build_topology(directory, TopologyOptions(prefix="lt-cpu"))
    user = directory.systems[SYSTEM].broker_user

    def cpu_ms(fn: Callable[[Any], object], items: list[Any]) -> tuple[float, float]:
        c, w = time.process_time(), time.perf_counter()
        for it in items:
            fn(it)
        return 1000 * (time.process_time() - c) / len(items), 1000 * (time.perf_counter() - w) / len(items)

    with tf.TemporaryDirectory(prefix="lt-cpu-") as tmp, Ledger.open(f"sqlite:///{tmp}/ledger.db") as ledger:
        intake = IntakeStage(directory, ledger, topology.names)
        delivery = DeliveryStage(directory, ledger, topology, {sid: FolderSink(Path(tmp) / sid) for sid in directory.systems})
        options = ValidationOptions()
        decisions: list[Decision] = []
        rows = [
            ("validate_package (parse + XSD + rules)", cpu_ms(lambda b: validate_package(b, options), list(bodies))),
            ("IntakeStage.process (validate + ledger reads + decide)",
             cpu_ms(lambda b: decisions.append(intake.process(b, user, datetime.now(UTC))), list(bodies))),
        ]
        windowed: list[Decision] = []

        def intake_window(batch: list[bytes]) -> None:
            items = [Submission(i, b, user, hashlib.sha256(b).hexdigest()) for i, b in enumerate(batch)]
            w = intake.window(items)
            try:
                for it in items:
                    windowed.append(intake.process(it.body, user, datetime.now(UTC), it.digest, window=w, key=it.key))
            finally:
                w.close()

        others = packages(n, "CPW")
        per_window = [others[i:i + WINDOW] for i in range(0, n, WINDOW)]
        c_ms, w_ms = cpu_ms(intake_window, per_window)
        rows.append((f"IntakeStage.window + process, {WINDOW} per window (one de-duplication read each)",
                     (c_ms * len(per_window) / n, w_ms * len(per_window) / n)))
        half = n // 2
        rows.append(("ledger.append, one package's intake events per transaction",
                     cpu_ms(lambda d: ledger.append(d.before + d.after), list(decisions[:half]))))
        groups = [decisions[i:i + 50] for i in range(half, n, 50)] + [windowed[i:i + 50] for i in range(0, n, 50)]
        c, w = time.process_time(), time.perf_counter()
        for g in groups:
            ledger.append([e for d in g for e in d.before + d.after])
        rows.append(("ledger.append, 50 packages per transaction (group commit)",
                     (1000 * (time.process_time() - c) / (2 * n - half), 1000 * (time.perf_counter() - w) / (2 * n - half))))
        rows.append(("DeliveryStage.process (ledger read + FolderSink write, journaled: 2 file + 2 folder fsyncs)",
                     cpu_ms(lambda d: delivery.process(d.publishes[0].body, d.publishes[0].headers), list(decisions))))

        def deliver_window(batch: list[Decision]) -> None:
            copies = [d.publishes[0] for d in batch]
            w = delivery.window([p.headers for p in copies])
            for p in copies:
                delivery.process(p.body, p.headers, window=w)

        copy_windows = [windowed[i:i + WINDOW] for i in range(0, n, WINDOW)]
        c_ms, w_ms = cpu_ms(deliver_window, copy_windows)
        rows.append((f"DeliveryStage.window + process, {WINDOW} per window (two ledger reads each)",
                     (c_ms * len(copy_windows) / n, w_ms * len(copy_windows) / n)))
    print("| stage | CPU ms/package | wall ms/package |")
    print("|---|---:|---:|")
    for name, (c_ms, w_ms) in rows:
        print(f"| {name} | {c_ms:.2f} | {w_ms:.2f} |")


IDLE = ("wait (threading.py", "select (", "poll (", "sleep", "_worker (thread.py", "get (queue.py")


def summarise(path: Path, top: int = 25) -> None:
    """Busy samples per thread, then functions by inclusive share of the busy samples."""
    busy: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if any(frames[-1].startswith(i) or i in frames[-1] for i in IDLE):
            continue
        n = int(count)
        total += n
        thread = frames[0].rstrip("0123456789")
        busy[thread] = busy.get(thread, 0) + n
        leaf[frames[-1]] = leaf.get(frames[-1], 0) + n
        for f in set(frames[1:]):
            inclusive[f] = inclusive.get(f, 0) + n
    print(f"busy samples: {total}; by thread: " + ", ".join(f"{k} {v}" for k, v in sorted(busy.items(), key=lambda x: -x[1])))
    print("\ninclusive %  function")
    for f, n in sorted(inclusive.items(), key=lambda x: -x[1])[:top]:
        print(f"{100 * n / total:10.1f}  {f}")
    print("\nself %  function")
    for f, n in sorted(leaf.items(), key=lambda x: -x[1])[:top]:
        print(f"{100 * n / total:6.1f}  {f}")


HEADER = ("| path | packages | packages/s | of raw | p50 ms | p99 ms | hub CPU ms/pkg | broker CPU ms/pkg "
          "| PostgreSQL CPU ms/pkg | append lock held / waiting | load |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--packages", type=int, default=2000, help="packages of each flood")
    parser.add_argument("--paced-packages", type=int, default=None, help="packages of each paced run (packages/2)")
    parser.add_argument("--paced-rate", type=float, default=None,
                        help="packages/s of the paced runs (default: half the hub's measured maximum)")
    parser.add_argument("--window", type=int, default=256, help="unconfirmed publishes in flight")
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument("--ledger", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--split", action="store_true", help="run intake and deliver as two processes")
    parser.add_argument("--processes", type=int, default=None,
                        help="lienthong run --processes N: N intake + N deliver workers (PostgreSQL)")
    parser.add_argument("--matrix", action="store_true",
                        help="every shape: 1 and 2 processes on SQLite; 1, 2 and 2+2 on PostgreSQL")
    parser.add_argument("--profile", type=Path, default=None, help="sample the hub's threads into this folder")
    parser.add_argument("--cpu-profile", action="store_true",
                        help="with --profile: CPU time per function (pip install yappi) instead of samples")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="hub setting, e.g. --set workers=4 --set prefetch=128")
    parser.add_argument("--top", type=Path, default=None, help="summarise a hub.stacks file and exit")
    parser.add_argument("--breakdown", action="store_true", help="CPU per stage in-process, then exit")
    args = parser.parse_args()
    if args.top:
        summarise(args.top)
        return
    if args.breakdown:
        breakdown()
        return
    extra = dict(kv.split("=", 1) for kv in args.set)
    shapes = MATRIX if args.matrix else (Shape(args.ledger, args.split, args.processes),)
    n = args.packages
    paced_n = args.paced_packages or max(50, n // 2)

    load0 = os.getloadavg()
    raw = [] if args.skip_raw else bench_raw([Run(" — flood", packages(n, "RAW"))], args.window)
    size = statistics.mean(len(b) for b in packages(20, "SIZE"))
    rows: list[Result] = []

    def row(r: Result) -> str:  # a hub flood is compared with the raw flood of the same run
        return r.row(raw[0] if raw and r.name.startswith("hub") and r.name.endswith("flood") else None)

    print(HEADER, *(row(r) for r in raw), sep="\n", flush=True)
    for shape in shapes:
        with tempfile.TemporaryDirectory(prefix="lt-bench-") as tmp:
            got = bench_shape(shape, n, paced_n, args.window, Path(tmp), extra, paced_rate=args.paced_rate,
                              profile=args.profile, cpu_profile=args.cpu_profile, skip_raw=args.skip_raw)
        print(*(row(r) for r in got), sep="\n", flush=True)
        rows += got
    load1 = os.getloadavg()
    print(f"\n{n} packages per flood, {paced_n} per paced run, {size / 1024:.1f} KiB each (one recipient), window "
          f"{args.window}, {os.cpu_count()} CPUs, load average before {load0[0]:.2f} / after {load1[0]:.2f}, "
          f"hub settings {extra}")
    print(HEADER, *(row(r) for r in raw + rows), sep="\n")


if __name__ == "__main__":
    main()
