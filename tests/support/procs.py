"""The hub as a separate process, the way it runs in production (`lienthong run`), so tests can
kill it with SIGKILL and restart it (a broker restarted under it runs on a node of the test's
own: tests/support/cluster.py, never the shared one).

`hub_environment()` prepares everything a hub process needs on the shared broker — a directory
file whose broker users carry the test prefix, the topology, the users themselves, a ledger file
and sink folders — and removes the prefix objects and the users afterwards, even on failure,
and starts the broker again if a test left it stopped.

Run as `python -m tests.support.procs run …` it *is* `lienthong run …` with one addition: every
sink call is journaled (begin, then wrote / skipped / failed) to the file named by
`LIENTHONG_TEST_SINK_JOURNAL`. The hub cannot see a second write of the same file (the ledger
treats `delivered` as final and ignores a repeat), so the journal is how a test counts what
reached the sink; the folder sink under it is the real one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pika
import yaml

from adapters.folder import FolderSink
from adapters.sink import Delivered, Handover, Sink, SinkResult
from ops.provision import ensure_user, revoke_user, system_grant
from router.directory.model import Directory
from router.settings import PACKAGE_DATA
from router.topology.build import TopologyOptions, build_topology
from router.topology.declare import apply_to_url
from router.topology.names import Names
from tests.support.services import ROOT, answers, delete_broker_objects

JOURNAL_ENV = "LIENTHONG_TEST_SINK_JOURNAL"
PROFILE_ENV = "LIENTHONG_TEST_PROFILE"
PASSWORD = "lienthong-proc-pw"
LIENTHONG = ROOT / ".venv" / "bin" / "lienthong"


# -- the journal (inside the hub process) ------------------------------------------------------
class JournalSink:
    """Records every call to the wrapped sink; O_APPEND lines from many threads stay whole."""

    def __init__(self, inner: Sink, system_id: str, fd: int) -> None:
        self.inner = inner
        self.system_id = system_id
        self.fd = fd
        self._lock = threading.Lock()

    def _line(self, phase: str, digest: str) -> None:
        os.write(self.fd, f"{time.time():.6f} {phase} {self.system_id} {digest}\n".encode())

    def deliver(self, handover: Handover) -> SinkResult:
        self._line("begin", handover.digest)
        result = self.inner.deliver(handover)
        if isinstance(result, Delivered):
            # FolderSink says "already …" when it had handed the package over before: no write
            phase = "skipped" if result.detail.startswith("already") else "wrote"
        else:
            phase = "failed"
        self._line(phase, handover.digest)
        return result


def install_journal(path: str) -> None:
    """Wrap the sinks `lienthong run` builds, before it builds them."""
    import router.hub

    original = router.hub.build_sinks
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def build(directory: Directory, root: Path, **kw: Any) -> dict[str, Sink]:
        return {sid: JournalSink(s, sid, fd) for sid, s in original(directory, root, **kw).items()}

    router.hub.build_sinks = build


@dataclass(frozen=True, slots=True)
class JournalEntry:
    at: float
    phase: str
    system: str
    digest: str


def read_journal(path: Path) -> list[JournalEntry]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append(JournalEntry(float(parts[0]), parts[1], parts[2], parts[3]))
    return out


@dataclass
class SinkTally:
    """Per (system, digest): how often the sink was called, wrote, skipped an existing file."""

    begins: Counter[tuple[str, str]] = field(default_factory=Counter)
    writes: Counter[tuple[str, str]] = field(default_factory=Counter)
    skips: Counter[tuple[str, str]] = field(default_factory=Counter)
    first_write_at: dict[tuple[str, str], float] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: list[JournalEntry]) -> SinkTally:
        tally = cls()
        for e in entries:
            key = (e.system, e.digest)
            if e.phase == "begin":
                tally.begins[key] += 1
            elif e.phase == "wrote":
                tally.writes[key] += 1
                tally.first_write_at.setdefault(key, e.at)
            elif e.phase == "skipped":
                tally.skips[key] += 1
        return tally

    def unfinished(self) -> set[tuple[str, str]]:
        """Calls that began and never reported: the process died inside the sink."""
        return {k for k, n in self.begins.items() if n > self.writes[k] + self.skips[k]}


# -- the environment (test side) ---------------------------------------------------------------
def write_test_directory(prefix: str, path: Path) -> Directory:
    """The shipped Nghệ An directory with broker users named after the prefix, as a file."""
    data = yaml.safe_load((PACKAGE_DATA / "nghe_an.yaml").read_text(encoding="utf-8"))
    for system in data["systems"]:
        system["broker_user"] = f"{prefix}-{system['id']}"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Directory.from_dict(data)


@dataclass
class HubProcess:
    popen: subprocess.Popen[bytes]
    log: Path
    consumers: int

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_events(self, name: str) -> int:
        """How many JSON log lines with this `event` the process wrote so far."""
        n = 0
        if self.log.exists():
            for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
                with suppress(ValueError):
                    if json.loads(line).get("event") == name:
                        n += 1
        return n

    def wait_ready(self, timeout: float = 60.0, *, times: int = 1) -> float:
        """Until every consumer logged `consuming` `times` times; returns the seconds waited."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if not self.alive:
                raise RuntimeError(f"hub process exited {self.popen.returncode}: {self.tail()}")
            if self.log_events("consuming") >= self.consumers * times:
                return time.monotonic() - start
            time.sleep(0.1)
        raise TimeoutError(f"hub not consuming after {timeout}s: {self.tail()}")

    def workers(self) -> dict[str, int]:
        """Under `--processes`: worker name (`intake-0` …) → pid of the process filling that slot
        now, from the supervisor's `worker started` log lines (the latest per slot)."""
        found: dict[str, int] = {}
        if self.log.exists():
            for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
                with suppress(ValueError):
                    record = json.loads(line)
                    if record.get("event") == "worker started":
                        found[record["worker"]] = int(record["pid"])
        return found

    def kill(self) -> None:
        """SIGKILL: no drain, no settle, no ledger close — a power cut for the process."""
        if self.alive:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(30)

    def terminate(self, timeout: float = 60.0) -> int:
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def tail(self, lines: int = 15) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@dataclass
class HubEnv:
    amqp_url: str
    prefix: str
    root: Path
    directory: Directory
    directory_file: Path
    ledger_url: str
    deliver_root: Path
    journal: Path
    settings_env: dict[str, str]
    processes: list[HubProcess] = field(default_factory=list)

    @property
    def names(self) -> Names:
        return Names(self.prefix)

    def user_url(self, system_id: str) -> str:
        user = self.directory.systems[system_id].broker_user
        rest = self.amqp_url.split("@", 1)[1]
        return f"amqp://{user}:{PASSWORD}@{rest}"

    def inbox(self, system_id: str) -> FolderSink:
        return FolderSink(self.deliver_root / "var" / "deliver" / system_id)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
        env.update(self.settings_env)
        env["PYTHONPATH"] = str(ROOT)
        env.update(extra or {})
        return env

    def spawn(self, role: str = "all", *, journal: bool = True, extra_env: Mapping[str, str] | None = None,
              args: tuple[str, ...] = (), processes: int | None = None) -> HubProcess:
        """Start `lienthong run --role ROLE` (journaled sinks unless `journal=False`); with
        `processes`, `--processes N`: a supervisor and N workers per role, all logging to one file."""
        n = len(self.processes)
        log = self.root / f"hub-{n}.log"
        if processes is not None:
            args = ("--processes", str(processes), *args)
        if journal:
            cmd = [sys.executable, "-m", "tests.support.procs", "--log-format", "json", "run", "--role", role, *args]
            extra = {JOURNAL_ENV: str(self.journal), **(extra_env or {})}
        else:
            cmd = [str(LIENTHONG), "--log-format", "json", "run", "--role", role, *args]
            extra = dict(extra_env or {})
        with log.open("wb") as fh:
            popen = subprocess.Popen(cmd, cwd=self.root, env=self.env(extra), stdout=fh, stderr=subprocess.STDOUT)
        proc = HubProcess(popen, log, consumers=(2 if role == "all" else 1) * (processes or 1))
        self.processes.append(proc)
        return proc

    def delivered_files(self) -> dict[str, list[Path]]:
        return {sid: self.inbox(sid).delivered() for sid in self.directory.systems}

    def delivered_copies(self, by_digest: dict[str, bytes]) -> set[tuple[str, str]]:
        """(system, digest) of every file in the inboxes, each asserted to be one of the packages
        sent (`by_digest`: digest → body), byte for byte."""
        found: set[tuple[str, str]] = set()
        for sid, files in self.delivered_files().items():
            for f in files:
                full = next((d for d in by_digest if f.name == f"edoc-{d[:32]}-{sid}.edxml"), None)
                assert full is not None, f"{sid}: unexpected file {f.name} in the inbox"
                assert f.read_bytes() == by_digest[full], f"{sid}: {f.name} differs from the package sent"
                found.add((sid, full))
        return found

    def tally(self) -> SinkTally:
        return SinkTally.of(read_journal(self.journal))


