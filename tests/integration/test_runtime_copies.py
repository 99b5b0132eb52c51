"""Two copies of one package at the same time reach the sink once (real broker, ledger, sink).

Copies happen: a DMS re-sends what was not confirmed, and after a crash the intake routes again
what it had not recorded as routed. Worked on concurrently, both copies would pass the ledger's
"already delivered?" check before either is recorded — found by the SIGKILL resilience test
(tests/integration/test_resilience.py) as a file written twice.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from adapters.folder import FolderSink
from adapters.sink import Handover, SinkResult
from router.hub import pika_user
from router.ledger.events import TransportState
from tests.integration.test_pipeline_basic import wait_for
from tests.support.faults import ScriptedSink
from tests.support.flood import Flood
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import make_edoc

pytestmark = pytest.mark.integration

PROVINCE, DEPT = "000.00.00.H41", "000.00.13.H41"


@pytest.fixture
def hub(amqp_url: str, broker_prefix: str, tmp_path: Path) -> Iterator[RunningHub]:
    sink = ScriptedSink(FolderSink(tmp_path / "deliver" / "tinh-nghean"))
    with running_hub(amqp_url, broker_prefix, tmp_path, sinks={"tinh-nghean": sink}) as h:
        yield h


def slow(h: Handover) -> SinkResult | None:
    time.sleep(0.5)  # a slow DMS: the second copy arrives while the first is still in the sink
    return None


def calls(hub: RunningHub, digest: str) -> int:
    sink = hub.hub.sinks["tinh-nghean"]
    assert isinstance(sink, ScriptedSink)
    return sum(1 for d, _ in sink.calls if d == digest)


def test_two_routed_copies_at_once_reach_the_sink_once(hub: RunningHub) -> None:
    body = make_edoc(PROVINCE, [DEPT], 9001)
    digest = hashlib.sha256(body).hexdigest()
    sink = hub.hub.sinks["tinh-nghean"]
    assert isinstance(sink, ScriptedSink)
    sink.script(digest, slow, slow)
    # the copy the intake would publish, published twice back to back (as after a crash)
    decision = hub.hub.intake_stage().process(body, hub.hub.directory.systems["tinh-nghean"].broker_user)
    (copy,) = decision.publishes
    conn = pika.BlockingConnection(pika.URLParameters(hub.amqp_url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        hub.hub.ledger.append(decision.before)
        for _ in range(2):
            ch.basic_publish(copy.exchange, copy.routing_key, copy.body,
                             pika.BasicProperties(delivery_mode=2, headers=dict(copy.headers),
                                                  user_id=pika_user(hub.amqp_url)),  # as the hub publishes it
                             mandatory=True)
    finally:
        conn.close()
    wait_for(lambda: (row := hub.hub.ledger.delivery_state(digest, DEPT)) is not None
             and row.state is TransportState.DELIVERED)
    wait_for(lambda: hub.queue_depth(hub.hub.topology.names.system_queue("tinh-nghean", "normal")) == 0)
    time.sleep(1.0)  # let a second sink call, if any, happen
    assert calls(hub, digest) == 1
    assert len([f for f in hub.inbox("tinh-nghean") if f.read_bytes() == body]) == 1


def test_the_same_submission_twice_at_once_is_routed_once(hub: RunningHub) -> None:
    body = make_edoc(PROVINCE, [DEPT], 9002)
    digest = hashlib.sha256(body).hexdigest()
    sent = Flood(hub.user_url("tinh-nghean"), hub.hub.topology.names.intake_exchange, [body, body], window=2).run()
    assert sent.done
    wait_for(lambda: (row := hub.hub.ledger.get_package(digest)) is not None and row.duplicates_absorbed == 1)
    wait_for(lambda: calls(hub, digest) >= 1)
    time.sleep(1.0)
    assert calls(hub, digest) == 1
    history = [t.state for t in hub.hub.ledger.history(digest, DEPT)]
    assert history.count(TransportState.ROUTED) == 1, history
