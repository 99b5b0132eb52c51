"""Topology as data: the non-overlapping cover, queue arguments, names, routes, export."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.directory.model import SAMPLE_DIRECTORY, Directory, load_directory
from router.topology.build import Topology, TopologyOptions, build_topology, cover, patterns_by_system
from router.topology.definitions import export_definitions
from router.topology.names import LANE_HEADER, LANES, Names, lane_for_priority
from router.topology.simulate import headers_match, route, topic_matches
from schemas.organ import OrganId

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(SAMPLE_DIRECTORY)


@pytest.fixture(scope="module")
def topology(directory: Directory) -> Topology:
    return build_topology(directory, TopologyOptions(prefix="p", retry_delays_s=(1, 2, 3)))


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("H41.#", "H41.25.31.000", True),
        ("H41.#", "H41", True),  # '#' matches zero words
        ("H41.25.#", "H41.25.00.000", True),
        ("H41.25.#", "H41.26.00.000", False),
        ("H41.*.00.000", "H41.13.00.000", True),
        ("H41.*", "H41.13.00.000", False),
        ("#", "anything.at.all", True),
        ("H41.00.00.000", "H41.00.00.000", True),
        ("H41.00.00.000", "H41.00.00.001", False),
        ("#.000", "H41.25.31.000", True),
        ("H41.#.000", "H41.000", True),
    ],
)
def test_topic_matching(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected


def test_headers_matching() -> None:
    assert headers_match({"x-match": "all", LANE_HEADER: "urgent"}, {LANE_HEADER: "urgent", "other": 1})
    assert not headers_match({"x-match": "all", LANE_HEADER: "urgent"}, {LANE_HEADER: "normal"})
    assert not headers_match({"x-match": "all", LANE_HEADER: "urgent"}, {})


def _keys_matched_by_two_systems(topology: Topology, keys: list[str]) -> list[tuple[str, set[str]]]:
    by_system = patterns_by_system(topology.covers)
    out = []
    for key in keys:
        hits = {s for s, pats in by_system.items() if any(topic_matches(p, key) for p in pats)}
        if len(hits) > 1:
            out.append((key, hits))
    return out


def test_no_organ_key_matches_two_systems(directory: Directory, topology: Topology) -> None:
    keys = [o.routing_key for o in directory.organs]
    # plus codes the directory does not know, inside every subtree
    keys += [f"{o.routing_key.rsplit('.', 1)[0]}.999" for o in directory.organs]
    keys += ["H41.25.99.000", "H41.99.00.000", "H41.13.77.000"]
    assert _keys_matched_by_two_systems(topology, keys) == []


def test_the_district_dms_wins_its_district(topology: Topology) -> None:
    pats = patterns_by_system(topology.covers)
    assert pats["huyen-thanhchuong"] == ("H41.25.#",)
    assert "H41.#" not in pats["tinh-nghean"]
    assert "H41.00.00.000" in pats["tinh-nghean"]  # the province itself, as an exact key
    assert "H41.13.#" in pats["tinh-nghean"]
    assert not any(p.startswith("H41.25") for p in pats["tinh-nghean"])
    assert "truc-quoc-gia" not in pats  # reached through the alternate exchanges


def test_every_organ_routes_to_exactly_the_system_resolve_names(directory: Directory, topology: Topology) -> None:
    n = topology.names
    for i, organ in enumerate(directory.organs):
        res = directory.resolve(organ.code)
        assert res.system is not None, organ.code
        lane = LANES[i % 2]
        exchange, key = topology.route_for(res)
        assert route(topology, exchange, key, {LANE_HEADER: lane}) == {n.system_queue(res.system.id, lane)}
        # its own key (before forwarding) reaches the system serving its position
        own = directory.server_of(organ.code)
        assert own is not None
        assert route(topology, *topology.route_for(organ), {LANE_HEADER: lane}) == {n.system_queue(own.id, lane)}


def test_fall_through_paths(topology: Topology) -> None:
    n = topology.names
    lane = {LANE_HEADER: "normal"}
    assert route(topology, n.level_exchange(2), "H41.99.00.000", lane) == {n.unknown_queue}
    assert route(topology, n.level_exchange(1), "H29.00.00.000", lane) == {n.system_queue("truc-quoc-gia", "normal")}
    assert route(topology, n.level_exchange(1), "H41.00.00.000", {}) == frozenset()  # no lane: returned
    assert route(topology, n.intake_exchange, "", {}) == {n.intake_queue}
    retry = topology.retry_queue_for("tinh-nghean", 2)
    assert retry == "p.sys.tinh-nghean.retry.2"
    assert route(topology, "", retry, lane) == {retry}


def test_every_queue_is_quorum_with_explicit_arguments(topology: Topology) -> None:
    n = topology.names
    for q in topology.queues:
        assert q.durable and not q.auto_delete
        assert q.arguments["x-queue-type"] == "quorum", q.name
        assert isinstance(q.arguments["x-delivery-limit"], int), q.name
        assert q.arguments["x-overflow"] == "reject-publish", q.name
        if q.name != n.graveyard_queue:
            assert q.arguments["x-dead-letter-strategy"] == "at-least-once", q.name
            assert topology.exchange(q.arguments["x-dead-letter-exchange"]) is not None, q.name
    for sid in topology.systems:
        for lane in LANES:
            args = topology.queue(n.system_queue(sid, lane)).arguments  # type: ignore[union-attr]
            assert args["x-delivery-limit"] == 5
            assert args["x-dead-letter-exchange"] == n.dead_letter_exchange
            # the broker's own dead letters go to a queue the hub consumes and records, never
            # straight into a parked queue (that was how packages got parked silently)
            assert args["x-dead-letter-routing-key"] == n.deliver_dead
            assert route(topology, n.dead_letter_exchange, n.deliver_dead) == {n.deliver_dead}
        for tier, seconds in enumerate((1, 2, 3), start=1):
            args = topology.queue(n.retry_queue(sid, tier)).arguments  # type: ignore[union-attr]
            assert args["x-message-ttl"] == seconds * 1000
            assert args["x-dead-letter-exchange"] == n.system_exchange(sid)
        assert topology.retry_queue_for(sid, 4) is None
    assert "x-max-priority" not in json.dumps([dict(q.arguments) for q in topology.queues])


def test_intake_has_its_own_tiers_and_dead_letters_to_a_recorded_queue(topology: Topology) -> None:
    n = topology.names
    for q in (n.intake_queue, n.intake_retried):
        args = topology.queue(q).arguments  # type: ignore[union-attr]
        assert args["x-delivery-limit"] == 5
        assert (args["x-dead-letter-exchange"], args["x-dead-letter-routing-key"]) == (
            n.dead_letter_exchange, n.intake_dead)
    assert route(topology, n.dead_letter_exchange, n.intake_dead) == {n.intake_dead}
    for tier, seconds in enumerate((1, 2, 3), start=1):
        args = topology.queue(n.intake_retry_queue(tier)).arguments  # type: ignore[union-attr]
        assert args["x-message-ttl"] == seconds * 1000
        assert args["x-delivery-limit"] == 5
        assert (args["x-dead-letter-exchange"], args["x-dead-letter-routing-key"]) == (
            n.dead_letter_exchange, n.intake_retried)
    assert route(topology, n.dead_letter_exchange, n.intake_retried) == {n.intake_retried}
    # nothing dead-letters into a parked queue: only the hub parks, with a record
    parked = {n.intake_parked, *(n.parked_queue(s) for s in topology.systems)}
    assert not [q.name for q in topology.queues if q.arguments.get("x-dead-letter-routing-key") in parked]


def test_level_exchanges_fall_through_to_unrouted_then_external(topology: Topology) -> None:
    n = topology.names
    for lv in (1, 2, 3, 4):
        x = topology.exchange(n.level_exchange(lv))
        assert x is not None and x.type == "topic"
        assert x.arguments == {"alternate-exchange": n.unrouted_exchange}
    assert topology.exchange(n.unrouted_exchange).arguments == {"alternate-exchange": n.external_exchange}  # type: ignore[union-attr]
    # an exact key binds only on its own level; a subtree pattern on its level and below
    province = [b for b in topology.bindings if b.routing_key == "H41.00.00.000"]
    assert [b.source for b in province] == [n.level_exchange(1)]
    district = sorted(b.source for b in topology.bindings if b.routing_key == "H41.25.#")
    assert district == [n.level_exchange(lv) for lv in (2, 3, 4)]


def test_build_is_pure_and_deterministic(directory: Directory) -> None:
    a = build_topology(directory, TopologyOptions(prefix="p"))
    b = build_topology(load_directory(SAMPLE_DIRECTORY), TopologyOptions(prefix="p"))
    assert export_definitions(a) == export_definitions(b)


def test_definitions_export_is_the_topology(topology: Topology) -> None:
    defs = json.loads(json.dumps(export_definitions(topology), ensure_ascii=False))
    assert {q["name"]: q["arguments"] for q in defs["queues"]} == {q.name: dict(q.arguments) for q in topology.queues}
    assert {(x["name"], x["type"]) for x in defs["exchanges"]} == {(x.name, x.type) for x in topology.exchanges}
    assert len(defs["bindings"]) == len(topology.bindings)
    assert {(b["source"], b["destination"], b["destination_type"], b["routing_key"]) for b in defs["bindings"]} == {
        (b.source, b.destination, b.destination_type, b.routing_key) for b in topology.bindings
    }
    assert all(item["vhost"] == "/" for key in ("queues", "exchanges", "bindings") for item in defs[key])
    assert defs["policies"] == []


def test_route_for_refuses_what_must_be_rejected(directory: Directory, topology: Topology) -> None:
    with pytest.raises(ValueError, match="unknown_local"):
        topology.route_for(directory.resolve("000.00.99.H41"))
    with pytest.raises(ValueError, match="invalid"):
        topology.route_for(directory.resolve("not-a-code"))
    assert topology.route_for(directory.resolve("000.00.00.H29")) == ("p.level1", "H29.00.00.000")
    assert topology.route_for("000.31.25.H41") == ("p.level3", "H41.25.31.000")


def test_names_and_lanes() -> None:
    n = Names("lt-t-1")
    assert n.system_queue("tinh", "urgent") == "lt-t-1.sys.tinh.urgent"
    assert n.retry_queue("tinh", 1) == "lt-t-1.sys.tinh.retry.1"
    assert n.level_exchange(4) == "lt-t-1.level4"
    assert n.owns("lt-t-1.intake") and not n.owns("lt-t-10.intake")
    with pytest.raises(ValueError):
        n.level_exchange(5)
    with pytest.raises(ValueError):
        n.retry_queue("tinh", 0)
    with pytest.raises(ValueError):
        Names("bad prefix")
    assert [lane_for_priority(p) for p in (None, 0, 1, 2, 3, 4)] == ["normal", "normal", *["urgent"] * 4]


def test_level_skipping_codes_do_not_claim_their_code_parent() -> None:
    """`001.00.99.H44` is level 4; its pattern must not be `H44.99.#` (the subtree of 000.00.99.H44)."""
    assert OrganId.parse("001.00.99.H44").subtree_pattern == "H44.99.00.001"
    assert OrganId.parse("000.05.00.H44").subtree_pattern == "H44.00.05.#"
    assert OrganId.parse("000.46.24.H44").subtree_pattern == "H44.24.46.#"
    d = Directory.from_dict({
        "organs": [
            {"code": "000.00.00.H44", "name": "UBND tỉnh Phú Thọ"},
            {"code": "000.00.99.H44", "name": "Khối"},
            {"code": "001.00.99.H44", "name": "Hệ thống 1"},
            {"code": "002.00.99.H44", "name": "Hệ thống 2"},
        ],
        "systems": [
            {"id": "a", "name": "A", "broker_user": "a", "serves": ["000.00.00.H44"], "delivery": {"adapter": "file"}},
            {"id": "b", "name": "B", "broker_user": "b", "serves": ["001.00.99.H44"], "delivery": {"adapter": "file"}},
            {"id": "g", "name": "G", "broker_user": "g", "gateway": True, "delivery": {"adapter": "file"}},
        ],
    })
    t = build_topology(d, TopologyOptions(prefix="q"))
    assert patterns_by_system(t.covers) == {"a": ("H44.00.00.000", "H44.99.00.000", "H44.99.00.002"),
                                            "b": ("H44.99.00.001",)}
    for organ in d.organs:
        got = route(t, *t.route_for(organ), {LANE_HEADER: "normal"})
        assert got == {t.names.system_queue(d.server_of(organ.code).id, "normal")}  # type: ignore[union-attr]


# -- property: random directories with random carve-outs never overlap -------------------------

@st.composite
def directories(draw: Any) -> Directory:
    """A random H41 tree (levels 2–4, some level-skipping units) and 1–4 systems serving random
    subtrees, plus an external tree; the root always served (validation requires it)."""
    organs: list[dict[str, Any]] = [{"code": "000.00.00.H41", "name": "root"}, {"code": "000.00.00.G22", "name": "ext"}]
    l2s = draw(st.lists(st.integers(1, 12), min_size=1, max_size=6, unique=True))
    codes = ["000.00.00.H41"]
    for a in l2s:
        c2 = f"000.00.{a:02d}.H41"
        organs.append({"code": c2, "name": c2})
        codes.append(c2)
        for b in draw(st.lists(st.integers(1, 9), max_size=3, unique=True)):
            c3 = f"000.{b:02d}.{a:02d}.H41"
            organs.append({"code": c3, "name": c3})
            codes.append(c3)
            for c in draw(st.lists(st.integers(1, 5), max_size=2, unique=True)):
                c4 = f"{c:03d}.{b:02d}.{a:02d}.H41"
                organs.append({"code": c4, "name": c4})
                codes.append(c4)
        if draw(st.booleans()):  # a level-skipping unit directly under the level-2 organ
            c4 = f"007.00.{a:02d}.H41"
            organs.append({"code": c4, "name": c4})
            codes.append(c4)
    extra = draw(st.lists(st.sampled_from(codes[1:]), max_size=3, unique=True)) if len(codes) > 1 else []
    serves = [["000.00.00.H41"], *[[c] for c in extra]]
    systems = [
        {"id": f"s{i}", "name": f"S{i}", "broker_user": f"u{i}", "serves": s, "delivery": {"adapter": "file"}}
        for i, s in enumerate(serves)
    ]
    systems.append({"id": "gw", "name": "GW", "broker_user": "ugw", "gateway": True, "delivery": {"adapter": "file"}})
    return Directory.from_dict({"organs": organs, "systems": systems})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=directories(), unknown=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 12), st.integers(0, 9))))
def test_random_directories_cover_without_overlap(d: Directory, unknown: list[tuple[int, int, int]]) -> None:
    t = build_topology(d, TopologyOptions(prefix="r"))
    keys = [o.routing_key for o in d.organs] + [f"H41.{b:02d}.{c:02d}.{a:03d}" for a, b, c in unknown]
    assert _keys_matched_by_two_systems(t, keys) == []
    for organ in d.organs:
        server = d.server_of(organ.code)
        assert server is not None
        got = route(t, *t.route_for(organ), {LANE_HEADER: "urgent"})
        assert got == {t.names.system_queue(server.id, "urgent")}, (organ.code, cover(d))
