"""What `lienthong run --processes N` leans on, raced by real processes (not threads: no GIL,
no shared Python objects, only the database and the file system between them).

* The evidence chain on PostgreSQL (test_ledger_chain.py races synthetic events; here the
  events are the route stage's own and the race includes the DocumentId rule): four processes
  append the route stage's real events
  concurrently (each decided by its own `IntakeStage`, many small transactions, started at one
  barrier). Every append takes `pg_advisory_xact_lock` before reading the chain head, so the
  chain stays one line: contiguous seqs, `verify_chain()` intact (hashes and the tables replayed
  from the chain), every package there. All four also accept a package with the same (From,
  DocumentId) and their own bytes: the unique index lets exactly one commit.
* The folder sink: eight processes hand over the same packages at once, each with its own sink
  object on one inbox: every package is written exactly once, no temp file is left.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from adapters.folder import FolderSink
from adapters.sink import Delivered, Handover
from router.ledger.events import Outcome
from router.ledger.store import Ledger

pytestmark = pytest.mark.integration

WRITERS = 4
PER_WRITER = 60
SENDER, RECIPIENTS = "000.00.00.H41", ["000.00.13.H41", "000.31.25.H41"]


def _append_as_a_worker(url: str, index: int, barrier: Any, results: Any) -> None:
    """One hub worker's share: decide each package with the real stage, append its events (the
    received/routed pair as the consumer does: before, then after), a few per transaction."""
    ledger = Ledger.open(url)
    try:
        _appends(ledger, index, barrier, results)
    except Exception as exc:  # reported to the test, which fails naming it
        results.put((index, None, repr(exc)))
        raise
    finally:
        ledger.close()


def _appends(ledger: Ledger, index: int, barrier: Any, results: Any) -> None:
    from sqlalchemy.exc import IntegrityError

    from router.pipeline.intake import IntakeStage
    from router.topology.names import Names
    from tests.support.hub import test_directory
    from tests.support.packages import make_edoc

    stage = IntakeStage(test_directory("race"), ledger, Names("race"))
    bodies = [make_edoc(SENDER, RECIPIENTS, 1000 * (index + 1) + i, notation="PAR") for i in range(PER_WRITER)]
    contested = make_edoc(SENDER, RECIPIENTS, 999, notation="PAR", subject=f"Bản của tiến trình {index}")
    decisions = [stage.process(b, "race-tinh-nghean") for b in bodies]
    mine = stage.process(contested, "race-tinh-nghean")
    barrier.wait()
    won = True
    for k, d in enumerate(decisions):
        ledger.append(d.before)
        ledger.append(d.after)
        if k == PER_WRITER // 2:  # mid-stream, while the others append too
            try:
                ledger.append(mine.before)
            except IntegrityError:
                won = False
    results.put((index, won, [d.before[0].digest for d in decisions]))


def test_four_writer_processes_keep_one_evidence_chain(pg_ledger_url: str) -> None:
    Ledger.open(pg_ledger_url).close()  # tables first: the race is about appends
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WRITERS), ctx.Queue()
    procs = [ctx.Process(target=_append_as_a_worker, args=(pg_ledger_url, i, barrier, results))
             for i in range(WRITERS)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    failed = [o for o in outcomes if o[1] is None]
    assert not failed, failed
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sum(1 for _, won, _ in outcomes if won) == 1, outcomes
    with Ledger.open(pg_ledger_url) as ledger:
        verdict = ledger.verify_chain()
        counts = ledger.counts()
        for _, _, digests in outcomes:
            for d in digests:
                row = ledger.get_package(d)
                assert row is not None and row.outcome is Outcome.ACCEPTED
                assert {r.recipient_organ for r in ledger.deliveries(d)} == set(RECIPIENTS)
    assert verdict.ok, verdict
    # one PackageReceived and a Routed per recipient for every package, plus the one contested winner
    assert verdict.length == counts.evidence == (WRITERS * PER_WRITER + 1) * (1 + len(RECIPIENTS)) - len(RECIPIENTS)


def _hand_over(inbox: str, bodies: Sequence[bytes], barrier: Any, results: Any) -> None:
    import hashlib

    sink = FolderSink(inbox)
    barrier.wait()
    wrote = []
    for body in bodies:
        h = Handover(body=body, digest=hashlib.sha256(body).hexdigest(), kind="edoc", system_id="tinh-nghean",
                     recipients=("000.00.13.H41",), document_id=None, sender=SENDER, headers={})
        result = sink.deliver(h)
        assert isinstance(result, Delivered), result
        if not result.detail.startswith("already"):
            wrote.append(h.handover_id)
    results.put(wrote)


def test_eight_sink_processes_write_each_package_once(tmp_path: Path) -> None:
    bodies = [f"<edXML>gói {i} {'x' * 4000}</edXML>".encode() for i in range(40)]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_hand_over, args=(str(tmp_path / "inbox"), bodies, barrier, results))
             for _ in range(8)]
    for p in procs:
        p.start()
    wrote = [w for _ in procs for w in results.get(timeout=120)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(wrote) == len(set(wrote)) == len(bodies)
    sink = FolderSink(tmp_path / "inbox")
    assert len(sink.delivered()) == len(bodies)
    assert sorted(f.read_bytes() for f in sink.delivered()) == sorted(bodies)
    assert not list((tmp_path / "inbox").glob(".tmp-*"))
