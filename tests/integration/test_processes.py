"""Issue 12 item 3: `lienthong run --processes 2` — two intake and two deliver worker processes
under one supervisor, on the real broker and one real PostgreSQL ledger.

Three submitters publish at once on their own connections: the province DMS twice (two floods
whose streams hold the same bytes at the same positions, and packages with the same (From,
DocumentId) but other bytes), and a district DMS with packages whose DocumentId string equals
ones of the province's (another From: another document). Mid-stream one intake and one deliver
worker are killed with SIGKILL; the supervisor starts new ones. Afterwards:

* every accepted document is in each recipient's inbox exactly once, byte for byte, and no sink
  call wrote a file twice (the journal of tests/support/procs.py, which every worker installs);
* of each pair with one DocumentId, exactly one is accepted and delivered, the other refused
  `DUPLICATE_CONFLICT` with the hub's status 02 to the sender; both district documents are in;
* the ledger records each (package, recipient) `delivered` exactly once, knows no other
  delivered copy, and its evidence chain verifies (four writer processes, one chain);
* the supervisor's one /metrics adds up the workers' counters (the killed ones' included) and
  counts the restarts; /readyz names all four workers ready again; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.ledger.events import Outcome, TransportState
from router.ledger.store import Ledger
from schemas.parse import parse_package
from tests.support.flood import Flood, flood_in_thread
from tests.support.ops_tools import free_port
from tests.support.packages import make_edoc
from tests.support.procs import HubEnv, HubProcess, hub_environment
from tests.support.services import unique_prefix
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PROVINCE, DISTRICT = "000.00.00.H41", "000.00.25.H41"  # served by tinh-nghean, huyen-thanhchuong
#: the province's packages go to one organ of each local system: two copies, two sinks
RECIPIENTS = {"000.00.13.H41": "tinh-nghean", "000.31.25.H41": "huyen-thanhchuong"}
DEPARTMENT = "000.00.13.H41"
N = int(os.environ.get("LIENTHONG_PROCESSES_PACKAGES", "120"))


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def streams(n: int) -> tuple[list[bytes], list[bytes], list[bytes], list[tuple[bytes, bytes]], dict[str, set[str]]]:
    """Two province streams (the same bytes at every 4th position, a same-DocumentId pair at
    every 7th), the district's stream, the conflicting pairs, and digest → recipient systems."""
    a: list[bytes] = []
    b: list[bytes] = []
    pairs: list[tuple[bytes, bytes]] = []
    recipients = list(RECIPIENTS)
    for i in range(n):
        if i % 4 == 0:
            body = make_edoc(PROVINCE, recipients, 10_000 + i, notation="DUP")
            a.append(body)
            b.append(body)
        elif i % 7 == 3:
            x = make_edoc(PROVINCE, recipients, 20_000 + i, notation="CONF", subject="Bản thứ nhất")
            y = make_edoc(PROVINCE, recipients, 20_000 + i, notation="CONF", subject="Bản thứ hai, cùng số")
            a.append(x)
            b.append(y)
            pairs.append((x, y))
        else:
            a.append(make_edoc(PROVINCE, recipients, 30_000 + i, notation="PA"))
            b.append(make_edoc(PROVINCE, recipients, 40_000 + i, notation="PB"))
    systems = {digest(x): set(RECIPIENTS.values()) for x in a + b}
    # the same DocumentId text from two systems, each for its own organ: two documents
    same = [f"SAME-{i}" for i in range(n // 4)]
    ours = [make_edoc(PROVINCE, [DEPARTMENT], 50_000 + i, doc_id=d) for i, d in enumerate(same)]
    district = [make_edoc(DISTRICT, [DEPARTMENT], 50_000 + i, doc_id=d) for i, d in enumerate(same)]
    systems |= {digest(x): {RECIPIENTS[DEPARTMENT]} for x in ours + district}
    return a + ours, b, district, pairs, systems


def edoc_files(env: HubEnv) -> dict[tuple[str, str], bytes]:
    """(system, digest prefix) → bytes of every edoc file in the inboxes."""
    out = {}
    for sid, files in env.delivered_files().items():
        for f in files:
            if f.name.startswith("edoc-"):
                out[(sid, f.name.split("-")[1])] = f.read_bytes()
    return out


def refusals_to(env: HubEnv, sid: str) -> dict[str, list[str]]:
    """The hub's statuses in a system's inbox: DocumentId they are about → status codes."""
    out: dict[str, list[str]] = {}
    for f in env.inbox(sid).delivered():
        if f.name.startswith("status-"):
            h = parse_package(f.read_bytes()).package.header
            out.setdefault(h.response_for.document_id, []).append(h.status_code.value)  # type: ignore[union-attr]
    return out


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode("utf-8")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def readyz(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def kill_worker(hub: HubProcess, name: str) -> int:
    pid = hub.workers()[name]
    os.kill(pid, signal.SIGKILL)
    return pid


def test_two_workers_per_role_keep_every_guarantee(amqp_url: str, pg_ledger_url: str, tmp_path: Path) -> None:
    a, b, district, pairs, systems = streams(N)
    conflicting = {digest(x) for p in pairs for x in p}
    bodies = {digest(x): x for x in a + b + district}
    port = free_port()
    with hub_environment(amqp_url, unique_prefix("procs"), tmp_path, ledger_url=pg_ledger_url) as env:
        hub = env.spawn(processes=2, args=("--metrics-port", str(port)))
        hub.wait_ready(120)
        first = hub.workers()
        assert sorted(first) == ["deliver-0", "deliver-1", "intake-0", "intake-1"], first
        assert {p.pid for p in psutil.Process(hub.popen.pid).children()} == set(first.values())
        consuming = [json.loads(ln) for ln in hub.log.read_text(encoding="utf-8").splitlines()
                     if '"consuming"' in ln]
        assert {(r["worker"], r["pid"]) for r in consuming} == set(first.items()), consuming  # lines say whose

        floods = [Flood(env.user_url("tinh-nghean"), env.names.intake_exchange, a, max_rate=40, window=32),
                  Flood(env.user_url("tinh-nghean"), env.names.intake_exchange, b, max_rate=40, window=32),
                  Flood(env.user_url("huyen-thanhchuong"), env.names.intake_exchange, district, max_rate=10,
                        window=16)]
        threads = [flood_in_thread(f) for f in floods]
        wait_for(lambda: len(edoc_files(env)) >= N // 2, 240, "a quarter of the copies delivered")
        killed = {kill_worker(hub, "intake-1"), kill_worker(hub, "deliver-0")}
        delivered_before_kill = len(edoc_files(env))
        wait_for(lambda: set(hub.workers().values()).isdisjoint(killed), 60, "killed workers replaced")
        wait_for(lambda: hub.log_events("consuming") >= 6, 120, "the new workers consuming")
        for t in threads:
            t.join(300)
        assert all(f.report.done for f in floods), [f.report for f in floods]

        with Ledger.open(env.ledger_url) as ledger:
            def settled() -> bool:
                rows = [ledger.get_package(d) for d in bodies]
                told = refusals_to(env, "tinh-nghean")
                return all(r is not None and r.outcome in (Outcome.ACCEPTED, Outcome.REJECTED) for r in rows) and \
                    all(told.get(r.document_id or "") for r in rows if r is not None and r.outcome is Outcome.REJECTED)
            wait_for(settled, 240, "every package accepted or refused with its sender told")
            accepted = {d for d in bodies if (r := ledger.get_package(d)) and r.outcome is Outcome.ACCEPTED}
            expected = {(sid, d) for d in accepted for sid in systems[d]}
            wait_for(lambda: len(edoc_files(env)) >= len(expected), 240, "every accepted copy delivered")
            assert delivered_before_kill < len(expected), "everything was delivered before the kill: nothing proven"

            # one of each same-DocumentId pair accepted, the other refused and its sender told
            told = refusals_to(env, "tinh-nghean")
            for x, y in pairs:
                rows = [ledger.get_package(digest(x)), ledger.get_package(digest(y))]
                assert sorted(r.outcome.value for r in rows if r is not None) == ["accepted", "rejected"], rows
                loser = next(r for r in rows if r is not None and r.outcome is Outcome.REJECTED)
                assert loser.reason_code == "DUPLICATE_CONFLICT", loser
                assert "02" in told[loser.document_id or ""]
            assert set(bodies) - conflicting <= accepted  # the duplicates and both SAME-i documents
            assert len(accepted & conflicting) == len(pairs)

            # the inboxes: exactly the expected copies, byte for byte
            files = edoc_files(env)
            by_prefix = {d[:32]: d for d in bodies}
            assert {(sid, by_prefix[p]) for sid, p in files} == expected
            assert all(files[(sid, d[:32])] == bodies[d] for sid, d in expected)

            # the sink journal: no file written twice, by four workers and two killed ones
            tally = env.tally()
            twice = {k: n for k, n in tally.writes.items() if n > 1}
            assert not twice, twice
            died = tally.unfinished()
            assert not {k for k in expected if tally.writes[k] == 0 and k not in died}

            # the ledger: delivered once per (package, recipient), nothing else, chain intact
            for d in accepted:
                copies = ledger.deliveries(d)
                assert {c.system_id for c in copies} == systems[d], copies
                for row in copies:
                    assert row.state is TransportState.DELIVERED, row
                    steps = [t.state for t in ledger.history(d, row.recipient_organ)]
                    assert steps.count(TransportState.DELIVERED) == 1, (d, steps)
            delivered_rows = ledger.counts().deliveries.get(TransportState.DELIVERED.value, 0)
            verdict = ledger.verify_chain()
        notices = sum(len(v) for v in told.values())
        assert delivered_rows == len(expected) + notices, (delivered_rows, len(expected), notices)
        assert verdict.ok, verdict

        # one endpoint for the whole hub
        wait_for(lambda: readyz(port)[0] == 200, 60, "/readyz ready with the restarted workers")
        assert readyz(port)[1]["checks"] == {"topology": True, "intake-0": True, "intake-1": True,
                                             "deliver-0": True, "deliver-1": True}
        m = scrape(port)

        def total(name: str, **labels: str) -> float:
            return sum(v for (n, ls), v in m.items() if n == name and set(labels.items()) <= set(ls))

        assert total("lienthong_worker_restarts_total", role="intake") == 1
        assert total("lienthong_worker_restarts_total", role="deliver") == 1
        # a package routed by a killed worker comes back to another one as a duplicate
        assert total("lienthong_packages_total", outcome="accepted") + \
            total("lienthong_packages_total", outcome="duplicate") >= len(accepted)
        assert total("lienthong_deliveries_total", result="delivered") + \
            total("lienthong_deliveries_total", result="duplicate") >= len(expected) + notices
        assert total("lienthong_rejections_total", code="DUPLICATE_CONFLICT") >= len(pairs)
        assert total("lienthong_consumer_ready", consumer="intake") == 1

        workers = set(hub.workers().values())
        assert hub.terminate(90) == 0, hub.tail(40)
        assert not [p for p in workers if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        print(f"\nPROCESSES copies={len(expected)} delivered_before_kill={delivered_before_kill} "
              f"sink_calls={sum(tally.begins.values())} skips={sum(tally.skips.values())} died_in_sink={len(died)} "
              f"notices={notices}")


def test_more_than_one_process_per_role_on_sqlite_is_refused_in_one_line(amqp_url: str, tmp_path: Path) -> None:
    with hub_environment(amqp_url, unique_prefix("procsql"), tmp_path) as env:
        hub = env.spawn(processes=2, journal=False)
        assert hub.popen.wait(60) == 2
        lines = [ln for ln in hub.log.read_text(encoding="utf-8").splitlines() if ln.strip()]
        assert len(lines) == 1, lines
        assert "--processes 2 needs a PostgreSQL ledger" in lines[0] and "SQLite" in lines[0], lines


def test_workers_stop_by_themselves_when_the_supervisor_is_killed(
    amqp_url: str, pg_ledger_url: str, tmp_path: Path
) -> None:
    with hub_environment(amqp_url, unique_prefix("orphan"), tmp_path, ledger_url=pg_ledger_url) as env:
        hub = env.spawn(processes=2, role="deliver", journal=False)
        hub.wait_ready(120)
        workers = [psutil.Process(pid) for pid in hub.workers().values()]
        assert len(workers) == 2
        hub.kill()  # SIGKILL: the supervisor cannot forward anything
        _, alive = psutil.wait_procs(workers, timeout=60)
        assert not alive, f"workers still running after their supervisor died: {alive}"
        assert hub.log_events("supervisor lost; stopping") == 2, hub.tail()
