"""Group commit on a real SQLite ledger: many submissions, few transactions, the same record
as one append each; a bad submission fails alone; nothing is reported committed before it is."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from router.amqp.group_commit import GroupCommit
from router.ledger import Delivered, Ledger, LedgerEvent, PackageKind, PackageReceived, Routed, TransportState

pytestmark = pytest.mark.integration

SENDER, DEPT = "000.00.00.H41", "000.00.13.H41"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}") as led:
        yield led


def dig(i: int) -> str:
    return hashlib.sha256(f"gc-{i}".encode()).hexdigest()


def package(i: int) -> list[LedgerEvent]:
    d = dig(i)
    return [
        PackageReceived(d, PackageKind.EDOC, SENDER, "tinh-nghean", f"{SENDER},2025/03/14,{i}/UBND", (DEPT,)),
        Routed(d, DEPT, "tinh-nghean"),
        Delivered(d, DEPT, "tinh-nghean", 1),
    ]


def test_concurrent_submissions_share_transactions_and_all_land(ledger: Ledger) -> None:
    writer = GroupCommit(ledger.append)
    n, threads = 400, 8
    committed: list[int] = []
    lock = threading.Lock()

    def submit(start: int) -> None:
        for i in range(start, n, threads):
            def done(err: BaseException | None, i: int = i) -> None:
                assert err is None
                # committed means readable: the callback runs after the transaction
                assert ledger.delivery_state(dig(i), DEPT) is not None
                with lock:
                    committed.append(i)
            writer.submit(package(i), done)

    workers = [threading.Thread(target=submit, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    writer.close()
    assert sorted(committed) == list(range(n))
    assert writer.submissions == n and writer.events == 3 * n
    assert writer.batches < n / 4, f"{writer.batches} transactions for {n} submissions: no grouping"
    counts = ledger.counts()
    assert counts.deliveries[TransportState.DELIVERED.value] == n
    verdict = ledger.verify_chain()
    assert verdict.ok and verdict.length == 3 * n, verdict


def test_a_failing_submission_fails_alone(ledger: Ledger) -> None:
    def append(events: Sequence[LedgerEvent]) -> None:
        if any(isinstance(e, Routed) and e.system_id == "broken" for e in events):
            raise ValueError("constraint violated")
        ledger.append(events)

    gate = threading.Event()
    writer = GroupCommit(append)
    def hold(err: BaseException | None) -> None:
        gate.wait(5)

    writer.submit([], hold)  # holds the writer so the next three queue up
    results: dict[int, BaseException | None] = {}

    def record(i: int) -> Callable[[BaseException | None], None]:
        return lambda err: results.__setitem__(i, err)

    bad = [package(1)[0], Routed(dig(1), DEPT, "broken")]
    for i, events in ((0, package(0)), (1, bad), (2, package(2))):
        writer.submit(events, record(i))
    gate.set()
    writer.close()
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValueError)
    assert ledger.get_package(dig(1)) is None
    assert ledger.get_package(dig(2)) is not None


def test_blocking_write_raises_and_shared_writer_is_one_per_ledger(ledger: Ledger) -> None:
    a = GroupCommit.shared(ledger.append, name="intake")
    b = GroupCommit.shared(ledger.append, name="deliver")
    assert a is b
    a.write(package(7))
    row = ledger.delivery_state(dig(7), DEPT)
    assert row is not None and row.state is TransportState.DELIVERED
    a.close()  # b still uses it
    b.write(package(8))
    b.close()
    with pytest.raises(RuntimeError):
        b.submit(package(9), lambda err: None)
    c = GroupCommit.shared(ledger.append)
    assert c is not a  # the last user closed the old one: a fresh writer

    def down(events: Sequence[LedgerEvent]) -> None:
        raise ConnectionError("database unreachable")

    failing = GroupCommit(down)
    with pytest.raises(ConnectionError):
        failing.write(package(9))
    failing.close()
    c.close()
