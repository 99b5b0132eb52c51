"""Drop-folder intake: take the files a DMS put in `out/` (and `status/out/`) and submit them.

Why this protocol (Camel's file component, Domibus' FS plugin; design.md §3):

1. **Claim** a file by `flock` on it (non-blocking) and then an atomic `rename` into
   `out/.claimed/<claim id>--<name>`. Of two hub instances polling the same folder exactly one
   gets the lock and the rename; the other finds the name gone or locked and moves on.
2. **Submit** its bytes to intake with publisher confirms (`Outbox`, the one place that knows how
   the hub speaks for the system — see `router/hub.py`), `message_id` = the file's SHA-256.
3. Only after the broker's confirm does it **leave `out/`**: a record in `.lienthong/sent/`
   (written and fsynced first), then the rename of the file itself next to it. An intake result
   saying "rejected" moves it on to `failed/` with its reason file (adapters/folder_sent.py).
4. The lock is held by the open file until the end, so it dies with the process (SIGKILL too).
   The **sweep** (at start and on every poll) resumes claimed files whose lock is free: their
   owner died. One whose `sent/` record exists was confirmed already and is only moved on;
   the others are submitted again. The window where a file can be submitted twice is between
   the broker's confirm and the `sent/` record (a few system calls); intake absorbs such a copy
   as an exact duplicate (same digest), so the recipient still gets one.

A file that is not a regular file (a symlink dropped into `out/`) goes to `failed/` unread,
with a reason file; nothing outside the system's root is ever opened (adapters/folder_layout.py).

A file above the claim-check threshold (README "Large packages") is never read into memory:
it is streamed into the payload store (its SHA-256 computed on the way) and the poller submits
the small reference instead, so a 200 MB scan neither meets the broker's `max_message_size`
nor the hub's memory. Intake validates it from the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from adapters.folder_layout import (
    CLAIMED,
    DropFolders,
    NotRegularFile,
    fsync_directory,
    open_regular,
    publish,
    takeable,
)
from adapters.folder_sent import Refusal, SentJournal
from adapters.payloadstore import ClaimReference, PayloadStore, file_chunks

log = structlog.get_logger("lienthong.folder.poller")

SEP = "--"
REJECTED = ("rejected",)


@dataclass(frozen=True, slots=True)
class Submitted:
    """`confirmed`: the broker confirmed the publish; `result`: the intake result when it came."""

    confirmed: bool
    result: dict[str, Any] | None = None


class Outbox(Protocol):
    """How a poller hands one package to intake on behalf of its system (publisher confirms)."""

    def submit(self, body: bytes, message_id: str, *, claim: bool = False) -> Submitted:
        """`claim`: `body` is a claim reference to a payload already in the store."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PollerOptions:
    #: a file must be this old (mtime) before it is taken: a DMS still writing it in place
    settle_s: float = 2.0
    poll_s: float = 1.0
    #: files per poll, per folder
    batch: int = 200
    #: how often the sent/ records older than their retention are pruned
    prune_every_s: float = 3600.0
    #: files larger than this go to the payload store and travel as a reference (0: never)
    claim_threshold_bytes: int = 0