@contextmanager
def hub_environment(
    amqp_url: str, prefix: str, root: Path, *, retry_delays_s: str = "[1,1,1]", delivery_limit: int = 3,
    ledger_url: str | None = None, **settings: str,
) -> Iterator[HubEnv]:
    """`ledger_url`: the hub's ledger (default a SQLite file in `root`)."""
    root.mkdir(parents=True, exist_ok=True)
    directory_file = root / "directory.yaml"
    directory = write_test_directory(prefix, directory_file)
    env = HubEnv(
        amqp_url=amqp_url, prefix=prefix, root=root, directory=directory, directory_file=directory_file,
        ledger_url=ledger_url or f"sqlite:///{root / 'ledger.sqlite3'}", deliver_root=root / "deliver",
        journal=root / "sink-journal.log", settings_env={},
    )
    env.settings_env = {
        "LIENTHONG_AMQP_URL": amqp_url,
        "LIENTHONG_PREFIX": prefix,
        "LIENTHONG_DIRECTORY": str(directory_file),
        "LIENTHONG_LEDGER_URL": env.ledger_url,
        "LIENTHONG_DELIVER_ROOT": str(env.deliver_root),
        "LIENTHONG_RETRY_DELAYS_S": retry_delays_s,
        "LIENTHONG_DELIVERY_LIMIT": str(delivery_limit),
        "LIENTHONG_GRACE_S": "10",
        **{f"LIENTHONG_{k.upper()}": v for k, v in settings.items()},
    }
    users = [s.broker_user for s in directory.systems.values()]
    try:
        options = TopologyOptions(prefix=prefix, delivery_limit=delivery_limit,
                                  retry_delays_s=tuple(json.loads(retry_delays_s)))
        apply_to_url(build_topology(directory, options), amqp_url)
        for sid, system in directory.systems.items():
            ensure_user(system_grant(system.broker_user, prefix, sid), PASSWORD)
        yield env
    finally:
        for p in env.processes:
            with suppress(Exception):
                p.kill()
        ensure_broker_running()
        for u in users:
            revoke_user(u)
        delete_broker_objects(prefix)


