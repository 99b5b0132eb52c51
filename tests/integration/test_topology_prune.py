"""Directory changes on a live broker: why additive declares are not enough, and the prune.

Version 1: the province DMS serves all of H41 and binds `H41.#`. Version 2 (the sample)
carves huyện Thanh Chương out for its own DMS. Applying v2 without pruning leaves the
province's old `H41.#` in place: a package for a Thanh Chương commune reaches both systems. With the prune, it reaches only the district DMS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pika
import pytest
import yaml

from router.directory.model import SAMPLE_DIRECTORY, Directory
from router.topology.build import TopologyOptions, build_topology
from router.topology.declare import apply_to_url, apply_topology, list_bindings_rabbitmqctl, stale_bindings
from router.topology.names import LANE_HEADER
from tests.integration.test_topology_broker import _require_rabbitmqctl, drain

pytestmark = pytest.mark.integration


@pytest.fixture
def channel(amqp_url: str) -> Iterator[Any]:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ch = conn.channel()
    ch.confirm_delivery()
    yield ch
    conn.close()


def _province_only() -> Directory:
    data = yaml.safe_load(SAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    data["systems"] = [s for s in data["systems"] if s["id"] != "huyen-thanhchuong"]
    return Directory.from_dict(data)


def _where(ch: Any, topo: Any, code: str) -> set[str]:
    exchange, key = topo.route_for(code)
    props = pika.BasicProperties(delivery_mode=2, message_id=code, headers={LANE_HEADER: "normal"})
    ch.basic_publish(exchange, key, b"x", props, mandatory=True)
    return {q.name for q in topo.queues if drain(ch, q.name)}


def test_carving_out_a_district_needs_the_prune(amqp_url: str, broker_prefix: str, channel: Any) -> None:
    _require_rabbitmqctl()
    options = TopologyOptions(prefix=broker_prefix, retry_delays_s=(1,))
    v1 = build_topology(_province_only(), options)
    v2 = build_topology(Directory.from_dict(yaml.safe_load(SAMPLE_DIRECTORY.read_text(encoding="utf-8"))), options)
    n = v2.names
    apply_topology(v1, channel)
    assert _where(channel, v1, "000.31.25.H41") == {n.system_queue("tinh-nghean", "normal")}

    apply_topology(v2, channel)  # additive only: the old binding survives
    assert _where(channel, v2, "000.31.25.H41") == {
        n.system_queue("tinh-nghean", "normal"), n.system_queue("huyen-thanhchuong", "normal")
    }
    stale = stale_bindings(v2, list_bindings_rabbitmqctl())
    assert {(b.destination, b.routing_key) for b in stale} == {(n.system_exchange("tinh-nghean"), "H41.#")}

    report = apply_to_url(v2, amqp_url, prune=list_bindings_rabbitmqctl)
    assert sorted((b.routing_key, b.source) for b in report.pruned) == [
        ("H41.#", n.level_exchange(lv)) for lv in (1, 2, 3, 4)
    ]
    assert _where(channel, v2, "000.31.25.H41") == {n.system_queue("huyen-thanhchuong", "normal")}
    assert stale_bindings(v2, list_bindings_rabbitmqctl()) == []
    assert apply_to_url(v2, amqp_url, prune=list_bindings_rabbitmqctl).pruned == ()
