"""Queue type and quorum group size as settings; the list of cluster nodes the hub tries."""

from __future__ import annotations

import pytest

from router.directory.model import load_directory
from router.settings import PACKAGE_DATA, Settings
from router.topology.build import TopologyOptions, build_topology

pytestmark = pytest.mark.unit


def test_every_queue_names_its_type_and_group_size() -> None:
    topo = build_topology(load_directory(PACKAGE_DATA / "nghe_an.yaml"), TopologyOptions(quorum_initial_group_size=5))
    for q in topo.queues:
        assert q.arguments["x-queue-type"] == "quorum", q.name
        assert q.arguments["x-quorum-initial-group-size"] == 5, q.name
        assert q.arguments["x-overflow"] == "reject-publish", q.name
        assert isinstance(q.arguments["x-delivery-limit"], int), q.name


def test_group_size_zero_leaves_the_argument_out_for_older_queues() -> None:
    topo = build_topology(load_directory(PACKAGE_DATA / "nghe_an.yaml"), TopologyOptions(quorum_initial_group_size=0))
    assert all("x-quorum-initial-group-size" not in q.arguments for q in topo.queues)


def test_other_queue_types_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="delivery limit"):
        TopologyOptions(queue_type="classic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="group size"):
        TopologyOptions(quorum_initial_group_size=-1)


def test_settings_carry_group_size_and_failover_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_QUORUM_INITIAL_GROUP_SIZE", "3")
    monkeypatch.setenv("LIENTHONG_AMQP_URL", "amqp://hub:pw@10.0.0.1:5672/%2F")
    monkeypatch.setenv("LIENTHONG_AMQP_FAILOVER_URLS",
                       "amqp://hub:pw@10.0.0.2:5672/%2F, amqp://hub:pw@10.0.0.3:5672/%2F")
    s = Settings()
    assert s.topology_options().quorum_initial_group_size == 3
    assert [u.split("@")[1][:8] for u in s.broker_urls] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    monkeypatch.setenv("LIENTHONG_AMQP_FAILOVER_URLS", '["amqp://hub:pw@10.0.0.2:5672/%2F"]')
    assert len(Settings().broker_urls) == 2
    monkeypatch.delenv("LIENTHONG_AMQP_FAILOVER_URLS")
    assert Settings().broker_urls == ("amqp://hub:pw@10.0.0.1:5672/%2F",)
