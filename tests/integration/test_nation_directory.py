"""A generated directory of the nation's shape (tests/support/nation.py, 2,000 organs here; the
full ~110,000 in `python -m tests.perf.bench_directory`): it loads from its YAML file, and its
topology routes every organ to exactly the queue of the system serving it — all of them through
the in-memory model, a sample through the real broker."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pika
import pytest
import yaml

from router.directory.model import Directory, load_directory
from router.topology.build import Topology, TopologyOptions, build_topology
from router.topology.declare import apply_topology
from tests.support.nation import GATEWAY, SMALL, broker_misroutes, expected_queue, misroutes, nation_directory


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Directory:
    path = tmp_path_factory.mktemp("nation") / "nation.yaml"
    path.write_text(yaml.safe_dump(nation_directory(SMALL), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_directory(path)


def test_the_generated_directory_has_the_nation_shape(directory: Directory) -> None:
    assert 1900 <= len(directory) <= 2200
    levels = {o.level for o in directory.organs}
    assert levels == {1, 2, 3, 4}
    assert len(directory.local_roots) == SMALL.provinces
    assert directory.gateway.id == GATEWAY
    # carve-outs two deep: a unit's own DMS inside a department's inside the province's
    unit = next(s for s in directory.systems.values() if s.id.startswith("dv-"))
    code = unit.serves[0]
    organ = directory.organ(code)
    assert organ is not None and organ.parent is not None
    dept = directory.server_of(organ.parent)
    assert dept is not None and dept.id.startswith("so-")


def test_every_organ_reaches_exactly_its_system_queue_in_the_model(directory: Directory) -> None:
    topology = build_topology(directory)
    assert misroutes(directory, topology) == []
    # and the check does see a wrong route: drop one system's cover and its organs go elsewhere
    victim = next(c for c in topology.covers if c.system.startswith("xa-"))
    crippled = build_topology(directory)
    object.__setattr__(crippled, "bindings", tuple(
        b for b in crippled.bindings if not (b.routing_key == victim.pattern and victim.system in b.destination)))
    wrong = misroutes(directory, crippled)
    assert wrong and {w.code for w in wrong} >= {victim.organ}
    assert all(w.expected == expected_queue(directory, topology, w.code) for w in wrong)


@pytest.fixture
def channel(amqp_url: str) -> Iterator[Any]:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    yield conn.channel()
    if conn.is_open:
        conn.close()


@pytest.mark.integration
def test_a_sample_of_organs_reaches_exactly_its_system_queue_on_the_broker(
    directory: Directory, broker_prefix: str, channel: Any
) -> None:
    topology: Topology = build_topology(directory, TopologyOptions(prefix=broker_prefix, quorum_initial_group_size=1))
    apply_topology(topology, channel)
    sample = random.Random(13).sample([o.code for o in directory.organs], 200)
    assert broker_misroutes(channel, directory, topology, sample) == []


def test_nation_size_is_what_the_benchmark_measures() -> None:
    from tests.support.nation import NATION

    data = nation_directory(NATION)
    assert 105_000 <= len(data["organs"]) <= 115_000
    assert 950 <= len(data["systems"]) <= 1_100
    assert len({o["code"] for o in data["organs"]}) == len(data["organs"])
