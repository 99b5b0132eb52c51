"""Push delivery through the whole hub on the real broker, to a real HTTP endpoint on loopback:
an endpoint failing for a while recovers through the retry tiers; one that answers 4xx gets the
package parked and its sender a failure notice; a dead endpoint opens the breaker, which stops
the requests, and its probe closes it when the endpoint is back. One hub for the module (a hub
takes seconds to set up on a loaded machine); the breaker test runs last."""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from adapters.registry import SINKS, SinkPlace
from adapters.webhook import WebhookSink
from router.ledger.events import TransportState
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import make_edoc
from tests.support.services import delete_broker_objects, unique_prefix
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import Receiver, receiver

pytestmark = pytest.mark.integration

A, B = "tinh-nghean", "huyen-thanhchuong"  # province DMS → district DMS (webhook)
PROVINCE, DISTRICT = "000.00.00.H41", "000.00.25.H41"
TRANSITIONS = "lienthong_webhook_breaker_transitions_total"


def webhook_id(body: bytes, system: str = B) -> str:
    return f"edoc-{hashlib.sha256(body).hexdigest()[:32]}-{system}"


@pytest.fixture(scope="module")
def pushed(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningHub, Receiver]]:
    tmp_path = tmp_path_factory.mktemp("webhook")
    prefix = unique_prefix("wh")
    with receiver() as rx, pytest.MonkeyPatch.context() as mp:
        mp.setenv("LT_TEST_HOOK_SECRET", rx.secret)
        opts = SINKS.options("webhook", {"url": rx.url, "secret_env": "LT_TEST_HOOK_SECRET", "timeout_s": 1,
                                         "breaker_min_attempts": 10, "breaker_pause_s": 2})
        sink = SINKS.build("webhook", opts, SinkPlace(B, tmp_path))  # as the hub builds it
        assert isinstance(sink, WebhookSink)
        try:
            with running_hub(amqp_url, prefix, tmp_path, sinks={B: sink},
                             retry_delays_s=(1, 1, 1, 1, 1, 1, 1, 1)) as hub:
                yield hub, rx
        finally:
            sink.close()
            delete_broker_objects(prefix)


def _delivered(hub: RunningHub, digest: str) -> bool:
    row = hub.hub.ledger.delivery_state(digest, DISTRICT)
    return row is not None and row.state is TransportState.DELIVERED


def test_an_endpoint_failing_for_a_while_recovers_through_the_tiers(pushed: tuple[RunningHub, Receiver]) -> None:
    hub, rx = pushed
    body = make_edoc(PROVINCE, [DISTRICT], 101)
    wid = webhook_id(body)
    rx.per_id[wid] = deque(["503", "drop", "500"])  # three bad answers; the tiers are 1 s each
    r = hub.submit(A, body)
    assert r.result is not None and r.result["outcome"] == "accepted", r.result
    wait_for(lambda: wid in rx.inbox)
    assert rx.inbox[wid] == body and rx.bad_signatures == 0  # byte for byte, signed
    assert [a for w, a in rx.log if w == wid] == ["503", "drop", "500", "ok"]  # one id across every retry
    wait_for(lambda: _delivered(hub, r.result["digest"]))  # type: ignore[index]


def test_a_4xx_parks_the_package_and_tells_the_sender(pushed: tuple[RunningHub, Receiver]) -> None:
    hub, rx = pushed
    body = make_edoc(PROVINCE, [DISTRICT], 102)
    wid = webhook_id(body)
    rx.per_id[wid] = deque(["422"] * 5)
    r = hub.submit(A, body)
    assert r.result is not None and r.result["outcome"] == "accepted", r.result
    digest = r.result["digest"]

    def parked() -> bool:
        row = hub.hub.ledger.delivery_state(digest, DISTRICT)
        return row is not None and row.state is TransportState.PARKED

    wait_for(parked)
    assert [a for w, a in rx.log if w == wid] == ["422"]  # refused for good: not retried
    assert wid not in rx.inbox

    def notices() -> list[bytes]:
        return [b for b in (p.read_bytes() for p in hub.inbox(A)) if b"DELIVERY_REFUSED" in b]

    wait_for(lambda: bool(notices()))
    notice = notices()[0].decode()
    assert "<edXML" in notice and "HTTP" not in notice  # the clerk's text, not the wire's
    assert hub.queue_depth(hub.hub.topology.names.parked_queue(B)) == 1


def test_a_dead_endpoint_opens_the_breaker_and_recovers_by_its_probe(pushed: tuple[RunningHub, Receiver]) -> None:
    hub, rx = pushed
    opened = REGISTRY.get_sample_value(TRANSITIONS, {"system": B, "to": "open"}) or 0.0
    rx.always = "503"
    bodies = [make_edoc(PROVINCE, [DISTRICT], 200 + i) for i in range(12)]
    for body in bodies:
        assert hub.submit(A, body, want_reply=False).confirmed
    wait_for(lambda: (REGISTRY.get_sample_value(TRANSITIONS, {"system": B, "to": "open"}) or 0) > opened)
    assert REGISTRY.get_sample_value("lienthong_webhook_breaker_state", {"system": B}) in (1.0, 2.0)
    at_open = rx.requests()
    time.sleep(1.5)  # retries keep coming back from the 1 s tiers; the breaker keeps them off the wire
    assert rx.requests() <= at_open + 1  # at most the one probe
    rx.always = None  # the endpoint is back
    ids = {webhook_id(b): b for b in bodies}
    wait_for(lambda: set(ids) <= set(rx.inbox), timeout=40)
    assert all(rx.inbox[w] == b for w, b in ids.items())
    assert REGISTRY.get_sample_value("lienthong_webhook_breaker_state", {"system": B}) == 0
    assert (REGISTRY.get_sample_value(TRANSITIONS, {"system": B, "to": "closed"}) or 0) >= 1
