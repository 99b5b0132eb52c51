"""Drop-folder delivery: packages into `in/`, statuses into `status/in/`, refusals to `failed/`.

The two inboxes are FolderSinks (adapters/folder.py: write-then-rename, fsync, the hand-over
id as the file name, a journal so a re-delivery never writes twice). A status the hub itself
sent about a package of this system with code 02 (refused) is, besides being delivered to
`status/in/`, the signal that the file the DMS dropped in `out/` was refused: it moves from
`.lienthong/sent/` to `failed/` with its reason file (adapters/folder_sent.py).
"""

from __future__ import annotations

import structlog

from adapters.folder import FolderSink
from adapters.folder_layout import DropFolders
from adapters.folder_sent import Refusal, SentJournal
from adapters.sink import Delivered, Handover, SinkResult
from schemas.codes import PackageKind, StatusCode
from schemas.models import StatusPackage
from schemas.parse import validate_package

log = structlog.get_logger("lienthong.sink.folder")


class DropFolderSink:
    """The delivery side of one system's drop folders."""

    def __init__(self, folders: DropFolders, journal: SentJournal) -> None:
        self.folders = folders
        self.journal = journal
        self.packages = FolderSink(folders.inbox)
        self.statuses = FolderSink(folders.status_in)

    def deliver(self, handover: Handover) -> SinkResult:
        if handover.kind != PackageKind.STATUS:
            return self.packages.deliver(handover)
        result = self.statuses.deliver(handover)
        if isinstance(result, Delivered) and handover.from_hub:
            self._maybe_refused(handover)
        return result

    def _maybe_refused(self, h: Handover) -> None:
        """A hub status 02 about one of our documents: that file goes to failed/. Best effort:
        the status itself is already in status/in/, whatever happens here."""
        report = None
        try:
            report = validate_package(h.body)
            pkg = report.parsed.package if report.parsed is not None else None
            if not isinstance(pkg, StatusPackage) or pkg.header.status_code is not StatusCode.REJECTED:
                return
            document_id = pkg.header.response_for.document_id
            if document_id and document_id != "-":
                self.journal.refuse_document(document_id, Refusal.from_text(pkg.header.description or ""))
        except Exception as exc:  # noqa: BLE001 - never fail a delivered status for this
            log.warning("folder.refusal_not_filed", system=self.folders.system, error=f"{type(exc).__name__}: {exc}")
        finally:
            if report is not None and report.parsed is not None:
                report.parsed.close()
