"""A hub process (`lienthong run`, journaled sinks: tests/support/procs.py) on nodes of the
test's own (tests/support/cluster.py) instead of the shared broker, and a submitter that, like
the hub, tries each node of the cluster in turn.

Everything lives on the test's own nodes, which are killed with the test: the topology (quorum
queues with an explicit initial group size), the systems' broker users, the hub's account
(guest on loopback). Nothing is created on, or removed from, the shared broker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pika

from ops.provision import system_grant
from router.directory.model import Directory
from router.topology.build import TopologyOptions, build_topology
from router.topology.declare import apply_to_url
from tests.support.cluster import Cluster
from tests.support.flood import Flood
from tests.support.procs import PASSWORD, HubEnv, write_test_directory


def provision(cluster: Cluster, directory: Directory, prefix: str) -> None:
    """Each system's broker user, least privilege as in production (ops/provision.py's grant),
    created once: users and permissions are cluster-wide."""
    node = cluster.any_running()
    for sid, system in directory.systems.items():
        g = system_grant(system.broker_user, prefix, sid)
        node.add_user(g.user, PASSWORD, g.configure, g.write, g.read)


@contextmanager
def cluster_hub_environment(
    cluster: Cluster, prefix: str, root: Path, *, retry_delays_s: str = "[1,1,1]", delivery_limit: int = 3,
    group_size: int = 3, directory: Directory | None = None, directory_file: Path | None = None,
    **settings: str,
) -> Iterator[HubEnv]:
    """A HubEnv whose hub talks to every node of `cluster` (first node first, the others as
    `LIENTHONG_AMQP_FAILOVER_URLS`). `directory`/`directory_file`: another province's
    directory (its broker users must be unique); default the shipped Nghệ An one."""
    root.mkdir(parents=True, exist_ok=True)
    if directory is None or directory_file is None:
        directory_file = root / "directory.yaml"
        directory = write_test_directory(prefix, directory_file)
    urls = cluster.urls
    env = HubEnv(
        amqp_url=urls[0], prefix=prefix, root=root, directory=directory, directory_file=directory_file,
        ledger_url=f"sqlite:///{root / 'ledger.sqlite3'}", deliver_root=root / "deliver",
        journal=root / "sink-journal.log", settings_env={},
    )
    env.settings_env = {
        "LIENTHONG_AMQP_URL": urls[0],
        "LIENTHONG_AMQP_FAILOVER_URLS": ",".join(urls[1:]),
        "LIENTHONG_PREFIX": prefix,
        "LIENTHONG_DIRECTORY": str(directory_file),
        "LIENTHONG_LEDGER_URL": env.ledger_url,
        "LIENTHONG_DELIVER_ROOT": str(env.deliver_root),
        "LIENTHONG_RETRY_DELAYS_S": retry_delays_s,
        "LIENTHONG_DELIVERY_LIMIT": str(delivery_limit),
        "LIENTHONG_QUORUM_INITIAL_GROUP_SIZE": str(group_size),
        "LIENTHONG_GRACE_S": "10",
        **{f"LIENTHONG_{k.upper()}": v for k, v in settings.items()},
    }
    options = TopologyOptions(prefix=prefix, delivery_limit=delivery_limit,
                              retry_delays_s=tuple(json.loads(retry_delays_s)), quorum_initial_group_size=group_size)
    apply_to_url(build_topology(directory, options), urls)
    provision(cluster, directory, prefix)
    try:
        yield env
    finally:
        for p in env.processes:
            with suppress(Exception):
                p.kill()


def user_urls(cluster: Cluster, env: HubEnv, system_id: str, *, start: int = 0) -> list[str]:
    """A system's login on every node, beginning with node `start`."""
    user = env.directory.systems[system_id].broker_user
    urls = cluster.urls_for(user, PASSWORD)
    return urls[start:] + urls[:start]


class FailoverFlood(Flood):
    """The windowed, re-sending submitter of tests/support/flood.py, connecting to the next node
    of the cluster each time a connection fails or is lost (what a DMS facing a cluster does)."""

    def __init__(self, urls: Sequence[str], exchange: str, bodies: Sequence[bytes], **options: Any) -> None:
        super().__init__(urls[0], exchange, bodies, **options)
        self._nodes = [pika.URLParameters(u) for u in urls]
        self._attempt = 0

    def _connect_once(self) -> None:
        self.params = self._nodes[self._attempt % len(self._nodes)]
        self._attempt += 1
        super()._connect_once()
