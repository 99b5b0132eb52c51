"""Links between provinces as data: which systems are links, their outbound queues, their shovels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.amqp import LinkSink
from adapters.registry import SINKS, ShovelOptions, SinkPlace
from router.topology.build import TopologyOptions, build_topology
from router.topology.links import LinkError, links_of, set_shovels, shovel_value
from tests.support.cluster_provinces import two_provinces

pytestmark = pytest.mark.unit


@pytest.fixture
def provinces(tmp_path: Path):  # type: ignore[no-untyped-def]
    return two_provinces("lt-na", "lt-ht", tmp_path)


def test_a_link_system_gets_an_outbound_queue_and_the_other_province_one_binding(provinces) -> None:  # type: ignore[no-untyped-def]
    na, _ = provinces
    topo = build_topology(na.directory, TopologyOptions(prefix="lt-na"))
    link_queues = [q.name for q in topo.queues if ".link." in q.name]
    assert link_queues == ["lt-na.link.lien-tinh-hatinh"]
    assert topo.queue("lt-na.link.lien-tinh-hatinh").arguments["x-dead-letter-routing-key"] == "lt-na.graveyard"  # type: ignore[union-attr]
    covers = [c for c in topo.covers if c.system == "lien-tinh-hatinh"]
    assert [c.organ for c in covers] == ["000.00.00.H42"], covers  # the whole province: one pattern
    resolution = na.directory.resolve("000.00.28.H42")  # UBND huyện Can Lộc
    assert resolution.outcome == "local" and resolution.system is not None
    assert resolution.system.id == "lien-tinh-hatinh"


def test_shovel_carries_the_link_queue_to_the_other_intake_as_the_given_login(provinces) -> None:  # type: ignore[no-untyped-def]
    na, _ = provinces
    (link,) = links_of(na.directory, build_topology(na.directory, TopologyOptions(prefix="lt-na")))
    value = shovel_value(link, "amqps://lt-ht-lien-tinh-nghean:s%40cret@hatinh.example:5671/%2F")
    assert value["src-queue"] == "lt-na.link.lien-tinh-hatinh"
    assert value["dest-exchange"] == "lt-ht.intake"
    assert value["dest-publish-properties"] == {"user_id": "lt-ht-lien-tinh-nghean", "delivery_mode": 2}
    assert value["ack-mode"] == "on-confirm"


def test_set_shovels_defines_nothing_when_a_url_is_missing(provinces) -> None:  # type: ignore[no-untyped-def]
    na, _ = provinces
    links = links_of(na.directory, build_topology(na.directory, TopologyOptions(prefix="lt-na")))
    calls: list[tuple[str, ...]] = []
    with pytest.raises(LinkError, match="LT_LINK_HATINH_URL is not set"):
        set_shovels(links, lambda *a: calls.append(a), {})
    assert calls == []
    with pytest.raises(LinkError, match="amqp://"):
        set_shovels(links, lambda *a: calls.append(a), {"LT_LINK_HATINH_URL": "https://hatinh.example/"})
    names = set_shovels(links, lambda *a: calls.append(a), {"LT_LINK_HATINH_URL": "amqp://u:p@h:5672/%2F"})
    assert names == ["lt-na.link.lien-tinh-hatinh"]
    assert calls[0][:3] == ("set_parameter", "shovel", "lt-na.link.lien-tinh-hatinh")
    assert json.loads(calls[0][3])["src-queue"] == "lt-na.link.lien-tinh-hatinh"


def test_the_hub_builds_a_link_sink_on_its_own_broker() -> None:
    options = SINKS.options("shovel", {"remote_prefix": "lt-ht", "remote_url_env": "LT_LINK_HATINH_URL"})
    assert isinstance(options, ShovelOptions)
    sink = SINKS.build("shovel", options, SinkPlace("lien-tinh-hatinh", Path("."), amqp_urls=("amqp://hub:pw@127.0.0.1:5672/%2F",),
                                                    link_queue="lt-na.link.lien-tinh-hatinh"))
    assert isinstance(sink, LinkSink) and sink.queue == "lt-na.link.lien-tinh-hatinh"
    with pytest.raises(ValueError, match="environment variable"):
        SINKS.options("shovel", {"remote_url_env": "amqp://u:p@h/"})


def test_topology_links_dry_run_prints_the_shovel_without_its_password(provinces, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from router.cli import app as lienthong

    na, _ = provinces
    runner = CliRunner()
    monkeypatch.delenv("LT_LINK_HATINH_URL", raising=False)
    unset = runner.invoke(lienthong, ["topology", "links", "--dry-run", "--directory", str(na.directory_file),
                                      "--prefix", "lt-na"])
    assert unset.exit_code == 0, unset.output
    assert "LT_LINK_HATINH_URL not set" in unset.output
    monkeypatch.setenv("LT_LINK_HATINH_URL", "amqps://lt-ht-lien-tinh-nghean:s3cret@hatinh.example:5671/%2F")
    shown = runner.invoke(lienthong, ["topology", "links", "--dry-run", "--directory", str(na.directory_file),
                                      "--prefix", "lt-na"])
    assert shown.exit_code == 0, shown.output
    assert "s3cret" not in shown.output and ":***@hatinh.example" in shown.output
    assert '"dest-exchange": "lt-ht.intake"' in shown.output
    assert runner.invoke(lienthong, ["topology", "links", "--help"]).exit_code == 0
