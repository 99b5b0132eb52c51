"""Work per window on the real broker and ledger: a flood that waits on the queue before the
hub starts, and its copies on theirs before delivery starts, so the workers take them in windows, with exact copies and same-DocumentId pairs in
it. Every package ends once: delivered once, absorbed as a duplicate, or refused
DUPLICATE_CONFLICT — and the ledger's chain verifies."""

from __future__ import annotations

import hashlib
import threading
import time
from functools import partial
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from adapters.folder import FolderSink
from adapters.sink import Handover, SinkResult
from router.ledger.events import Outcome, TransportState
from router.pipeline.signatures import NoSignatureCheck, SignatureOutcome
from schemas.findings import Code
from schemas.parse import ParsedPackage
from tests.integration.test_pipeline_basic import wait_for
from tests.support.faults import ScriptedSink
from tests.support.flood import Flood
from tests.support.hub import running_hub
from tests.support.packages import make_edoc

pytestmark = pytest.mark.integration

PROVINCE, DEPT, DISTRICT = "000.00.00.H41", "000.00.13.H41", "000.00.25.H41"


def _windows(stage: str) -> tuple[float, float]:
    count = REGISTRY.get_sample_value("lienthong_windows_total", {"stage": stage}) or 0.0
    total = REGISTRY.get_sample_value("lienthong_window_messages_total", {"stage": stage}) or 0.0
    return count, total


class _SlowAtFirst(NoSignatureCheck):
    """Verification that takes its time on the first calls (a cold cache, a busy HSM): the
    workers are held while the flood comes in, so what follows waits for them and is taken in
    windows — on an idle pool each message would be taken as it arrives."""

    def __init__(self, slow_calls: int, seconds: float) -> None:
        self._slow_calls, self._seconds, self._calls = slow_calls, seconds, 0
        self._lock = threading.Lock()

    def check(self, body: bytes, parsed: ParsedPackage, system_id: str) -> SignatureOutcome:
        with self._lock:
            self._calls += 1
            slow = self._calls <= self._slow_calls
        if slow:
            time.sleep(self._seconds)
        return super().check(body, parsed, system_id)


def _slow(h: Handover) -> SinkResult | None:
    time.sleep(0.3)  # a slow DMS: the copies behind wait for the workers
    return None


def test_a_flood_taken_in_windows_ends_every_package_once(amqp_url: str, broker_prefix: str, tmp_path: Path) -> None:
    distinct = [make_edoc(PROVINCE, [DEPT, DISTRICT], 7000 + i) for i in range(40)]
    pairs = [(make_edoc(PROVINCE, [DEPT], 7100 + i), make_edoc(PROVINCE, [DEPT], 7100 + i, subject=f"Khác {i}"))
             for i in range(8)]
    copies = distinct[:10]
    bodies = distinct + [b for pair in pairs for b in pair] + copies
    before = {stage: _windows(stage) for stage in ("intake", "deliver")}
    sink = ScriptedSink(FolderSink(tmp_path / "deliver" / "tinh-nghean"))
    for body in distinct:
        sink.script(hashlib.sha256(body).hexdigest(), _slow)
    with running_hub(amqp_url, broker_prefix, tmp_path, start=False, sinks={"tinh-nghean": sink},
                     signatures=_SlowAtFirst(3, 0.5)) as hub:
        sent = Flood(hub.user_url("tinh-nghean"), hub.hub.topology.names.intake_exchange, bodies, window=64).run()
        assert sent.done
        # intake first, so the copies too wait on their queues and delivery takes them in windows
        hub.start(deliver=False)
        ledger = hub.hub.ledger
        copy_queue = hub.hub.topology.names.system_queue("tinh-nghean", "normal")
        wait_for(lambda: hub.queue_depth(copy_queue) >= len(distinct) + len(pairs), timeout=60)
        hub.start(intake=False)

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
