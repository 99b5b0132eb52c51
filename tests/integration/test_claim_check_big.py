"""A 200 MB package routed through the claim check with the hub's peak RSS under 300 MB, on a
broker left at RabbitMQ 4.x's default `max_message_size` (16 MiB): the hub is `lienthong run`
in its own process, the package is dropped in a drop folder and reaches two recipient systems
byte for byte (tests/perf/bench_bigpackage.py measures and prints the same figures). The node is
the test's own (tests/support/cluster.py), so the shared broker's configuration is untouched;
the test first shows that node refusing a 17 MiB message, so a 200 MB one could only have
travelled as a reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.perf.bench_bigpackage import MAX_MESSAGE_SIZE, broker_refuses, measure
from tests.support.bigpackage import MiB
from tests.support.cluster import available, own_nodes

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.skipif(not available(), reason="needs the RabbitMQ server binaries for an own node")]

PEAK_RSS_MB = 300


def test_the_own_node_refuses_what_rabbitmq_4_refuses(tmp_path: Path) -> None:
    with own_nodes(tmp_path, 1, label="lt-max", config=f"max_message_size = {MAX_MESSAGE_SIZE}\n") as cluster:
        url = cluster.nodes[0].url
        assert broker_refuses(url, 15 * MiB) == "accepted"
        assert "larger than configured max size" in broker_refuses(url, 17 * MiB)


def test_a_200_mb_package_routes_with_bounded_hub_memory(tmp_path: Path) -> None:
    (run,) = measure([200], "own", keep=tmp_path)
    print(f"\nCLAIM-BIG {run.row()}")
    assert run.identical
    assert run.size_bytes >= 199_000_000
    assert run.peak_mb < PEAK_RSS_MB, run.row()
