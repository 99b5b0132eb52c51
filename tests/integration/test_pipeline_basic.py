"""The pipeline end to end on the real broker: samples routed, statuses back, rejections."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from router.ledger.events import TransportState
from tests.support.hub import running_hub
from tests.support.samples import EDOC_1, EDOC_2, STATUS_1, sample

pytestmark = pytest.mark.integration


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_samples_are_routed_and_status_comes_back(
    amqp_url: str, broker_prefix: str, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    ledger_url = request.getfixturevalue("pg_ledger_url") if backend == "postgresql" else None
    with running_hub(amqp_url, broker_prefix, tmp_path, ledger_url=ledger_url) as hub:
        r1 = hub.submit("tinh-nghean", sample(EDOC_1))
        assert r1.confirmed
        assert r1.result is not None, "no intake result"
        assert r1.result["outcome"] == "accepted", r1.result
        assert r1.result["routed"] == {"tinh-nghean": ["000.00.13.H41"]}
        r2 = hub.submit("huyen-thanhchuong", sample(EDOC_2))
        assert r2.result is not None and r2.result["routed"] == {"huyen-thanhchuong": ["000.31.25.H41"]}
        wait_for(lambda: len(hub.inbox("tinh-nghean")) == 1 and len(hub.inbox("huyen-thanhchuong")) == 1)
        assert hub.inbox("tinh-nghean")[0].read_bytes() == sample(EDOC_1)  # byte for byte
        led = hub.hub.ledger
        assert led.delivery_state(r1.result["digest"], "000.00.13.H41").state is TransportState.DELIVERED  # type: ignore[union-attr]

        r3 = hub.submit("tinh-nghean", sample(STATUS_1))  # the department's DMS is the province DMS
        assert r3.result is not None and r3.result["outcome"] == "accepted", r3.result
        wait_for(lambda: len(hub.inbox("tinh-nghean")) == 2)
        trace = led.trace("000.00.00.H41,2025/03/14,1234/UBND-KGVX")
        by_organ = {o.organ: o for o in trace.organs}
        assert [s.status_code for s in by_organ["000.00.13.H41"].statuses] == ["03"]
        assert by_organ["000.00.13.H41"].deliveries[0].delivery.state is TransportState.DELIVERED
