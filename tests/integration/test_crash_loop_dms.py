"""Issue 7, item 2: in a SIGKILL crash loop, a DMS that moves its files out of the inbox must
not receive a package twice.

The real `lienthong run` (a separate process) is killed 0.4 s after each time it is ready, again
and again, while a DMS (a thread on the real file system) moves every package out of its inbox
as soon as it appears. Every package is re-delivered to the sink when its message was unacked
at the kill; the folder sink's journal is what stops a second copy (the inbox no longer has the
first). The DMS counts what it received by the hand-over's stable id, the file name.

Slow (a minute or more): run with `scripts/test.sh --slow`. The default run holds the same
promise in tests/contract/ (a real process killed at each point of one hand-over).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from adapters.folder import SUFFIX
from tests.support.flood import Flood
from tests.support.packages import make_edoc
from tests.support.procs import HubEnv, hub_environment
from tests.support.services import unique_prefix

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

N = int(os.environ.get("LIENTHONG_CRASH_LOOP_PACKAGES", "200"))
KILLS = int(os.environ.get("LIENTHONG_CRASH_LOOP_KILLS", "10"))
SENDER = "000.00.00.H41"
RECIPIENTS = {"000.00.13.H41": "tinh-nghean", "000.31.25.H41": "huyen-thanhchuong"}


class MovingDms(threading.Thread):
    """Takes each complete package (and its sidecar) out of the inbox into its archive, and
    counts by file name — the stable id — how often it received each."""

    def __init__(self, env: HubEnv, archive: Path) -> None:
        super().__init__(name="dms", daemon=True)
        self.env, self.archive = env, archive
        self.received: Counter[tuple[str, str]] = Counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sweep()
            time.sleep(0.02)
        self.sweep()

    def sweep(self) -> None:
        for sid in RECIPIENTS.values():
            target = self.archive / sid
            target.mkdir(parents=True, exist_ok=True)
            for f in self.env.inbox(sid).delivered():
                n = self.received[(sid, f.name)]
                f.rename(target / f"{f.name}.{n}")  # a second copy would not overwrite the first
                sidecar = f.with_suffix(".json")
                if sidecar.exists():
                    sidecar.rename(target / f"{sidecar.name}.{n}")
                self.received[(sid, f.name)] += 1


def test_a_dms_moving_its_files_out_receives_each_package_once_in_a_crash_loop(
    amqp_url: str, tmp_path: Path
) -> None:
    bodies = [make_edoc(SENDER, list(RECIPIENTS), i + 1, notation="LOOP") for i in range(N)]
    # a message unacked at every kill is redelivered each time: a delivery limit above the number
    # of kills keeps this test about duplicates (parking at the limit is tested elsewhere)
    with hub_environment(amqp_url, unique_prefix("loop"), tmp_path, delivery_limit=KILLS + 10) as env:
        dms = MovingDms(env, tmp_path / "archive")
        dms.start()
        flood = Flood(env.user_url("tinh-nghean"), env.names.intake_exchange, bodies)
        assert flood.run().done  # the broker holds the whole batch; the crash loop works through it
        kills = 0
        start = time.monotonic()
        for _ in range(KILLS):
            hub = env.spawn(journal=False)
            hub.wait_ready()
            time.sleep(0.4)
            hub.kill()
            kills += 1
            if sum(dms.received.values()) >= 2 * N:
                break
        received_in_loop = sum(dms.received.values())
        last = env.spawn(journal=False)
        last.wait_ready()
        deadline = time.monotonic() + 180
        while len(dms.received) < 2 * N and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # anything re-delivered late would show now
        assert last.terminate() == 0, last.tail()
        dms.stopping.set()
        dms.join(10)

        expected = {(sid, f"edoc-{hashlib.sha256(b).hexdigest()[:32]}-{sid}{SUFFIX}") for b in bodies for sid in RECIPIENTS.values()}
        twice = {k: n for k, n in dms.received.items() if n > 1}
        figures = {"packages": N, "copies": 2 * N, "kills": kills, "received_during_loop": received_in_loop,
                   "received_twice": len(twice), "seconds": round(time.monotonic() - start, 1)}
        print(f"\nCRASH-LOOP {json.dumps(figures)}")
        assert 0 < received_in_loop < 2 * N, f"the kills did not land mid-batch: {figures}"
        assert not twice, f"{len(twice)} packages received twice, e.g. {sorted(twice)[:3]}"
        assert set(dms.received) == expected, f"missing: {sorted(expected - set(dms.received))[:3]}"
