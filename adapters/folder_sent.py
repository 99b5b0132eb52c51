"""What a drop-folder system sent, until its fate is known: confirmed files and refusals.

After the broker confirmed a file, it leaves `out/` for `.lienthong/sent/<digest>.edxml` with a
`.json` record (original name, DocumentId when known, when). A refusal — the intake result
saying so at once, or later a hub status 02 about the same DocumentId arriving for the system —
moves it to `failed/<name>.<digest[:16]>.edxml` beside `<same>.reason.txt`, the reason code and
the hub's text in Vietnamese and English (clerk-readable: no paths, no exception text). What
stays unrefused is pruned after `retention_s` (a refusal can come hours after the submission:
a delivery that fails through every tier).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from adapters.folder_layout import DropFolders, fsync_directory, publish
from schemas.parse import validate_package

log = structlog.get_logger("lienthong.folder.sent")
_CODE = re.compile(r"^\[([A-Z_]+)\]\s*")


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    vi: str
    en: str

    @classmethod
    def from_text(cls, text: str, code: str | None = None) -> Refusal:
        """From the hub's `[CODE] vietnamese / english` (a status Description) or, with `code`
        given, from an intake result's `vietnamese / english` message."""
        found = _CODE.match(text)
        if found:
            code, text = code or found.group(1), text[found.end():]
        vi, _, en = text.partition(" / ")
        return cls(code or "REFUSED", vi.strip(), (en or vi).strip())

    def reason_file(self, name: str) -> bytes:
        return (
            f"Mã lý do / Reason code: {self.code}\n"
            f"Tệp / File: {name}\n\n"
            f"Tiếng Việt: Trục liên thông văn bản không chuyển gói tin này. {self.vi}\n"
            f"English: the document hub did not forward this package. {self.en}\n"
        ).encode()


class SentJournal:
    """The `sent/` records of one system's drop folders (shared by the poller and the sink)."""

    def __init__(self, folders: DropFolders, *, retention_s: float = 7 * 86400) -> None:
        self.folders = folders
        self.retention_s = retention_s

    def record(self, claimed: Path, digest: str, name: str, document_id: str | None) -> Path:
        """The claimed file, confirmed by the broker, leaves `out/`: record first, then move."""
        sent = self.folders.sent / f"{digest}.edxml"
        meta = {"name": name, "digest": digest, "document_id": document_id, "at": time.time()}
        publish(sent.with_suffix(".json"), json.dumps(meta, ensure_ascii=False).encode())
        os.replace(claimed, sent)
        fsync_directory(self.folders.sent)
        fsync_directory(claimed.parent)
        return sent

    def confirmed(self, digest: str) -> bool:
        """The broker confirmed this file already (a record exists): never submit it again."""
        return (self.folders.sent / f"{digest}.json").exists()

    def finish(self, claimed: Path, digest: str) -> None:
        """A claimed file whose record was written before a crash: complete the move."""
        sent = self.folders.sent / f"{digest}.edxml"
        if sent.exists():
            claimed.unlink(missing_ok=True)
        else:
            os.replace(claimed, sent)
        fsync_directory(self.folders.sent)
        fsync_directory(claimed.parent)

    def set_document_id(self, digest: str, document_id: str) -> None:
        path = self.folders.sent / f"{digest}.json"
        meta = self._meta(path)
        if meta is not None and not meta.get("document_id"):
            publish(path, json.dumps({**meta, "document_id": document_id}, ensure_ascii=False).encode())

    def refuse(self, digest: str, refusal: Refusal) -> Path | None:
        """Move a sent file to `failed/` with its reason file; None if it is not (or no longer) here."""
        record = self.folders.sent / f"{digest}.json"
        meta = self._meta(record) or {}
        sent = self.folders.sent / f"{digest}.edxml"
        if not sent.exists():
            return None
        stem = Path(str(meta.get("name") or "package")).stem[:120]
        failed = self.folders.failed / f"{stem}.{digest[:16]}.edxml"
        try:
            os.replace(sent, failed)
        except FileNotFoundError:  # the poller and the sink filed the same refusal at once
            return None
        # the reason file comes last, so a DMS that sees it finds the package beside it
        publish(failed.with_suffix(".reason.txt"), refusal.reason_file(str(meta.get("name") or failed.name)))
        record.unlink(missing_ok=True)
        log.info("folder.refused", system=self.folders.system, digest=digest[:16], code=refusal.code)
        return failed

    def refuse_document(self, document_id: str, refusal: Refusal) -> list[Path]:
        """A hub refusal about DocumentId arrived: every sent file claiming it goes to failed/."""
        moved = []
        for record in sorted(self.folders.sent.glob("*.json")):
            meta = self._meta(record)
            if meta is None:
                continue
            known = meta.get("document_id")
            if not known:  # submitted without an intake answer: read the file now (rare)
                with contextlib.suppress(OSError):
                    known = validate_package(record.with_suffix(".edxml").read_bytes()).document_id
            if known == document_id:
                done = self.refuse(record.stem, refusal)
                if done is not None:
                    moved.append(done)
        return moved

    def prune(self, now: float | None = None) -> int:
        """Forget what was sent longer ago than the retention; returns how many were removed."""
        now = time.time() if now is None else now
        removed = 0
        for record in self.folders.sent.glob("*.json"):
            meta = self._meta(record)
            at = meta.get("at") if meta is not None else None
            if not isinstance(at, int | float) or now - at < self.retention_s:
                continue
            record.with_suffix(".edxml").unlink(missing_ok=True)
            record.unlink(missing_ok=True)
            removed += 1
        return removed

    @staticmethod
    def _meta(path: Path) -> dict[str, object] | None:
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None
