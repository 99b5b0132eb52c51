"""The decision time is the hub's own receipt time: a submitter's AMQP `timestamp` (here forged
to 2019, when Thanh Tiên still existed) neither stamps the ledger nor decides a merger."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

import pika
import pytest

from router.pipeline.clock import fixed_clock
from tests.support.hub import running_hub
from tests.support.packages import make_edoc

pytestmark = pytest.mark.integration

RECEIVED = datetime.fromisoformat("2025-07-01T01:00+07:00").astimezone(UTC)
FORGED = int(datetime(2019, 6, 1, tzinfo=UTC).timestamp())
DISSOLVED, SUCCESSOR = "000.32.25.H41", "000.31.25.H41"


def test_forged_amqp_timestamp_is_ignored(amqp_url: str, broker_prefix: str, tmp_path: Path) -> None:
    body = make_edoc("000.00.00.H41", [DISSOLVED], 42)
    with running_hub(amqp_url, broker_prefix, tmp_path, clock=fixed_clock(RECEIVED)) as hub:
        conn = pika.BlockingConnection(pika.URLParameters(hub.user_url("tinh-nghean")))
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            ch.basic_publish(hub.hub.topology.names.intake_exchange, "", body, pika.BasicProperties(
                delivery_mode=2, user_id=f"{broker_prefix}-tinh-nghean", timestamp=FORGED), mandatory=True)
        finally:
            conn.close()
        digest = hashlib.sha256(body).hexdigest()
        deadline = time.monotonic() + 30

        def routed() -> bool:  # accepted and routed are recorded in turn: wait for the routing
            state = hub.hub.ledger.delivery_state(digest, DISSOLVED)
            return state is not None and state.forwarded_to is not None

        while not routed() and time.monotonic() < deadline:
            time.sleep(0.1)
        row = hub.hub.ledger.get_package(digest)
        assert row is not None and row.received_at == RECEIVED
        delivery = hub.hub.ledger.delivery_state(digest, DISSOLVED)
        assert delivery is not None and delivery.forwarded_to == SUCCESSOR
