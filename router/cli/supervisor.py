"""`lienthong run --processes N`: N worker processes per role under one supervisor.

Why processes: one hub process spends ~7 ms of CPU per package in Python (parse, checks, pika
framing, the ledger's statements, the sink), and the GIL keeps its threads on one core. N
processes per role use N cores; they share what is already built to be shared:

* **one broker**: every worker of a role consumes the same queues (RabbitMQ hands each message
  to one consumer, and re-delivers what a dead worker held);
* **one ledger**: every append takes the database's own append lock first
  (router/ledger/engine.py: `pg_advisory_xact_lock` on PostgreSQL), reads the chain head and
  writes the next entries in the same transaction, so the evidence chain stays linear whatever
  the number of writers; the unique index on accepted (From, DocumentId) settles two workers
  accepting the same document (the second commit fails, its message is re-delivered and
  rejected `DUPLICATE_CONFLICT`);
* **the sinks' idempotency**: the in-process rule "one copy of a package at a time"
  (router/amqp/consumer.py) does not span processes, so two workers may hand the same copy to a
  sink at once; every sink keys on `Handover.handover_id` (the folder sink commits with an
  atomic symlink: of several racing writers exactly one writes, adapters/folder.py).

SQLite takes one writer at a time for the whole file, and its busy handler sleeps between
attempts: N writing processes would queue on that lock instead of adding throughput. So N > 1
is refused with a SQLite ledger (one intake and one deliver process, `--processes 1 --role all`,
are allowed — that is how the hub ran as two processes before).

The supervisor (this module's `Supervisor`) starts each worker as the same command line as
itself, told by `LIENTHONG_RUN_CHILD` which role and slot it plays and which pipe to report on;
declares the topology once before; restarts a worker that dies (a SIGKILL, a crash, a heartbeat
silent for `stall_s`) with a backoff that grows while it keeps dying young; forwards SIGTERM and
SIGINT, waits the grace period and then kills what is left; stops everything on a worker's
configuration error (exit 2: a restart cannot cure it). A worker whose supervisor vanished
(SIGKILL) stops itself gracefully.

One `/metrics`, `/healthz`, `/readyz` for the whole hub, on the supervisor's `--metrics-port`:
prometheus_client's multiprocess mode (the workers write their metrics to files in a folder of
the supervisor's, which merges them per scrape). Chosen over a port per worker because a
restarted worker would reset its counters and move its port, and Prometheus would need every
worker's port in its configuration; with one folder, counters of dead workers stay counted and
there is one target. Gauges say how they combine (ops/metrics.py). `/readyz` names each worker
(`intake-0` …): running and reporting every one of its own checks true within `stall_s`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

import structlog

from ops import metrics
from ops.health import Check, evaluate
from ops.logging import WORKER_ENV

log = structlog.get_logger("lienthong.supervisor")

#: "<role>:<slot>:<fd>" in a worker's environment: the role it plays, its slot, its report pipe
CHILD_ENV = "LIENTHONG_RUN_CHILD"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
EXIT_CONFIG = 2


@dataclass(frozen=True, slots=True)
class ChildRole:
    role: str
    slot: int
    fd: int

    @property
    def name(self) -> str:
        return f"{self.role}-{self.slot}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ChildRole | None:
        value = environ.get(CHILD_ENV)
        if not value:
            return None
        role, slot, fd = value.split(":")
        return cls(role, int(slot), int(fd))


class ParentLink:
    """A worker's side of the supervisor: the run loop calls `beat()` (every 0.5 s), which
    evaluates the worker's readiness checks and writes one JSON line to the report pipe. A
    full pipe (a busy supervisor) skips a beat; a closed one, or a new parent process id (the
    supervisor was killed), calls `orphaned` once — the worker then stops gracefully."""

    def __init__(self, fd: int, orphaned: Callable[[], None]) -> None:
        self.fd = fd
        self._orphaned = orphaned
        self._parent = os.getppid()
        self._checks: dict[str, Check] = {}
        self._gone = False
        os.set_blocking(fd, False)

    def set_checks(self, checks: Mapping[str, Check]) -> None:
        self._checks = dict(checks)

    def beat(self) -> None:
        if self._gone:
            return
        if os.getppid() != self._parent:
            self._lost("supervisor gone")
            return
        ready, results = evaluate(self._checks)
        line = json.dumps({"ready": ready, "checks": results}).encode() + b"\n"
        try:
            os.write(self.fd, line)
        except BlockingIOError:
            return
        except OSError:
            self._lost("report pipe closed")

    def _lost(self, why: str) -> None:
        self._gone = True
        log.warning("supervisor lost; stopping", why=why)
        self._orphaned()


@dataclass
class Worker:
    """One slot: the process now filling it, its last report, and its restart history."""

    role: str
    slot: int
    popen: subprocess.Popen[bytes] | None = None
    read_fd: int = -1
    started_at: float = 0.0
    last_beat: float = 0.0
    report: dict[str, object] = field(default_factory=dict)
    restarts: int = 0
    #: consecutive deaths soon after starting (the backoff grows with them)
    young_deaths: int = 0
    start_at: float | None = 0.0
    _buffer: bytes = b""

    @property
    def name(self) -> str:
        return f"{self.role}-{self.slot}"

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def ready(self, now: float, stall_s: float) -> bool:
        return (self.popen is not None and self.popen.poll() is None and now - self.last_beat < stall_s
                and self.report.get("ready") is True)

    def read_reports(self, now: float) -> None:
        if self.read_fd < 0:
            return
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                break
            self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines[-1:]:  # only the newest report matters
            try:
                self.report = json.loads(line)
            except ValueError:
                continue
            self.last_beat = now

    def close_pipe(self) -> None:
        if self.read_fd >= 0:
            os.close(self.read_fd)
        self.read_fd, self._buffer = -1, b""


class Supervisor:
    """Keeps `processes` workers of each role running (module docstring); `run()` returns the
    exit code: 0 after a clean stop, 1 if a worker had to be killed at shutdown or exited badly,
    2 when a worker exited with a configuration error."""

    def __init__(
        self,
        command: Sequence[str],
        roles: Sequence[str],
        processes: int,
        *,
        grace_s: float,
        env: Mapping[str, str] | None = None,
        metrics_dir: str | None = None,
        stall_s: float = 60.0,
        max_backoff_s: float = 30.0,
        healthy_after_s: float = 30.0,
        poll_s: float = 0.2,
    ) -> None:
        self.command = list(command)
        self.workers = [Worker(role, slot) for role in roles for slot in range(processes)]
        self.grace_s = grace_s
        self.env = dict(os.environ if env is None else env)
        self.metrics_dir = metrics_dir
        self.stall_s = stall_s
        self.max_backoff_s = max_backoff_s
        self.healthy_after_s = healthy_after_s
        self.poll_s = poll_s
        self.beat: Callable[[], None] = lambda: None
        self._stopping = False
        self._config_error: Worker | None = None

    # -- readiness ----------------------------------------------------------------------------
    def checks(self) -> dict[str, Check]:
        """One readiness check per worker, for the supervisor's /readyz."""
        return {w.name: (lambda w=w: w.ready(time.monotonic(), self.stall_s)) for w in self.workers}  # type: ignore[misc]

    # -- lifecycle ----------------------------------------------------------------------------
    def stop(self, signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        """Signal-safe: forward SIGTERM to every worker; `run()` then waits for them."""
        if self._stopping:
            return
        self._stopping = True
        log.info("stopping workers", signal=signal.Signals(signum).name)
        for w in self.workers:
            self._signal(w, signal.SIGTERM)

    def run(self) -> int:
        while not self._stopping:
            now = time.monotonic()
            for w in self.workers:
                self._tend(w, now)
            self.beat()
            time.sleep(self.poll_s)
        return self._shutdown()

    def _tend(self, w: Worker, now: float) -> None:
        if w.popen is None:
            if w.start_at is not None and now >= w.start_at:
                self._start(w, now)
            return
        w.read_reports(now)
        code = w.popen.poll()
        if code is None:
            if now - max(w.last_beat, w.started_at) > self.stall_s:
                log.error("worker stalled; killing it", worker=w.name, pid=w.pid, silent_s=round(now - w.last_beat, 1))
                self._signal(w, signal.SIGKILL)
            return
        self._reap(w, code, now)
        if code == EXIT_CONFIG:
            log.error("worker exited with a configuration error; stopping every worker", worker=w.name)
            self._config_error = w
            self.stop()
            return
        lived = now - w.started_at
        w.young_deaths = w.young_deaths + 1 if lived < self.healthy_after_s else 0
        delay = 0.0 if w.young_deaths == 0 else min(self.max_backoff_s, 0.5 * 2 ** (w.young_deaths - 1))
        w.start_at = now + delay
        w.restarts += 1
        metrics.WORKER_RESTARTS.labels(w.role).inc()
        log.warning("worker died; restarting", worker=w.name, exit_code=code, lived_s=round(lived, 1),
                    restart_in_s=delay)

    def _start(self, w: Worker, now: float) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        env = {**self.env, CHILD_ENV: f"{w.role}:{w.slot}:{write_fd}", WORKER_ENV: w.name}
        if self.metrics_dir is not None:
            env[MULTIPROC_ENV] = self.metrics_dir
        try:
            w.popen = subprocess.Popen(self.command, env=env, pass_fds=(write_fd,))
        except OSError as exc:
            os.close(read_fd)
            log.error("worker could not be started", worker=w.name, error=repr(exc))
            w.start_at = now + self.max_backoff_s
            return
        finally:
            os.close(write_fd)
        w.read_fd, w.started_at, w.last_beat, w.report, w.start_at = read_fd, now, 0.0, {}, None
        log.info("worker started", worker=w.name, role=w.role, slot=w.slot, pid=w.pid)

    def _reap(self, w: Worker, code: int, now: float) -> None:
        pid = w.pid
        w.read_reports(now)
        w.close_pipe()
        w.popen = None
        if self.metrics_dir is not None and pid is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid, self.metrics_dir)  # type: ignore[no-untyped-call]  # its live gauges go

    def _signal(self, w: Worker, sig: int) -> None:
        if w.popen is not None and w.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                w.popen.send_signal(sig)

    def _shutdown(self) -> int:
        """Wait for every worker to finish its in-flight work; kill what outlives the grace."""
        deadline = time.monotonic() + self.grace_s + 10.0
        failed = False
        for w in self.workers:
            if w.popen is None:
                continue
            try:
                code = w.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker did not stop within the grace period; killing it", worker=w.name, pid=w.pid)
                w.popen.kill()
                code = w.popen.wait()
            failed |= code not in (0, EXIT_CONFIG)
            self._reap(w, code, time.monotonic())
        if self._config_error is not None:
            return EXIT_CONFIG
        return 1 if failed else 0


def worker_command() -> list[str]:
    """The command line a worker runs: exactly the supervisor's own (the `lienthong` script, or
    `python -m …` of a wrapper such as the tests' journaling one), so whatever the supervisor's
    command installs runs in every worker too."""
    return [sys.executable, *sys.orig_argv[1:]]


def metrics_folder() -> str:
    """A fresh folder for the workers' metric files (stale files of an earlier run would add up)."""
    return tempfile.mkdtemp(prefix="lienthong-metrics-")


def remove_metrics_folder(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
