"""Issue 3, last acceptance line: the hub survives SIGKILL and a broker restart mid-batch.

Each test runs the real `lienthong run` as a separate process (tests/support/procs.py) on the
real broker, with a real SQLite ledger and the real folder sinks, journaled so a second write of
a file would be seen. The submitter is a DMS that re-sends whatever the broker did not confirm
(tests/support/flood.py). Afterwards every package must be in its recipients' inboxes exactly
once, the ledger must say `delivered` for exactly those (digest, recipient) pairs, and the
evidence chain must verify. The counts (redeliveries absorbed, time to recover) are printed;
the assertions are about correctness only — speed is measured by tests/perf/bench_router.py.

Slow (about a minute each): run with `scripts/test.sh --slow`. The broker restart happens on a
RabbitMQ node of the test's own (tests/support/cluster.py), never on the shared broker.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from router.ledger.events import Outcome, TransportState
from router.ledger.store import Ledger
from tests.support.cluster import available, own_nodes
from tests.support.cluster_hub import cluster_hub_environment
from tests.support.flood import Flood, flood_in_thread
from tests.support.packages import make_edoc
from tests.support.procs import HubEnv, JournalEntry, hub_environment, read_journal
from tests.support.services import unique_prefix
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

N = int(os.environ.get("LIENTHONG_RESILIENCE_PACKAGES", "2000"))
SENDER = "000.00.00.H41"  # UBND tỉnh, served by the province DMS
#: one recipient on each local system: every package is two copies, two sinks
RECIPIENTS = {"000.00.13.H41": "tinh-nghean", "000.31.25.H41": "huyen-thanhchuong"}


@dataclass
class Figures:
    scenario: str
    packages: int
    copies: int
    delivered_before_fault: int = 0
    submitter_republished: int = 0
    submitter_reconnects: int = 0
    intake_duplicates_absorbed: int = 0
    sink_calls: int = 0
    sink_skips_existing: int = 0
    died_inside_sink: int = 0
    recover_s: float = 0.0
    total_s: float = 0.0


def batch(notation: str, n: int = N) -> list[bytes]:
    return [make_edoc(SENDER, list(RECIPIENTS), i + 1, notation=notation) for i in range(n)]


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def delivered(env: HubEnv) -> int:
    return sum(len(files) for files in env.delivered_files().values())



def check_consistency(env: HubEnv, bodies: list[bytes], fig: Figures) -> None:
    """Sink and ledger agree, each copy is there exactly once, nothing else is."""
    by_digest = {digest(b): b for b in bodies}
    expected = {(sid, d) for d in by_digest for sid in RECIPIENTS.values()}

    # the folders: exactly the expected files, byte for byte
    found = env.delivered_copies(by_digest)
    assert found == expected, f"missing at the sinks: {len(expected - found)}, e.g. {sorted(expected - found)[:3]}"

    # the sink journal: no file written twice; a file never journaled as written is one the
    # killed process wrote just before dying (its call began and never reported)
    tally = env.tally()
    twice = {k: n for k, n in tally.writes.items() if n > 1}
    assert not twice, f"written twice at the sink: {list(twice.items())[:5]}"
    died = tally.unfinished()
    unexplained = {k for k in expected if tally.writes[k] == 0 and k not in died}
    assert not unexplained, f"files present but never written by a sink call: {sorted(unexplained)[:3]}"
    fig.sink_calls = sum(tally.begins.values())
    fig.sink_skips_existing = sum(tally.skips.values())
    fig.died_inside_sink = len(died)

    # the ledger: each (digest, recipient) delivered, once, by the system that has the file
    with Ledger.open(env.ledger_url) as ledger:
        for d in by_digest:
            pkg = ledger.get_package(d)
            assert pkg is not None and pkg.outcome is Outcome.ACCEPTED, (d, pkg)
            fig.intake_duplicates_absorbed += pkg.duplicates_absorbed
            rows = {r.recipient_organ: r for r in ledger.deliveries(d)}
            assert set(rows) == set(RECIPIENTS), (d, rows)
            for organ, sid in RECIPIENTS.items():
                row = rows[organ]
                assert row.state is TransportState.DELIVERED and row.system_id == sid, (d, organ, row)
                steps = [t.state for t in ledger.history(d, organ)]
                assert steps.count(TransportState.DELIVERED) == 1, (d, organ, steps)
        counts = ledger.counts()
        verdict = ledger.verify_chain()
    # vice versa: the ledger knows of no other delivered copy than the files
    assert counts.deliveries.get(TransportState.DELIVERED.value, 0) == len(expected), counts
    assert verdict.ok, verdict


def report(fig: Figures) -> None:
    print(f"\nRESILIENCE {json.dumps(asdict(fig), ensure_ascii=False)}")


def test_sigkill_mid_batch_then_restart(amqp_url: str, tmp_path: Path) -> None:
    bodies = batch("KILL")
    fig = Figures("sigkill", len(bodies), 2 * len(bodies))
    with hub_environment(amqp_url, unique_prefix("kill"), tmp_path) as env:
        hub = env.spawn()
        hub.wait_ready()
        start = time.monotonic()
        flood = Flood(env.user_url("tinh-nghean"), env.names.intake_exchange, bodies)
        sent = flood.run()  # the broker holds the whole batch; the hub works through it
        assert sent.done
        wait_for(lambda: delivered(env) >= fig.copies // 3, 300, "a third of the batch delivered")

        hub.kill()
        killed_at = time.time()
        fig.delivered_before_fault = delivered(env)
        assert fig.delivered_before_fault < fig.copies, "the batch finished before the kill: nothing proven"

        again = env.spawn()
        again.wait_ready()
        wait_for(lambda: any(e.phase == "wrote" and e.at > killed_at for e in _journal(env)), 120,
                   "a delivery after the restart")
        fig.recover_s = min(e.at for e in _journal(env) if e.phase == "wrote" and e.at > killed_at) - killed_at
        wait_for(lambda: delivered(env) >= fig.copies, 600, "every copy delivered")
        fig.total_s = time.monotonic() - start
        assert again.terminate() == 0, again.tail()
        check_consistency(env, bodies, fig)
        fig.submitter_republished = sent.republished
    report(fig)


def test_broker_restart_mid_batch(tmp_path: Path) -> None:
    if not available():
        pytest.skip("RabbitMQ server scripts not installed: no node of the test's own")
    bodies = batch("RESTART")
    fig = Figures("broker-restart", len(bodies), 2 * len(bodies))
    with own_nodes(tmp_path / "broker", 1, label="lt-bounce") as broker, \
            cluster_hub_environment(broker, unique_prefix("bounce"), tmp_path / "hub", group_size=1) as env:
        node = broker.nodes[0]
        hub = env.spawn()
        hub.wait_ready()
        start = time.monotonic()
        # paced near the hub's own rate (publishing takes ~30 s), so the restart hits the
        # submitter and the hub mid-work
        flood = Flood(env.user_url("tinh-nghean"), env.names.intake_exchange, bodies,
                      max_rate=max(20.0, len(bodies) / 30), window=64)
        thread = flood_in_thread(flood)
        try:
            assert flood.wait_confirmed(len(bodies) // 3, 300), "submitter stalled before the restart"
            wait_for(lambda: delivered(env) > 0, 120, "deliveries under way")
            fig.delivered_before_fault = delivered(env)

            node.ctl("stop_app")  # the Erlang node stays up; every connection drops
            down_at = time.time()
            time.sleep(2)  # long enough for every client to see the connection gone
            node.ctl("start_app")
            node.wait_ready()
            hub.wait_ready(180, times=2)  # both consumers reconnected by themselves
            fig.recover_s = time.time() - down_at
            assert hub.alive
            assert hub.log_events("reconnecting") >= 1, hub.tail()

            thread.join(600)
            assert not thread.is_alive(), "the submitter never got every package confirmed"
        finally:
            flood.stop()
        sent = flood.report
        assert sent.done and sent.reconnects >= 1, sent
        wait_for(lambda: delivered(env) >= fig.copies, 600, "every copy delivered")
        fig.total_s = time.monotonic() - start
        assert hub.terminate() == 0, hub.tail()
        fig.submitter_republished = sent.republished
        fig.submitter_reconnects = sent.reconnects
        check_consistency(env, bodies, fig)
    report(fig)


def _journal(env: HubEnv) -> list[JournalEntry]:
    return read_journal(env.journal)
