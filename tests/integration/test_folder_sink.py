"""The folder sink on a real file system: atomic, idempotent by hand-over id (journaled, so a
DMS moving files out does not make it write them again), one writer wins when several delivery
processes (here threads with their own sink objects) race on a package, and failures are values
whose text names no path (the path and errno are in the log). The contract all sinks keep is in
tests/contract/; this file holds what is particular to folders."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.folder import PERMANENT_TEXT, FolderSink, inbox_name
from adapters.sink import Delivered, Handover, PermanentFailure, TransientFailure
from tests.support import sink_crash

pytestmark = pytest.mark.integration


def handover(body: bytes = "<edXML>Ủy ban nhân dân</edXML>".encode()) -> Handover:
    return Handover(body=body, digest="ab" * 32, kind="edoc", system_id="tinh-nghean",
                    recipients=("000.00.13.H41",), document_id="000.00.00.H41,2025/03/14,1/UBND",
                    sender="000.00.00.H41", headers={"lt-verdict": "SIGNED"})


def test_delivers_atomically_with_a_utf8_sidecar(tmp_path: Path) -> None:
    sink = FolderSink(tmp_path / "inbox")
    result = sink.deliver(handover())
    assert isinstance(result, Delivered)
    [package] = sink.delivered()
    assert package.read_bytes() == handover().body
    meta = json.loads(package.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["headers"]["lt-verdict"] == "SIGNED" and meta["recipients"] == ["000.00.13.H41"]
    assert meta["id"] == package.stem == handover().handover_id
    assert not list((tmp_path / "inbox").glob(".tmp-*"))
    again = sink.deliver(handover())
    assert again == Delivered("already handed over")
    assert sink.handed_over() == {handover().handover_id}


def test_racing_writers_create_the_file_exactly_once(tmp_path: Path) -> None:
    created: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        sink = FolderSink(tmp_path / "inbox")
        barrier.wait()
        result = sink.deliver(handover())
        assert isinstance(result, Delivered)
        if not result.detail.startswith("already"):
            created.append(result.detail)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 1
    assert len(FolderSink(tmp_path / "inbox").delivered()) == 1
    assert not list((tmp_path / "inbox").glob(".tmp-*"))


def test_failures_are_classified(tmp_path: Path) -> None:
    blocked = tmp_path / "inbox"
    blocked.write_text("a file where the folder should be")
    assert isinstance(FolderSink(blocked).deliver(handover()), TransientFailure)
    gone = FolderSink(tmp_path / "missing" / "inbox")
    assert isinstance(gone.deliver(handover()), Delivered)  # parents are created
    assert not isinstance(gone.deliver(handover()), PermanentFailure)


def test_a_failure_names_no_path_to_the_sender_and_logs_the_detail(tmp_path: Path) -> None:
    blocked = tmp_path / "inbox"
    blocked.write_text("a file where the folder should be")
    with capture_logs() as logs:
        result = FolderSink(blocked).deliver(handover())
    assert isinstance(result, TransientFailure)
    assert str(tmp_path) not in result.error and "Errno" not in result.error
    [event] = [e for e in logs if e["event"] == "sink.folder.failed"]
    assert event["folder"] == str(blocked) and "Errno" in event["error"]


def test_a_package_too_big_for_the_file_system_is_a_permanent_failure(tmp_path: Path) -> None:
    """A real process under a file-size limit: the write fails with EFBIG, which no retry cures."""
    done = sink_crash.run(tmp_path / "inbox", handover(b"x" * 20_000), "too-big")
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {"type": "PermanentFailure", "error": PERMANENT_TEXT}, done.stderr
    assert "File too large" in done.stdout  # the detail went to the log


def test_a_partial_file_of_a_killed_writer_is_swept_by_the_next_handover(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    h = handover()
    partial = inbox / f".tmp-{h.handover_id}-killed.part"
    partial.write_bytes(h.body[:7])
    sink = FolderSink(inbox)
    assert sink.delivered() == [] and sink.handed_over() == set()
    assert sink.deliver(h) == Delivered(inbox_name(h))
    assert not partial.exists() and [p.read_bytes() for p in sink.delivered()] == [h.body]


def test_a_file_delivered_before_the_journal_existed_is_not_written_again(tmp_path: Path) -> None:
    """Upgrading: a package in the inbox with no marker is recorded, so once the DMS moves it a
    re-delivery still finds it handed over."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    h = handover()
    (inbox / inbox_name(h)).write_bytes(h.body)
    sink = FolderSink(inbox)
    assert sink.deliver(h) == Delivered("already in the inbox")
    (inbox / inbox_name(h)).unlink()  # the DMS took it
    assert sink.deliver(h) == Delivered("already handed over")
    assert sink.delivered() == []
