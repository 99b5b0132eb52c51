"""RabbitMQ nodes of a test's own, beside the shared broker: a 3-node cluster to kill nodes of,
a second province's broker, a node to stop and start.

The shared broker (`rabbit@localhost`, 127.0.0.1:5672) is never touched: every node here has
its own node name (`lt-<label>-<random>-<n>@localhost`), AMQP and distribution ports picked free
on loopback, its own data, log and configuration folders under the test's temporary folder, its
own Erlang cookie (HOME with `.erlang.cookie`, so the CLI tools here can reach these nodes and
no other), its own `rabbitmq-env.conf` (the system one names the shared node), no management
plugin, and 20,000 open files (with 1,024 the file-handle cache runs out). The CLI used is
`/usr/lib/rabbitmq/bin/rabbitmqctl` with `-n NODE`, never the system wrapper, which would switch
to the `rabbitmq` user and its cookie.

`kill()` is `kill -9` of the node's Erlang VM (the pid file the node writes); `start()` again
reuses the data folder, as a crashed server does when it comes back.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pika

RABBIT_BIN = Path(os.environ.get("LIENTHONG_TEST_RABBIT_BIN", "/usr/lib/rabbitmq/bin"))
OPEN_FILES = 20000
SHARED_NODE = "rabbit@localhost"
SHARED_PORT = 5672


def available() -> bool:
    return (RABBIT_BIN / "rabbitmq-server").exists() and (RABBIT_BIN / "rabbitmqctl").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raise_open_files() -> None:  # runs in the child before exec
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))


@dataclass
class Node:
    """One RabbitMQ node of a test's own (see the module docstring)."""

    name: str
    amqp_port: int
    dist_port: int
    base: Path
    cookie_home: Path
    plugins: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    #: more rabbitmq.conf lines (e.g. `max_message_size = 16777216`, RabbitMQ 4.x's default)
    config: str = ""

    def __post_init__(self) -> None:
        if self.name == SHARED_NODE or self.amqp_port == SHARED_PORT:
            raise ValueError("a test node must never be the shared broker")

    @property
    def url(self) -> str:
        return self.url_for("guest", "guest")

    def url_for(self, user: str, password: str) -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.amqp_port}/%2F"

    @property
    def pid_file(self) -> Path:
        return self.base / "pid"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        conf = self.base / "rabbitmq.conf"
        conf.write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.amqp_port}\n"
            "loopback_users.guest = true\n"
            "log.console = false\n"
            "log.file.level = info\n"
            # a killed node must not be forgotten by the others, and a restarted one must rejoin
            "cluster_partition_handling = pause_minority\n" + self.config,
            encoding="utf-8",
        )
        env_conf = self.base / "rabbitmq-env.conf"
        env_conf.write_text("# this node's own (the system file names the shared node)\n", encoding="utf-8")
        (self.base / "enabled_plugins").write_text(f"[{','.join(self.plugins)}].\n", encoding="utf-8")
        env.update({
            "HOME": str(self.cookie_home),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(env_conf),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_MNESIA_DIR": str(self.base / "mnesia" / self.name),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        })
        return env

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, *, wait: bool = True, timeout: float = 120.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.base.mkdir(parents=True, exist_ok=True)
        with suppress(FileNotFoundError):
            self.pid_file.unlink()
        out = (self.base / f"server-{self.starts}.out").open("wb")
        self.proc = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")], env=self._env(), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, preexec_fn=_raise_open_files, start_new_session=True,  # noqa: PLW1509
        )
        self.starts += 1
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until the node's application runs and AMQP takes a connection."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited {self.proc.returncode}: {self.log_tail()}")
            if self.ctl("await_startup", "--timeout", "5", check=False, timeout=15).returncode == 0:
                with suppress(Exception):
                    pika.BlockingConnection(pika.URLParameters(self.url)).close()
                    return
            time.sleep(0.5)
        raise TimeoutError(f"node {self.name} not ready after {timeout}s: {self.log_tail()}")

    def os_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def kill(self) -> None:
        """kill -9 of the Erlang VM: no shutdown, no goodbye to the cluster."""
        pid = self.os_pid()
        if pid is not None:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)
        self.proc = None
        if pid is not None:  # the VM may outlive the shell that started it by a moment
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)

    @property
    def running(self) -> bool:
        pid = self.os_pid()
        return pid is not None and _alive(pid)

    def stop(self) -> None:
        """Orderly stop (rabbitmqctl stop), then make sure nothing is left."""
        if self.running:
            self.ctl("stop", check=False, timeout=60)
        self.kill()

    # -- the CLI --------------------------------------------------------------------------------
    def ctl(self, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return self._tool("rabbitmqctl", *args, check=check, timeout=timeout)

    def _tool(self, tool: str, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env["HOME"] = str(self.cookie_home)
        env["RABBITMQ_CONF_ENV_FILE"] = str(self.base / "rabbitmq-env.conf")
        env["RABBITMQ_ENABLED_PLUGINS_FILE"] = str(self.base / "enabled_plugins")  # the plugins' commands
        env["ERL_EPMD_ADDRESS"] = "127.0.0.1"
        try:
            out = subprocess.run([str(RABBIT_BIN / tool), "-q", "-n", self.name, *args], env=env,
                                 capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            if check:
                raise
            return subprocess.CompletedProcess([tool, *args], 124, "", "timeout")
        if check and out.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} on {self.name}: {out.stderr.strip() or out.stdout.strip()}")
        return out

    def json(self, *args: str) -> list[dict[str, object]]:
        out = self.ctl("--formatter", "json", *args).stdout
        return json.loads(out) if out.strip() else []

    def add_user(self, user: str, password: str, configure: str = ".*", write: str = ".*", read: str = ".*") -> None:
        self.ctl("add_user", user, password)
        self.ctl("set_permissions", "-p", "/", user, configure, write, read)

    def log_tail(self, lines: int = 20) -> str:
        logs = sorted((self.base / "log").glob("*.log")) if (self.base / "log").exists() else []
        outs = sorted(self.base.glob("server-*.out"))
        text = []
        for f in [*logs, *outs][-2:]:
            text += f.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text) or "(no log)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie counts as dead
    with suppress(FileNotFoundError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


@dataclass
class Cluster:
    """Nodes joined to the first one; queues' leaders found through the CLI."""

    nodes: list[Node]
    root: Path
    extra: list[Node] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def urls_for(self, user: str, password: str) -> list[str]:
        return [n.url_for(user, password) for n in self.nodes]

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def any_running(self) -> Node:
        return next(n for n in self.nodes if n.running)

    def join(self) -> None:
        first = self.nodes[0]
        for n in self.nodes[1:]:
            n.ctl("stop_app")
            n.ctl("join_cluster", first.name)
            n.ctl("start_app")
            n.wait_ready()
        running = first.json("cluster_status")
        members = running[0] if isinstance(running, list) and running else running
        assert members, members

    def leader(self, queue: str, timeout: float = 60.0) -> Node:
        """The node leading a quorum queue (waits out an election in progress)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            node = self.any_running()
            out = node.ctl("list_queues", "name", "leader", "--no-table-headers", check=False, timeout=60)
            for line in out.stdout.splitlines():
                parts = line.split("\t")
                if len(parts) == 2 and parts[0] == queue and parts[1].strip():
                    with suppress(StopIteration):
                        leader = self.node(parts[1].strip())
                        if leader.running:
                            return leader
                    last = parts[1]
            time.sleep(0.5)
        raise TimeoutError(f"no running leader for {queue} (last seen {last!r})")

    def members(self, queue: str) -> list[str]:
        node = self.any_running()
        out = node.ctl("list_queues", "name", "members", "--formatter", "json")
        for row in json.loads(out.stdout or "[]"):
            if row.get("name") == queue:
                return list(row.get("members") or [])
        return []

    def stop(self) -> None:
        for n in [*self.nodes, *self.extra]:
            with suppress(Exception):
                n.kill()


def _node(root: Path, label: str, index: int, cookie_home: Path, plugins: Sequence[str], config: str = "") -> Node:
    name = f"{label}-{index}@localhost"
    return Node(name, free_port(), free_port(), root / f"node-{index}", cookie_home, tuple(plugins), config=config)


def _cookie_home(root: Path) -> Path:
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    cookie = home / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text(uuid.uuid4().hex.upper(), encoding="ascii")
        cookie.chmod(0o400)
    return home


@contextmanager
def own_nodes(root: Path, count: int, *, label: str = "lt", plugins: Sequence[str] = (), join: bool = True,
              start: bool = True, config: str = "") -> Iterator[Cluster]:
    """`count` nodes of the test's own, started (in parallel) and, if `join`, clustered; all
    killed and their folders removed afterwards, even on failure. `config`: more rabbitmq.conf."""
    base = root / "rabbit"
    base.mkdir(parents=True, exist_ok=True)
    tag = f"{label}-{uuid.uuid4().hex[:6]}"
    home = _cookie_home(base)
    cluster = Cluster([_node(base, tag, i + 1, home, plugins, config) for i in range(count)], base)
    try:
        if start:
            for n in cluster.nodes:
                n.start(wait=False)
            for n in cluster.nodes:
                n.wait_ready()
            if join and count > 1:
                cluster.join()
        yield cluster
    finally:
        cluster.stop()
        with suppress(Exception):
            shutil.rmtree(base / "home", ignore_errors=True)