class FolderPoller:
    """One system's drop-folder intake. `outbox` is built in the poller's own thread (a broker
    connection is not shared between threads)."""

    def __init__(self, folders: DropFolders, outbox: Callable[[], Outbox], journal: SentJournal,
                 options: PollerOptions | None = None, *, payloads: PayloadStore | None = None) -> None:
        self.folders = folders
        self.payloads = payloads
        self._outbox_factory = outbox
        self._outbox: Outbox | None = None
        self.journal = journal
        self.options = options or PollerOptions()
        self.submitted = 0  # files submitted by this poller (for tests and logs)
        self._pruned_at = 0.0

    # -- the loop -------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Until `stop`: sweep, poll, sleep. A broker outage is waited out with backoff."""
        self.folders.prepare()
        pause = self.options.poll_s
        while not stop.is_set():
            try:
                self.poll_once()
                pause = self.options.poll_s
            except Exception as exc:  # noqa: BLE001 - the broker or the folder: log, back off, go on
                log.warning("folder.poll_failed", system=self.folders.system, error=f"{type(exc).__name__}: {exc}")
                self._drop_outbox()
                pause = min(30.0, max(pause * 2, 1.0))
            stop.wait(pause)
        self._drop_outbox()

    def poll_once(self) -> int:
        """One sweep and one pass over `out/` and `status/out/`; returns files submitted."""
        before = self.submitted
        if time.monotonic() - self._pruned_at >= self.options.prune_every_s or not self._pruned_at:
            self._pruned_at = time.monotonic()
            if removed := self.journal.prune():
                log.info("folder.sent_pruned", system=self.folders.system, removed=removed)
        for folder, claimed in ((self.folders.out, self.folders.claimed),
                                (self.folders.status_out, self.folders.status_claimed)):
            self.sweep(claimed)
            for name in self._ready(folder):
                self._take(folder / name, claimed)
        return self.submitted - before

    def sweep(self, claimed: Path | None = None) -> int:
        """Resume claimed files whose owner died (their lock is free); returns how many."""
        resumed = 0
        for folder in (claimed,) if claimed else (self.folders.claimed, self.folders.status_claimed):
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if SEP not in entry.name or entry.name.startswith("."):
                    continue
                path = Path(entry.path)
                try:
                    fd = self._lock(path)
                except NotRegularFile:
                    continue
                if fd is None:
                    continue
                log.info("folder.resumed", system=self.folders.system, file=entry.name)
                resumed += 1
                self._process(fd, path, entry.name.split(SEP, 1)[1])
        return resumed

    # -- steps ----------------------------------------------------------------------------------
    def _ready(self, folder: Path) -> list[str]:
        now = time.time()
        names = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if not takeable(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if now - st.st_mtime >= self.options.settle_s:
                    names.append(entry.name)
        return sorted(names)[: self.options.batch]

    def _take(self, path: Path, claimed_dir: Path) -> None:
        try:
            fd = self._lock(path)
        except NotRegularFile:
            self._refuse_unread(path)
            return
        if fd is None:
            return  # gone or locked: another instance has it
        claimed = claimed_dir / f"{uuid.uuid4().hex}{SEP}{path.name}"
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            os.close(fd)
            return
        fsync_directory(claimed_dir)
        self._process(fd, claimed, path.name)

    def _lock(self, path: Path) -> int | None:
        """An fd holding the exclusive lock on the file now at `path`, or None (gone, or locked
        by a live process)."""
        fd = open_regular(path)
        if fd is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            here = os.stat(path, follow_symlinks=False)
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        if here.st_ino != os.fstat(fd).st_ino:  # renamed away and replaced meanwhile
            os.close(fd)
            return None
        return fd

    def _process(self, fd: int, claimed: Path, name: str) -> None:
        """Submit a claimed file (lock held by `fd`); always releases the lock."""
        try:
            body, digest, claim = self._body(fd)
            if self.journal.confirmed(digest):  # confirmed before a crash: only finish the move
                self.journal.finish(claimed, digest)
                return
            outcome = self._outbox_now().submit(body, digest, claim=claim)
            if not outcome.confirmed:
                self._give_back(claimed, name)
                log.warning("folder.not_confirmed", system=self.folders.system, file=name)
                return
            self.submitted += 1
            result = outcome.result or {}
            document_id = result.get("document_id")
            self.journal.record(claimed, digest, name, document_id if isinstance(document_id, str) else None)
            log.info("folder.submitted", system=self.folders.system, file=name, digest=digest[:16],
                     outcome=result.get("outcome"))
            if result.get("outcome") in REJECTED or result.get("previous_outcome") in REJECTED:
                self.journal.refuse(digest, Refusal.from_text(str(result.get("message") or ""),
                                                              str(result.get("code") or "") or None))
        except BaseException:
            with contextlib.suppress(OSError):
                if claimed.exists():
                    self._give_back(claimed, name)
            raise
        finally:
            os.close(fd)

    def _body(self, fd: int) -> tuple[bytes, str, bool]:
        """(what to submit, the file's SHA-256, is it a claim reference)."""
        threshold = self.options.claim_threshold_bytes
        if self.payloads is not None and threshold > 0 and os.fstat(fd).st_size > threshold:
            os.lseek(fd, 0, os.SEEK_SET)
            with os.fdopen(os.dup(fd), "rb") as fh:
                stored = self.payloads.put_stream(file_chunks(fh))
            return ClaimReference.of(stored, self.payloads.name).encode(), stored.digest, True
        body = _read_all(fd)
        return body, hashlib.sha256(body).hexdigest(), False

    def _give_back(self, claimed: Path, name: str) -> None:
        """Not confirmed: the file returns to where the DMS put it (or stays claimed for the
        sweep when that name is taken again)."""
        target = claimed.parent.parent / name
        if not target.exists():
            os.rename(claimed, target)

    def _refuse_unread(self, path: Path) -> None:
        refusal = Refusal("NOT_A_FILE", "tệp trong thư mục gửi không phải tệp thông thường (liên kết, thư mục); "
                          "không được đọc", "the entry in the out folder is not a regular file (a link, a folder); "
                          "it was not read")
        target = self.folders.failed / f"{path.name}.{uuid.uuid4().hex[:16]}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(path, target)  # renames the link itself, never what it points to
            publish(self.folders.failed / f"{target.name}.reason.txt", refusal.reason_file(path.name))
            log.warning("folder.not_regular", system=self.folders.system, file=path.name)

    def _outbox_now(self) -> Outbox:
        if self._outbox is None:
            self._outbox = self._outbox_factory()
        return self._outbox

    def _drop_outbox(self) -> None:
        if self._outbox is not None:
            with contextlib.suppress(Exception):
                self._outbox.close()
            self._outbox = None


def _read_all(fd: int) -> bytes:
    chunks = []
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


__all__ = ["CLAIMED", "FolderPoller", "Outbox", "PollerOptions", "Submitted"]
