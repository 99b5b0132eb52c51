"""Issue 13 item 3: two provinces, two hubs, two brokers, exchanging over RabbitMQ shovels.

Nghệ An's hub runs on one broker node of the test's own, Hà Tĩnh's on another (both with the
`rabbitmq_shovel` plugin; tests/support/cluster.py — the shared broker is never touched). Each
directory has a link system serving the other province (tests/support/cluster_provinces.py);
each broker runs the link's shovel (router/topology/links.py) from `P.link.<link>` to the other
hub's intake. Nghệ An's province DMS sends a stream of documents, each to UBND tỉnh Hà Tĩnh and to
a Nghệ An department; mid-stream Hà Tĩnh's broker is stopped for a while (the link drops, and
Hà Tĩnh's hub loses its broker). Then Hà Tĩnh's DMS answers each document with a status 01,
and mid-way the shovel's connection into Nghệ An's broker is closed. Counted: every document in
Hà Tĩnh's inbox once, byte for byte, every status in Nghệ An's inbox once; nothing written twice
at a sink; the ledgers agree. Printed as PROVINCES {...} for the README.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from router.ledger.events import Outcome, TransportState
from router.ledger.store import Ledger
from router.topology.build import TopologyOptions, build_topology
from router.topology.links import links_of, set_shovels
from schemas.codes import StatusCode
from schemas.parse import parse_package
from tests.support.cluster import Cluster, Node, available, own_nodes
from tests.support.cluster_hub import cluster_hub_environment
from tests.support.cluster_provinces import Province, two_provinces
from tests.support.flood import Flood
from tests.support.packages import document_id, make_edoc, make_status
from tests.support.procs import PASSWORD, HubEnv
from tests.support.services import unique_prefix
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

N = int(os.environ.get("LIENTHONG_PROVINCES_PACKAGES", "200"))
SENDER = "000.00.00.H41"  # UBND tỉnh Nghệ An, served by tinh-nghean
REMOTE = "000.00.00.H42"  # UBND tỉnh Hà Tĩnh, served by tinh-hatinh (reached via lien-tinh-hatinh)
LOCAL = "000.00.13.H41"  # Sở Thông tin và Truyền thông tỉnh Nghệ An
NOTATION = "LIEN-TINH"


@dataclass
class Figures:
    documents: int
    confirmed_to_sender: int = 0
    delivered_in_ha_tinh: int = 0
    delivered_locally: int = 0
    statuses_back: int = 0
    written_twice: int = 0
    lost: int = 0
    duplicates_absorbed_in_ha_tinh: int = 0
    link_down_s: float = 0.0
    link_catch_up_s: float = 0.0
    total_s: float = 0.0

    def line(self) -> str:
        return "PROVINCES " + json.dumps(asdict(self), ensure_ascii=False)


@pytest.fixture(scope="module")
def brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not available():
        pytest.skip("RabbitMQ server scripts not installed (/usr/lib/rabbitmq/bin)")
    with own_nodes(tmp_path_factory.mktemp("provinces"), 2, label="lt-prov", join=False,
                   plugins=("rabbitmq_shovel",)) as nodes:
        yield nodes


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()



def files(env: HubEnv, sid: str, kind: str) -> list[Path]:
    return [f for f in env.inbox(sid).delivered() if f.name.startswith(f"{kind}-")]


def link(province: Province, env: HubEnv, node: Node, other: Node, other_province: Province) -> None:
    """Define the shovel from this hub's link queue to the other hub's intake."""
    topology = build_topology(province.directory, TopologyOptions(prefix=env.prefix))
    url = other.url_for(other_province.link_user, PASSWORD)
    names = set_shovels(links_of(province.directory, topology), node.ctl, {province.link_url_env: url},
                        reconnect_delay_s=1)
    assert names == [env.names.link_queue(province.link)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "running" in node.ctl("shovel_status", check=False).stdout:
            return
        time.sleep(0.5)
    raise AssertionError(f"shovel not running on {node.name}: {node.ctl('shovel_status', check=False).stdout}")


def close_connections_of(node: Node, user: str) -> int:
    out = node.ctl("list_connections", "pid", "user", "--no-table-headers").stdout
    closed = 0
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[1].strip() == user:
            node.ctl("close_connection", parts[0].strip(), "test: the link between provinces drops", check=False)
            closed += 1
    return closed


def test_two_provinces_exchange_over_shovels(brokers: Cluster, tmp_path: Path) -> None:
    x, y = brokers.nodes
    na, ht = two_provinces(unique_prefix("na"), unique_prefix("ht"), tmp_path / "directories")
    bodies = [make_edoc(SENDER, [REMOTE, LOCAL], i + 1, notation=NOTATION) for i in range(N)]
    fig = Figures(N)
    with cluster_hub_environment(Cluster([x], tmp_path), na.prefix, tmp_path / "nghe-an", directory=na.directory,
                                 directory_file=na.directory_file) as env_na, \
            cluster_hub_environment(Cluster([y], tmp_path), ht.prefix, tmp_path / "ha-tinh", directory=ht.directory,
                                    directory_file=ht.directory_file, hub_organ=REMOTE) as env_ht:
        link(na, env_na, x, y, ht)
        link(ht, env_ht, y, x, na)
        hub_na, hub_ht = env_na.spawn(), env_ht.spawn()
        hub_na.wait_ready(120)
        hub_ht.wait_ready(120)
        start = time.monotonic()

        # documents Nghệ An → Hà Tĩnh, the link dropping mid-stream
        flood = Flood(env_na.user_url("tinh-nghean"), env_na.names.intake_exchange, bodies, max_rate=20, window=32)
        thread = threading.Thread(target=flood.run, name="flood-na", daemon=True)
        thread.start()
        try:
            wait_for(lambda: len(files(env_ht, "tinh-hatinh", "edoc")) >= N // 4, 300, "documents reaching Hà Tĩnh")
            y.ctl("stop_app")  # Hà Tĩnh's broker goes away: the link and Hà Tĩnh's hub lose it
            down = time.monotonic()
            time.sleep(8)
            y.ctl("start_app")
            y.wait_ready()
            fig.link_down_s = round(time.monotonic() - down, 1)
            thread.join(300)
            assert not thread.is_alive(), f"Nghệ An's DMS never got every document confirmed: {flood.report}"
        finally:
            flood.stop()
        fig.confirmed_to_sender = flood.report.confirmed
        wait_for(lambda: len(files(env_ht, "tinh-hatinh", "edoc")) >= N, 300, "every document in Hà Tĩnh")
        fig.link_catch_up_s = round(time.monotonic() - down, 1)

        # statuses Hà Tĩnh → Nghệ An, the shovel's connection into Nghệ An's broker closed mid-way
        statuses = [make_status(REMOTE, SENDER, i + 1, StatusCode.ARRIVED, notation=NOTATION) for i in range(N)]
        back = Flood(env_ht.user_url("tinh-hatinh"), env_ht.names.intake_exchange, statuses, max_rate=20, window=32)
        thread = threading.Thread(target=back.run, name="flood-ht", daemon=True)
        thread.start()
        try:
            wait_for(lambda: len(files(env_na, "tinh-nghean", "status")) >= N // 4, 300, "statuses reaching Nghệ An")
            assert close_connections_of(x, na.link_user) >= 1, "no shovel connection from Hà Tĩnh to close"
            thread.join(300)
            assert not thread.is_alive(), f"Hà Tĩnh's DMS never got every status confirmed: {back.report}"
        finally:
            back.stop()
        wait_for(lambda: len(files(env_na, "tinh-nghean", "status")) >= N, 300, "every status in Nghệ An")
        fig.total_s = round(time.monotonic() - start, 1)
        assert hub_na.terminate() == 0, hub_na.tail()
        assert hub_ht.terminate() == 0, hub_ht.tail()
        count(env_na, env_ht, bodies, fig)
    print("\n" + fig.line())
    assert fig.confirmed_to_sender == N
    assert fig.delivered_in_ha_tinh == N and fig.delivered_locally == N and fig.statuses_back == N
    assert fig.written_twice == 0 and fig.lost == 0


def count(env_na: HubEnv, env_ht: HubEnv, bodies: list[bytes], fig: Figures) -> None:
    by_digest = {digest(b): b for b in bodies}
    at_ht = {f.name: f for f in files(env_ht, "tinh-hatinh", "edoc")}
    local = {f.name for f in files(env_na, "tinh-nghean", "edoc")}
    for d, body in by_digest.items():
        remote = at_ht.get(f"edoc-{d[:32]}-tinh-hatinh.edxml")
        if remote is not None:
            assert remote.read_bytes() == body, f"{remote.name} differs from the document sent"
            fig.delivered_in_ha_tinh += 1
        else:
            fig.lost += 1
    fig.delivered_locally = sum(1 for d in by_digest if f"edoc-{d[:32]}-tinh-nghean.edxml" in local)
    fig.lost += len(by_digest) - fig.delivered_locally
    about: dict[str, list[str]] = {}
    for f in files(env_na, "tinh-nghean", "status"):
        header = parse_package(f.read_bytes()).package.header
        about.setdefault(header.response_for.document_id, []).append(f.name)  # type: ignore[union-attr]
    wanted = {document_id(SENDER, i + 1, NOTATION) for i in range(len(bodies))}
    fig.statuses_back = len(wanted & set(about))
    fig.lost += len(wanted - set(about))
    fig.written_twice = sum(n - 1 for env in (env_na, env_ht) for n in env.tally().writes.values() if n > 1)
    with Ledger.open(env_na.ledger_url) as ledger:
        for d in by_digest:
            for organ in (REMOTE, LOCAL):
                steps = [t.state for t in ledger.history(d, organ)]
                assert steps.count(TransportState.DELIVERED) == 1, (d, organ, steps)
        assert ledger.verify_chain().ok
    with Ledger.open(env_ht.ledger_url) as ledger:
        for d in by_digest:
            pkg = ledger.get_package(d)
            assert pkg is not None and pkg.outcome is Outcome.ACCEPTED, (d, pkg)
            fig.duplicates_absorbed_in_ha_tinh += pkg.duplicates_absorbed
            steps = [t.state for t in ledger.history(d, REMOTE)]
            assert steps.count(TransportState.DELIVERED) == 1, (d, steps)
        assert ledger.verify_chain().ok
