"""The topology on the real RabbitMQ: every organ of the sample directory reaches exactly the
system queue the directory names, fall-through paths, lanes, retry tiers, parking, idempotent
apply, clear mismatch reports, and definitions the broker accepts and lists back unchanged.

These runs are also the contract test of router/topology/simulate.py (the in-memory double):
every placement the broker makes is compared with the model's answer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pika
import pika.exceptions
import pytest

from router.directory.model import SAMPLE_DIRECTORY, Directory, load_directory
from router.topology.build import Topology, TopologyOptions, build_topology
from router.topology.declare import TopologyMismatchError, apply_topology
from router.topology.definitions import export_definitions, write_definitions
from router.topology.names import LANE_HEADER, LANES
from router.topology.simulate import route

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(SAMPLE_DIRECTORY)


@pytest.fixture
def connection(amqp_url: str) -> Iterator[pika.BlockingConnection]:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    yield conn
    if conn.is_open:
        conn.close()


@pytest.fixture
def channel(connection: pika.BlockingConnection) -> Any:
    ch = connection.channel()
    ch.confirm_delivery()
    return ch


@pytest.fixture
def topology(broker_prefix: str, directory: Directory, channel: Any) -> Topology:
    topo = build_topology(directory, TopologyOptions(prefix=broker_prefix, delivery_limit=3, retry_delays_s=(1, 2)))
    apply_topology(topo, channel)
    return topo


def publish(ch: Any, exchange: str, key: str, message_id: str, lane: str | None = "normal") -> None:
    headers = {LANE_HEADER: lane} if lane else {}
    props = pika.BasicProperties(delivery_mode=2, message_id=message_id, headers=headers)
    ch.basic_publish(exchange, key, message_id.encode(), props, mandatory=True)


def drain(ch: Any, queue: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    while True:
        method, props, _body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append((props.message_id, props.headers or {}))


def wait_for(ch: Any, queue: str, timeout: float = 20.0) -> tuple[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = drain(ch, queue)
        if got:
            assert len(got) == 1
            return got[0]
        time.sleep(0.2)
    raise AssertionError(f"nothing arrived in {queue} within {timeout}s")


def placements(ch: Any, topo: Topology) -> dict[str, set[str]]:
    where: dict[str, set[str]] = {}
    for q in topo.queues:
        for message_id, _ in drain(ch, q.name):
            where.setdefault(message_id, set()).add(q.name)
    return where


def test_every_organ_reaches_exactly_the_system_the_directory_names(
    directory: Directory, topology: Topology, channel: Any
) -> None:
    n = topology.names
    expected: dict[str, set[str]] = {}
    for i, organ in enumerate(directory.organs):
        lane = LANES[i % 2]
        res = directory.resolve(organ.code)
        assert res.system is not None, organ.code
        exchange, key = topology.route_for(res)
        publish(channel, exchange, key, f"resolved:{organ.code}", lane)
        expected[f"resolved:{organ.code}"] = {n.system_queue(res.system.id, lane)}
        # the organ's own key (no forwarding): what the model predicts, the broker must do
        exchange, key = topology.route_for(organ)
        publish(channel, exchange, key, f"own:{organ.code}", lane)
        expected[f"own:{organ.code}"] = set(route(topology, exchange, key, {LANE_HEADER: lane}))
    got = placements(channel, topology)
    wrong = {m: (got.get(m), want) for m, want in expected.items() if got.get(m) != want}
    assert wrong == {}
    assert len(expected) == 2 * len(directory)
    assert all(len(v) == 1 for v in expected.values())
    # the forwarded (dissolved) organs really moved: Thanh Tùng → Thanh Hưng's system
    assert expected["resolved:000.33.25.H41"] == {n.system_queue("huyen-thanhchuong", LANES[_index(directory, "000.33.25.H41") % 2])}


def _index(directory: Directory, code: str) -> int:
    return [o.code for o in directory.organs].index(code)


def test_unknown_codes_fall_through_to_unknown_or_the_gateway(topology: Topology, channel: Any) -> None:
    n = topology.names
    cases = {
        "inside-unknown-l2": (n.level_exchange(2), "H41.99.00.000", {n.unknown_queue}),
        "inside-unknown-l3": (n.level_exchange(3), "H41.98.12.000", {n.unknown_queue}),
        "outside-unknown": (n.level_exchange(1), "H29.00.00.000", {n.system_queue("truc-quoc-gia", "normal")}),
        "outside-known": (n.level_exchange(1), "G22.00.00.000", {n.system_queue("truc-quoc-gia", "normal")}),
        "outside-deep": (n.level_exchange(3), "G12.18.40.000", {n.system_queue("truc-quoc-gia", "normal")}),
    }
    for mid, (exchange, key, _) in cases.items():
        publish(channel, exchange, key, mid)
    got = placements(channel, topology)
    for mid, (exchange, key, want) in cases.items():
        assert got.get(mid) == want, mid
        assert route(topology, exchange, key, {LANE_HEADER: "normal"}) == want


def test_lanes_and_a_missing_lane_header(topology: Topology, channel: Any) -> None:
    n = topology.names
    exchange, key = topology.route_for("000.00.13.H41")
    publish(channel, exchange, key, "u1", "urgent")
    publish(channel, exchange, key, "n1", "normal")
    assert [m for m, _ in drain(channel, n.system_queue("tinh-nghean", "urgent"))] == ["u1"]
    assert [m for m, _ in drain(channel, n.system_queue("tinh-nghean", "normal"))] == ["n1"]
    with pytest.raises(pika.exceptions.UnroutableError):
        publish(channel, exchange, key, "no-lane", None)  # mandatory: the publisher learns it
    assert route(topology, exchange, key, {}) == frozenset()


def test_a_message_in_a_retry_tier_comes_back_to_its_lane(topology: Topology, channel: Any) -> None:
    n = topology.names
    sid = "huyen-thanhchuong"
    tier = topology.retry_queue_for(sid, 1)
    assert tier is not None
    publish(channel, "", tier, "retry-me", "urgent")
    assert drain(channel, n.system_queue(sid, "urgent")) == []  # not before the TTL
    message_id, headers = wait_for(channel, n.system_queue(sid, "urgent"))
    assert message_id == "retry-me"
    assert headers[LANE_HEADER] == "urgent"
    assert headers["x-death"][0]["queue"] == tier and headers["x-death"][0]["reason"] == "expired"
    assert drain(channel, n.system_queue(sid, "normal")) == []


def test_rejected_and_crash_looping_messages_reach_the_recorded_dead_queue(topology: Topology, channel: Any) -> None:
    """The broker's own dead letters go to a queue the hub consumes (and records), not straight
    into a parked queue where nobody would know of them."""
    n = topology.names
    sid = "tinh-nghean"
    exchange, key = topology.route_for("000.00.13.H41")
    queue = n.system_queue(sid, "normal")

    publish(channel, exchange, key, "refused")
    method, _, _ = channel.basic_get(queue)
    channel.basic_reject(method.delivery_tag, requeue=False)
    assert wait_for(channel, n.deliver_dead)[0] == "refused"

    publish(channel, exchange, key, "poison")
    deliveries = 0
    while True:  # a consumer that fails every time: the delivery limit parks it
        method, _, _ = channel.basic_get(queue)
        if method is None:
            break
        deliveries += 1
        channel.basic_reject(method.delivery_tag, requeue=True)
        assert deliveries <= 10, "delivery limit not enforced"
    message_id, headers = wait_for(channel, n.deliver_dead)
    assert message_id == "poison"
    assert deliveries == topology.options.delivery_limit + 1
    assert headers["x-death"][0]["reason"] == "delivery_limit"


def test_apply_twice_is_a_no_op(topology: Topology, channel: Any) -> None:
    _require_rabbitmqctl()
    before = broker_state(topology.names.prefix)
    report = apply_topology(topology, channel)
    assert (report.queues, report.bindings) == (len(topology.queues), len(topology.bindings))
    assert broker_state(topology.names.prefix) == before


def test_an_argument_mismatch_is_named_not_a_traceback(
    directory: Directory, topology: Topology, connection: pika.BlockingConnection
) -> None:
    changed = build_topology(
        directory, TopologyOptions(prefix=topology.names.prefix, delivery_limit=9, retry_delays_s=(1, 2))
    )
    with pytest.raises(TopologyMismatchError) as info:
        apply_topology(changed, connection.channel())
    names = {m.name for m in info.value.mismatches}
    assert topology.names.system_queue("tinh-nghean", "urgent") in names
    assert {m.argument for m in info.value.mismatches} == {"x-delivery-limit"}
    assert all(m.kind == "queue" for m in info.value.mismatches)
    text = str(info.value)
    assert "x-delivery-limit" in text and "Traceback" not in text
    assert connection.is_open  # the failed declares did not take the connection down


def test_the_broker_lists_exactly_what_the_export_says(topology: Topology) -> None:
    _require_rabbitmqctl()
    assert broker_state(topology.names.prefix) == state_from_definitions(export_definitions(topology))


def test_the_broker_imports_the_export_and_apply_agrees(
    directory: Directory, broker_prefix: str, channel: Any
) -> None:
    _require_rabbitmqctl()
    topo = build_topology(directory, TopologyOptions(prefix=f"{broker_prefix}.imp", retry_delays_s=(1, 2)))
    # rabbitmqctl runs as the rabbitmq user: pytest's private tmp dir is out of its reach
    fd, name = tempfile.mkstemp(prefix=f"{broker_prefix}-", suffix=".json")
    os.close(fd)
    path = write_definitions(topo, name)
    try:
        path.chmod(0o644)
        subprocess.run(["rabbitmqctl", "-q", "import_definitions", str(path)], check=True, timeout=120)
    finally:
        path.unlink()
    want = state_from_definitions(export_definitions(topo))
    deadline = time.monotonic() + 60
    while broker_state(topo.names.prefix) != want:  # 3.10 imports asynchronously
        assert time.monotonic() < deadline, "imported definitions never matched the export"
        time.sleep(0.5)
    apply_topology(topo, channel)  # no mismatch: the export and the declares agree on types
    assert broker_state(topo.names.prefix) == want


# -- broker listings --------------------------------------------------------------------------------


def _require_rabbitmqctl() -> None:
    if shutil.which("rabbitmqctl") is None:
        if os.environ.get("CI"):
            pytest.fail("rabbitmqctl is needed to list the broker's objects")
        pytest.skip("rabbitmqctl not available")


def _ctl(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["rabbitmqctl", "-q", "--formatter", "json", *args], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout) if out.stdout.strip() else []


def _args(raw: Any) -> tuple[tuple[str, Any], ...]:
    """rabbitmqctl lists [[name, type, value], …]; definitions use a mapping."""
    if isinstance(raw, dict):
        return tuple(sorted(raw.items()))
    return tuple(sorted((name, value) for name, _type, value in raw))


State = tuple[frozenset[Any], frozenset[Any], frozenset[Any]]


def broker_state(prefix: str) -> State:
    mine = f"{prefix}."
    queues = frozenset(
        (q["name"], q["durable"], q["auto_delete"], _args(q["arguments"]))
        for q in _ctl("list_queues", "name", "durable", "auto_delete", "arguments")
        if q["name"].startswith(mine)
    )
    exchanges = frozenset(
        (x["name"], x["type"], x["durable"], _args(x["arguments"]))
        for x in _ctl("list_exchanges", "name", "type", "durable", "arguments")
        if x["name"].startswith(mine)
    )
    bindings = frozenset(
        (b["source_name"], b["destination_name"], b["destination_kind"], b["routing_key"], _args(b["arguments"]))
        for b in _ctl("list_bindings", "source_name", "destination_name", "destination_kind", "routing_key", "arguments")
        if b["source_name"].startswith(mine)
    )
    return queues, exchanges, bindings


def state_from_definitions(defs: dict[str, Any]) -> State:
    queues = frozenset((q["name"], q["durable"], q["auto_delete"], _args(q["arguments"])) for q in defs["queues"])
    exchanges = frozenset((x["name"], x["type"], x["durable"], _args(x["arguments"])) for x in defs["exchanges"])
    bindings = frozenset(
        (b["source"], b["destination"], b["destination_type"], b["routing_key"], _args(b["arguments"]))
        for b in defs["bindings"]
    )
    return queues, exchanges, bindings
