"""The folder sink on a real file system: atomic, idempotent by digest, and one writer wins
when several delivery processes (here threads with their own sink objects) race on a package."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from adapters.folder import FolderSink
from adapters.sink import Delivered, Handover, PermanentFailure, TransientFailure

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
    assert not list((tmp_path / "inbox").glob(".tmp-*"))
    again = sink.deliver(handover())
    assert again == Delivered("already in the inbox")


def test_racing_writers_create_the_file_exactly_once(tmp_path: Path) -> None:
    created: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        sink = FolderSink(tmp_path / "inbox")
        barrier.wait()
        result = sink.deliver(handover())
        assert isinstance(result, Delivered)
        if result.detail != "already in the inbox":
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