# -- the broker --------------------------------------------------------------------------------
def _ctl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout, check=False)


def wait_broker(timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(5672):
            with suppress(Exception):
                pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F")).close()
                return
        time.sleep(0.25)
    raise TimeoutError(f"RabbitMQ did not take connections within {timeout}s")


def ensure_broker_running() -> None:
    """Leave the shared broker as found: running. A test that failed between stop and start
    must not take every other engineer's tests down with it."""
    if answers(5672):
        return
    _ctl("start_app")
    wait_broker()


def queue_depth(amqp_url: str, queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        conn.close()


def install_cpu_profiler(path: str) -> None:
    """CPU time per function over every thread (yappi, when installed): where the CPU goes,
    which the wall-clock sampler cannot tell from waiting. Written as text at exit."""
    import atexit

    import yappi  # type: ignore[import-untyped, import-not-found, unused-ignore]

    yappi.set_clock_type("cpu")
    yappi.start()

    def dump() -> None:
        yappi.stop()
        with open(path, "w", encoding="utf-8") as fh:
            yappi.get_func_stats().sort("ttot").print_all(out=fh, columns={
                0: ("name", 90), 1: ("ncall", 10), 2: ("tsub", 8), 3: ("ttot", 8), 4: ("tavg", 8)})
            yappi.get_thread_stats().print_all(out=fh)

    atexit.register(dump)


def install_sampler(path: str, interval_s: float = 0.005) -> None:
    """A sampling profiler over every thread (py-spy cannot attach to this interpreter build):
    every `interval_s` the stacks of all threads, written as collapsed stacks at exit."""
    import atexit

    stacks: Counter[str] = Counter()
    me = threading.get_ident()
    names = {t.ident: t.name for t in threading.enumerate()}

    def sample() -> None:
        while True:
            time.sleep(interval_s)
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                parts = []
                f: FrameType | None = frame
                while f is not None:
                    parts.append(f"{f.f_code.co_name} ({Path(f.f_code.co_filename).name}:{f.f_code.co_firstlineno})")
                    f = f.f_back
                if ident not in names:
                    names.update({t.ident: t.name for t in threading.enumerate()})
                stacks[";".join([names.get(ident, "?"), *reversed(parts)])] += 1

    def dump() -> None:
        with open(path, "w", encoding="utf-8") as fh:
            for stack, n in stacks.most_common():
                fh.write(f"{stack} {n}\n")

    threading.Thread(target=sample, name="sampler", daemon=True).start()
    atexit.register(dump)


def main() -> None:
    path = os.environ.get(JOURNAL_ENV)
    if path:
        install_journal(path)
    profile = os.environ.get(PROFILE_ENV)
    if profile and profile.endswith(".cpu"):
        install_cpu_profiler(profile)
    elif profile:
        install_sampler(profile)
    from router.cli import app

    app(prog_name="lienthong")


if __name__ == "__main__":
    main()
