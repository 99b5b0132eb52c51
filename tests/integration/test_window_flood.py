"""Work per window on the real broker and ledger: a flood that waits on the queue before the
hub starts, so the workers take it in windows, with exact copies and same-DocumentId pairs in
it. Every package ends once: delivered once, absorbed as a duplicate, or refused
DUPLICATE_CONFLICT — and the ledger's chain verifies."""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from router.ledger.events import Outcome, TransportState
from schemas.findings import Code
from tests.integration.test_pipeline_basic import wait_for
from tests.support.flood import Flood
from tests.support.hub import running_hub
from tests.support.packages import make_edoc

pytestmark = pytest.mark.integration

PROVINCE, DEPT, DISTRICT = "000.00.00.H41", "000.00.13.H41", "000.00.25.H41"


def _windows(stage: str) -> tuple[float, float]:
    count = REGISTRY.get_sample_value("lienthong_windows_total", {"stage": stage}) or 0.0
    total = REGISTRY.get_sample_value("lienthong_window_messages_total", {"stage": stage}) or 0.0
    return count, total


def test_a_flood_taken_in_windows_ends_every_package_once(amqp_url: str, broker_prefix: str, tmp_path: Path) -> None:
    distinct = [make_edoc(PROVINCE, [DEPT, DISTRICT], 7000 + i) for i in range(40)]
    pairs = [(make_edoc(PROVINCE, [DEPT], 7100 + i), make_edoc(PROVINCE, [DEPT], 7100 + i, subject=f"Khác {i}"))
             for i in range(8)]
    copies = distinct[:10]
    bodies = distinct + [b for pair in pairs for b in pair] + copies
    before = {stage: _windows(stage) for stage in ("intake", "deliver")}
    with running_hub(amqp_url, broker_prefix, tmp_path, start=False) as hub:
        sent = Flood(hub.user_url("tinh-nghean"), hub.hub.topology.names.intake_exchange, bodies, window=64).run()
        assert sent.done
        hub.start()
        ledger = hub.hub.ledger

        def delivered(body: bytes) -> bool:
            digest = hashlib.sha256(body).hexdigest()
            return all((row := ledger.delivery_state(digest, r)) is not None and row.state is TransportState.DELIVERED
                       for r in (DEPT, DISTRICT))

        wait_for(lambda: all(delivered(b) for b in distinct), timeout=60)
        def absorbed(body: bytes) -> bool:
            row = ledger.get_package(hashlib.sha256(body).hexdigest())
            return row is not None and row.duplicates_absorbed == 1

        def decided(*bodies: bytes) -> bool:
            return all(ledger.get_package(hashlib.sha256(b).hexdigest()) is not None for b in bodies)

        for body in copies:
            wait_for(partial(absorbed, body), timeout=30)
        for first, second in pairs:
            wait_for(partial(decided, first, second), timeout=30)
            rows = [ledger.get_package(hashlib.sha256(b).hexdigest()) for b in (first, second)]
            outcomes = sorted((r.outcome, r.reason_code) for r in rows if r is not None)
            assert outcomes == sorted([(Outcome.ACCEPTED, None), (Outcome.REJECTED, Code.DUPLICATE_CONFLICT.value)])
        wait_for(lambda: hub.queue_depth(hub.hub.topology.names.system_queue("tinh-nghean", "normal")) == 0)
        inbox = [f.read_bytes() for f in hub.inbox("tinh-nghean")]
        accepted_pairs = [b for pair in pairs for b in pair
                          if (r := ledger.get_package(hashlib.sha256(b).hexdigest())) and r.outcome is Outcome.ACCEPTED]
        for body in distinct + accepted_pairs:
            assert inbox.count(body) == 1
        assert ledger.verify_chain().ok
    for stage in ("intake", "deliver"):
        count, total = _windows(stage)
        assert total - before[stage][1] > count - before[stage][0], f"{stage}: no message was taken in a window"
