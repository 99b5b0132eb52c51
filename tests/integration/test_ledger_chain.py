"""The evidence chain on the real databases: intact after normal use, broken (and named) after
any change behind the ledger's back, and never forked by concurrent writers — threads and
separate processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from router.ledger import Delivered, Ledger, Retrying, Routed, StatusRecorded
from tests.integration.test_ledger_backends import (
    DISTRICT,
    H41,
    VPCP,
    at,
    digest,
    doc_id,
    edoc,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def used(ledger_url: str) -> Iterator[Ledger]:
    """A ledger with some history: 1 package, 2 recipients, a retry, deliveries, a status."""
    with Ledger.open(ledger_url) as ledger:
        a = digest("a")
        ledger.append([edoc("a", 1), Routed(a, DISTRICT, "sys-district", at=at(1)),
                       Routed(a, VPCP, "national-axis", at=at(1))])
        ledger.append([Retrying(a, DISTRICT, "sys-district", 1, "30s", "HTTP 502", at=at(2)),
                       Delivered(a, VPCP, "national-axis", 1, at=at(3))])
        ledger.append([Delivered(a, DISTRICT, "sys-district", 2, at=at(40)),
                       StatusRecorded(doc_id(1), DISTRICT, H41, "03", "Đã vào sổ", "Phạm Thu Trang",
                                      at(100), digest("st"), at=at(101))])
        yield ledger


def sql(ledger: Ledger, statement: str) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(text(statement))


def test_an_untouched_ledger_verifies(used: Ledger) -> None:
    verdict = used.verify_chain()
    assert verdict.ok and verdict.length == 7 and verdict.broken_seq is None


def test_an_edited_event_is_named_by_its_seq(used: Ledger) -> None:
    sql(used, "UPDATE ledger_evidence SET payload = replace(payload, 'HTTP 502', 'HTTP 200') WHERE seq = 4")
    verdict = used.verify_chain()
    assert (verdict.ok, verdict.broken_seq, verdict.length) == (False, 4, 3)
    assert "hash" in (verdict.reason or "")


def test_a_recomputed_hash_still_breaks_the_next_link(used: Ledger) -> None:
    # a forger who fixes the edited entry's own hash is caught by its successor's prev_hash
    with used.engine.begin() as conn:
        row = conn.execute(text("SELECT prev_hash, payload FROM ledger_evidence WHERE seq = 2")).one()
        from router.ledger.chain import link

        payload = row.payload.replace("sys-district", "sys-elsewhere")
        conn.execute(text("UPDATE ledger_evidence SET payload = :p, hash = :h WHERE seq = 2"),
                     {"p": payload, "h": link(row.prev_hash, payload)})
    verdict = used.verify_chain()
    assert (verdict.ok, verdict.broken_seq) == (False, 3)


def test_a_deleted_entry_is_named(used: Ledger) -> None:
    sql(used, "DELETE FROM ledger_evidence WHERE seq = 5")
    verdict = used.verify_chain()
    assert (verdict.ok, verdict.broken_seq) == (False, 5)
    assert "missing" in (verdict.reason or "")


def test_a_changed_delivery_row_is_named_by_the_entry_that_justified_it(used: Ledger) -> None:
    sql(used, f"UPDATE ledger_deliveries SET state = 'parked' WHERE recipient_organ = '{DISTRICT}'")
    verdict = used.verify_chain()
    assert (verdict.ok, verdict.broken_seq) == (False, 6)  # seq 6: Delivered to the district
    assert "ledger_deliveries" in (verdict.reason or "") and "'parked'" in (verdict.reason or "")


def test_a_changed_status_and_an_inserted_row_are_caught(used: Ledger) -> None:
    sql(used, "UPDATE ledger_statuses SET status_code = '06'")
    verdict = used.verify_chain()
    assert (verdict.ok, verdict.broken_seq) == (False, 7)
    sql(used, "UPDATE ledger_statuses SET status_code = '03'")
    assert used.verify_chain().ok
    sql(used, "INSERT INTO ledger_transitions (seq, digest, recipient_organ, state, attempt, at) "
              f"VALUES (99, '{digest('a')}', '{DISTRICT}', 'delivered', 1, '2025-03-03 01:30:05')")
    verdict = used.verify_chain()
    assert not verdict.ok and "not justified" in (verdict.reason or "")


# -- concurrent writers ---------------------------------------------------------------------

WRITERS, BATCHES, PER_BATCH = 4, 12, 5


def write_batches(url: str, writer: int) -> None:
    """One router process's worth of appends: each writer its own packages, plus a batch that
    every writer replays (the same events racing must still be recorded once)."""
    with Ledger.open(url) as ledger:
        for b in range(BATCHES):
            ledger.append([edoc(f"w{writer}-b{b}-{i}", 1000 * writer + 10 * b + i, seconds=b)
                           for i in range(PER_BATCH)])
            ledger.append([edoc("shared", 999_999), Routed(digest("shared"), DISTRICT, "sys-district", at=at(1))])


def expected_entries() -> int:
    return WRITERS * BATCHES * PER_BATCH + 2


def check_linear(url: str) -> None:
    with Ledger.open(url) as ledger:
        verdict = ledger.verify_chain()
        assert verdict.ok, verdict
        assert verdict.length == expected_entries()
        assert ledger.counts().packages["accepted"] == WRITERS * BATCHES * PER_BATCH + 1


def test_concurrent_threads_do_not_fork_the_chain(ledger_url: str) -> None:
    Ledger.open(ledger_url).close()
    errors: list[BaseException] = []

    def run(writer: int) -> None:
        try:
            write_batches(ledger_url, writer)
        except BaseException as exc:  # noqa: BLE001 - surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(WRITERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors
    check_linear(ledger_url)


def test_concurrent_processes_do_not_fork_the_chain(ledger_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter per writer, like router processes
    procs = [ctx.Process(target=write_batches, args=(ledger_url, w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    check_linear(ledger_url)
