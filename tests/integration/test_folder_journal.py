"""The folder sink's journal is pruned (it used to grow by one file per package forever) without
losing its promise: a re-delivery in the window it guards still writes nothing twice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.folder import FolderSink
from adapters.sink import Delivered
from tests.contract.sink_contract import handover
from tests.support import sink_crash

pytestmark = pytest.mark.integration

DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000_000.0

    def __call__(self) -> float:
        return self.now


def _age(marker: Path, seconds_ago: float, now: float) -> None:
    os.utime(marker, (now - seconds_ago, now - seconds_ago), follow_symlinks=False)


def test_old_published_markers_go_fresh_and_unpublished_ones_stay(tmp_path: Path) -> None:
    clock = Clock()
    sink = FolderSink(tmp_path / "inbox", clock=clock, retention_s=7 * DAY, settle_s=600, prune_every_s=3600)
    old, fresh = handover("cũ"), handover("mới")
    for h in (old, fresh):
        assert isinstance(sink.deliver(h), Delivered)
    pending = handover("dở dang")  # committed by a writer killed before publishing
    done = sink_crash.run(sink.directory, pending, "committed")
    assert done.returncode == -9
    for h in (old, pending):
        _age(sink.journal / h.handover_id, 8 * DAY, clock.now)
    _age(sink.journal / fresh.handover_id, 1 * DAY, clock.now)
    assert sink.prune() == 1
    assert sink.handed_over() == {fresh.handover_id, pending.handover_id}
    assert isinstance(sink.deliver(pending), Delivered)  # the kept marker lets it finish: one copy
    assert [p.name for p in sink.delivered()].count(f"{pending.handover_id}.edxml") == 1


def test_nothing_is_pruned_until_the_sink_has_been_delivering_for_a_while(tmp_path: Path) -> None:
    """After a long outage, the redeliveries of the previous run come first: a marker older than
    the retention must still be there for them."""
    clock = Clock()
    sink = FolderSink(tmp_path / "inbox", clock=clock, retention_s=7 * DAY, settle_s=600, prune_every_s=3600)
    before_outage = handover("trước khi dừng")
    assert isinstance(sink.deliver(before_outage), Delivered)
    _age(sink.journal / before_outage.handover_id, 0, clock.now)  # written at the test clock's now
    taken = tmp_path / "archive"
    taken.mkdir()
    for p in sink.directory.glob(f"{before_outage.handover_id}.*"):
        p.rename(taken / p.name)  # the DMS took it
    clock.now += 30 * DAY  # the hub was down a month; the message was never acked
    restarted = FolderSink(tmp_path / "inbox", clock=clock, retention_s=7 * DAY, settle_s=600, prune_every_s=3600)
    assert isinstance(restarted.deliver(before_outage), Delivered)  # first call: no pruning yet
    assert restarted.delivered() == []  # not written again
    clock.now += 601
    assert isinstance(restarted.deliver(handover("sau")), Delivered)  # now it prunes
    assert before_outage.handover_id not in restarted.handed_over()
