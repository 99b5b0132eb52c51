"""The parts of the drop folders that need no broker: the jail, what counts as finished, the
refusal texts, and the pruning of the sent/ records."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from adapters.folder_layout import DropFolders, FolderJailError, NotRegularFile, open_regular, takeable
from adapters.folder_sent import Refusal, SentJournal

pytestmark = pytest.mark.unit


def test_a_folder_leading_outside_the_root_is_refused(tmp_path: Path) -> None:
    folders = DropFolders("huyen-thanhchuong", tmp_path / "huyen")
    folders.prepare()
    folders.check()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    folders.failed.rmdir()
    folders.failed.symlink_to(outside)
    with pytest.raises(FolderJailError, match="failed is not a real directory"):
        folders.check()


def test_links_and_folders_are_never_opened_as_packages(tmp_path: Path) -> None:
    (tmp_path / "real.edxml").write_bytes(b"<edXML/>")
    (tmp_path / "link.edxml").symlink_to(tmp_path / "real.edxml")
    (tmp_path / "dir.edxml").mkdir()
    fd = open_regular(tmp_path / "real.edxml")
    assert fd is not None
    os.close(fd)
    for name in ("link.edxml", "dir.edxml"):
        with pytest.raises(NotRegularFile):
            open_regular(tmp_path / name)
    assert open_regular(tmp_path / "gone.edxml") is None


@pytest.mark.parametrize(("name", "ok"), [
    ("cong-van.edxml", True), ("Công văn 12.xml", True), (".cong-van.edxml", False), ("cv.edxml.part", False),
    ("cv.tmp", False), ("", False),
])
def test_only_finished_files_are_taken(name: str, ok: bool) -> None:
    assert takeable(name) is ok


def test_the_hubs_texts_become_a_reason_in_both_languages() -> None:
    r = Refusal.from_text("[SENDER_NOT_SERVED] Hệ thống X không được gửi thay / system X does not serve")
    assert (r.code, r.vi, r.en) == ("SENDER_NOT_SERVED", "Hệ thống X không được gửi thay", "system X does not serve")
    text = r.reason_file("cv.edxml").decode()
    assert "SENDER_NOT_SERVED" in text and "Tiếng Việt:" in text and "English:" in text
    plain = Refusal.from_text("gói tin không hợp lệ / invalid package", "XML_MALFORMED")
    assert (plain.code, plain.en) == ("XML_MALFORMED", "invalid package")


def test_sent_records_are_kept_for_their_retention_then_pruned(tmp_path: Path) -> None:
    folders = DropFolders("huyen-thanhchuong", tmp_path / "huyen")
    folders.prepare()
    journal = SentJournal(folders, retention_s=7 * 86400)
    for digest, age_days in (("a" * 64, 8), ("b" * 64, 1)):
        claimed = folders.claimed / f"x--{digest[:4]}.edxml"
        claimed.write_bytes(b"<edXML/>")
        journal.record(claimed, digest, f"{digest[:4]}.edxml", None)
        record = folders.sent / f"{digest}.json"
        meta = json.loads(record.read_bytes())
        record.write_text(json.dumps({**meta, "at": meta["at"] - age_days * 86400}))
    assert journal.prune() == 1
    assert sorted(p.name for p in folders.sent.iterdir()) == [f"{'b' * 64}.edxml", f"{'b' * 64}.json"]
    assert journal.refuse("b" * 64, Refusal("X", "vi", "en")) is not None  # still there to be refused
    assert list(folders.sent.iterdir()) == []
