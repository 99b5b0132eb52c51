"""Issue 13 item 2: the hub on a 3-node RabbitMQ cluster survives kill -9 of the node leading
its intake queue, then of the node leading a delivery queue, each restarted afterwards.

Three nodes of the test's own (tests/support/cluster.py; the shared broker is never touched)
are joined; the topology is declared with quorum queues of three members (explicit
`x-quorum-initial-group-size`) and the leaders spread over the nodes. The real `lienthong run`
(journaled folder sinks) gets all three URLs, and a submitter that re-sends whatever was not
confirmed publishes a steady stream, trying each node in turn. Counted per run: packages
confirmed to the sender, copies delivered, delivered twice at a sink (journal: a second write),
lost (confirmed but never delivered), and the stall — the gap in deliveries across each kill.

`test_kill_intake_leader` (one kill, ~300 packages) is in the default suite; the full run with
both kills is `--slow`. Figures go to the README "Reliability" table (printed as CLUSTER {...}).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from router.ledger.events import Outcome, TransportState
from router.ledger.store import Ledger
from router.topology.names import Names
from tests.support.cluster import Cluster, Node, available, own_nodes
from tests.support.cluster_hub import FailoverFlood, cluster_hub_environment, user_urls
from tests.support.packages import make_edoc
from tests.support.procs import HubEnv, read_journal
from tests.support.services import unique_prefix
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

SENDER = "000.00.00.H41"  # UBND tỉnh, served by the province DMS
RECIPIENTS = {"000.00.13.H41": "tinh-nghean", "000.31.25.H41": "huyen-thanhchuong"}
SHORT = int(os.environ.get("LIENTHONG_CLUSTER_SHORT_PACKAGES", "300"))
FULL = int(os.environ.get("LIENTHONG_CLUSTER_PACKAGES", "3000"))
RATE = float(os.environ.get("LIENTHONG_CLUSTER_RATE", "40"))


@dataclass
class Kill:
    queue: str
    node: str
    at: float
    stall_s: float = 0.0  # longest pause in deliveries in the 20 s after the kill
    hub_reconnected: bool = False
    hub_recovery_s: list[float] = field(default_factory=list)  # lost connection → consuming again


@dataclass
class Figures:
    scenario: str
    packages: int
    copies: int
    confirmed: int = 0
    delivered: int = 0
    delivered_twice: int = 0
    lost: int = 0
    submitter_republished: int = 0
    submitter_outages_s: list[float] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    total_s: float = 0.0

    def line(self) -> str:
        return "CLUSTER " + json.dumps(asdict(self), ensure_ascii=False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not available():
        pytest.skip("RabbitMQ server scripts not installed (/usr/lib/rabbitmq/bin)")
    with own_nodes(tmp_path_factory.mktemp("cluster"), 3, label="lt-clu") as c:
        yield c


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()



def delivered(env: HubEnv) -> int:
    return sum(len(files) for files in env.delivered_files().values())


def writes(env: HubEnv) -> list[float]:
    return sorted(e.at for e in read_journal(env.journal) if e.phase == "wrote")


def stall_across(env: HubEnv, at: float, window_s: float = 20.0) -> float:
    """The longest pause in deliveries from the kill to `window_s` after it (work already in the
    hub's hands still lands for a moment after a kill, so the first write after it says little)."""
    times = [t for t in writes(env) if t <= at + window_s]
    before = [t for t in times if t <= at]
    points = [before[-1] if before else at, *(t for t in times if t > at)]
    return max((b - a for a, b in itertools.pairwise(points)), default=float("inf"))


def recoveries(env: HubEnv) -> list[float]:
    """Seconds from each lost connection to consuming again, as the hub logged them."""
    out: list[float] = []
    for p in env.processes:
        for line in p.log.read_text(encoding="utf-8", errors="replace").splitlines():
            with suppress(ValueError):
                event = json.loads(line)
                if event.get("event") == "recovered":
                    out.append(float(event["after_s"]))
    return out


def spread_leaders(cluster: Cluster) -> None:
    """Quorum leaders all start on the declaring node; spread them as a real cluster would."""
    cluster.nodes[0]._tool("rabbitmq-queues", "rebalance", "quorum", check=False, timeout=120)


def all_members_online(cluster: Cluster, queues: list[str]) -> bool:
    node = cluster.any_running()
    rows = node.json("list_queues", "name", "members", "online")
    wanted = {r["name"]: r for r in rows if r.get("name") in queues}
    return len(wanted) == len(queues) and all(
        len(r.get("online") or []) == len(cluster.nodes) for r in wanted.values())


def kill_leader(cluster: Cluster, env: HubEnv, queue: str, fig: Figures) -> tuple[Node, Kill]:
    leader = cluster.leader(queue)
    reconnects_before = sum(p.log_events("reconnecting") for p in env.processes)
    leader.kill()
    kill = Kill(queue, leader.name, time.time())
    fig.kills.append(kill)
    recovered_before = len(recoveries(env))
    before = delivered(env)
    wait_for(lambda: delivered(env) > before + 10, 180, f"deliveries after killing {leader.name}")
    time.sleep(max(0.0, kill.at + 20 - time.time()))  # the stall is measured over 20 s
    kill.stall_s = round(stall_across(env, kill.at), 3)
    kill.hub_reconnected = sum(p.log_events("reconnecting") for p in env.processes) > reconnects_before
    kill.hub_recovery_s = [round(s, 2) for s in recoveries(env)[recovered_before:]]
    return leader, kill


def count(env: HubEnv, bodies: list[bytes], fig: Figures) -> None:
    """Sink, journal and ledger agree: each copy delivered exactly once, none lost."""
    by_digest = {digest(b): b for b in bodies}
    expected = {(sid, d) for d in by_digest for sid in RECIPIENTS.values()}
    found = env.delivered_copies(by_digest)
    tally = env.tally()
    fig.delivered = len(found)
    fig.delivered_twice = sum(n - 1 for n in tally.writes.values() if n > 1)
    fig.lost = len(expected - found)
    with Ledger.open(env.ledger_url) as ledger:
        for d in by_digest:
            pkg = ledger.get_package(d)
            assert pkg is not None and pkg.outcome is Outcome.ACCEPTED, (d, pkg)
            for organ in RECIPIENTS:
                steps = [t.state for t in ledger.history(d, organ)]
                assert steps.count(TransportState.DELIVERED) == 1, (d, organ, steps)
        assert ledger.verify_chain().ok


def run_stream(cluster: Cluster, tmp: Path, scenario: str, n: int,
               faults: Callable[[HubEnv, Figures], None]) -> Figures:
    bodies = [make_edoc(SENDER, list(RECIPIENTS), i + 1, notation=scenario.upper()) for i in range(n)]
    fig = Figures(scenario, n, 2 * n)
    with cluster_hub_environment(cluster, unique_prefix("clu"), tmp) as env:
        spread_leaders(cluster)
        hub = env.spawn()
        hub.wait_ready(120)
        start = time.monotonic()
        # the submitter starts on the second node, the hub on the first
        flood = FailoverFlood(user_urls(cluster, env, "tinh-nghean", start=1), env.names.intake_exchange,
                              bodies, max_rate=RATE, window=64)
        thread = threading.Thread(target=flood.run, name="flood", daemon=True)
        thread.start()
        try:
            wait_for(lambda: delivered(env) >= fig.copies // 5, 300, "a fifth of the stream delivered")
            faults(env, fig)
            thread.join(600)
            assert not thread.is_alive(), f"the submitter never got every package confirmed: {flood.report}"
        finally:
            flood.stop()
        wait_for(lambda: delivered(env) >= fig.copies, 600, "every copy delivered")
        fig.total_s = round(time.monotonic() - start, 1)
        fig.confirmed = flood.report.confirmed
        fig.submitter_republished = flood.report.republished
        fig.submitter_outages_s = [round(s, 2) for s in flood.report.outages_s]
        assert hub.alive, hub.tail()
        assert hub.terminate() == 0, hub.tail()
        time.sleep(0.5)
        count(env, bodies, fig)
    print("\n" + fig.line())
    return fig


def test_topology_replicated_on_three_nodes(cluster: Cluster, tmp_path: Path) -> None:
    """Every queue of the topology has three members, one per node (explicit group size)."""
    with cluster_hub_environment(cluster, unique_prefix("clu"), tmp_path) as env:
        names = Names(env.prefix)
        rows = cluster.nodes[1].json("list_queues", "name", "type", "members", "arguments")
        ours = [r for r in rows if names.owns(str(r["name"]))]
        assert len(ours) > 20
        nodes = {n.name for n in cluster.nodes}
        for r in ours:
            assert r["type"] == "quorum", r
            assert set(r["members"]) == nodes, r  # type: ignore[arg-type]


def test_kill_intake_leader(cluster: Cluster, tmp_path: Path) -> None:
    """The short run: kill -9 the intake queue's leader mid-stream, restart it."""

    def faults(env: HubEnv, fig: Figures) -> None:
        node, _ = kill_leader(cluster, env, env.names.intake_queue, fig)
        node.start()

    fig = run_stream(cluster, tmp_path, "kill-intake", SHORT, faults)
    assert fig.confirmed == fig.packages and fig.delivered == fig.copies
    assert fig.delivered_twice == 0 and fig.lost == 0
    assert fig.kills[0].stall_s < 60, fig


@pytest.mark.slow
def test_kill_intake_then_delivery_leader(cluster: Cluster, tmp_path: Path) -> None:
    """The full run: intake leader killed, restarted and caught up; then the leader of the
    province DMS's delivery queue killed and restarted."""

    def faults(env: HubEnv, fig: Figures) -> None:
        names = env.names
        node, _ = kill_leader(cluster, env, names.intake_queue, fig)
        node.start()
        watched = [names.intake_queue, names.system_queue("tinh-nghean", "normal")]
        wait_for(lambda: all_members_online(cluster, watched), 180, f"{node.name} back in the queues")
        node, _ = kill_leader(cluster, env, names.system_queue("tinh-nghean", "normal"), fig)
        node.start()

    fig = run_stream(cluster, tmp_path, "kill-two", FULL, faults)
    assert fig.confirmed == fig.packages and fig.delivered == fig.copies
    assert fig.delivered_twice == 0 and fig.lost == 0
    assert all(k.stall_s < 60 for k in fig.kills), fig
