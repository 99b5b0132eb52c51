"""Drop-folder delivery: write each package atomically into the system's inbox folder.

Rules from file-transfer practice (Camel's file component, Domibus' FS plugin): write to a
temporary name in the same folder, fsync, then publish it under its final name, so a reader
never sees half a file; the file is named after the hand-over's stable id
(`Handover.handover_id`), the id a DMS de-duplicates on.

The sink remembers what it handed over on its own, in a journal folder inside the inbox
(`.handed-over/`), because the inbox cannot tell: a DMS moves its files out, and a re-delivery
after a crash (the router is at-least-once) would write them again. One hand-over is:

1. write the body to `.tmp-<id>-*.part` in the inbox and fsync it;
2. commit: create the journal marker `.handed-over/<id>`, a symlink naming that temp file
   (atomic, and it fails when the marker exists — of several racing writers exactly one
   commits), fsync the journal folder;
3. publish the sidecar, then `rename` the committed temp file to `<id>.edxml`, fsync the inbox.

Whoever comes next (a racing writer, the process restarted after a SIGKILL) reads the marker: its
temp file still there means step 3 did not happen and is finished now; gone means the package
was published, whatever the DMS did with it since. So a crash at any point gives neither a
duplicate nor a loss, and a partial temp file of a killed writer (no marker) is swept away by
the next hand-over of the same package. The window of packages a DMS may see twice is zero
for this sink, as long as the journal is kept.

The journal is pruned, or it would grow by one file per package forever. A marker matters only
while the same hand-over can still come to this sink: the ledger records `delivered` before
the broker message is acked, and the delivery stage never calls a sink for what the ledger
marks delivered, so a marker guards the gap between the sink's commit and that record — a
crash there redelivers the message as soon as a hub consumes again (a quorum queue hands
returned messages out first), and a failure after the commit goes through the retry tiers
(about 7 h with the defaults). So a marker is removed when it is older than `retention_s`
(7 days), its package published (no temp file left to finish), and this sink has been
delivering for `settle_s` (10 min) in this process — after a long outage the redeliveries of
the previous run come first, before anything is pruned. Pruning runs at most every
`prune_every_s` (1 h), inside a hand-over.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import structlog

from adapters.folder_layout import fsync_directory as _fsync_directory
from adapters.sink import Delivered, Handover, PermanentFailure, SinkResult, TransientFailure

log = structlog.get_logger("lienthong.sink.folder")

JOURNAL = ".handed-over"
#: marker target for a package published before its temp file could be known (or pre-journal)
PUBLISHED = ".published"
SUFFIX = ".edxml"
#: errors that no retry cures: the package itself cannot be stored as a file here
_PERMANENT = frozenset({errno.EFBIG, errno.ENAMETOOLONG})
TRANSIENT_TEXT = "the recipient's inbox folder cannot be written at the moment; delivery will be retried"
PERMANENT_TEXT = "the recipient's inbox folder cannot store this package"


def inbox_name(h: Handover) -> str:
    return f"{h.handover_id}{SUFFIX}"


class FolderSink:
    """`<dir>/<handover_id>.edxml` plus a `.json` sidecar naming recipients and sender, and a
    journal of what was handed over so a re-delivery never writes a package the DMS took away."""

    def __init__(
        self,
        directory: str | Path,
        *,
        journal: str | Path | None = None,
        retention_s: float = 7 * 86400,
        settle_s: float = 600.0,
        prune_every_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.journal = Path(journal) if journal is not None else self.directory / JOURNAL
        self.retention_s = retention_s
        self.settle_s = settle_s
        self.prune_every_s = prune_every_s
        self._clock = clock
        self._first_delivery: float | None = None
        self._last_prune = 0.0
        self._prune_lock = threading.Lock()

    def deliver(self, handover: Handover) -> SinkResult:
        self._maybe_prune()
        try:
            return self._deliver(handover)
        except OSError as exc:  # the detail (path, errno) is for the operator's log only
            log.warning("sink.folder.failed", folder=str(self.directory), handover=handover.handover_id,
                        error=f"{type(exc).__name__}: {exc}")
            if exc.errno in _PERMANENT:
                return PermanentFailure(PERMANENT_TEXT)
            return TransientFailure(TRANSIENT_TEXT)

    def _deliver(self, h: Handover) -> SinkResult:
        marker = self.journal / h.handover_id
        committed = _read(marker)
        if committed is None:
            if (self.directory / inbox_name(h)).exists():  # written before the journal existed
                self.journal.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(FileExistsError):
                    os.symlink(PUBLISHED, marker)
                return Delivered("already in the inbox")
            committed = self._commit(h, marker)
        return self._finish(h, committed)

    def _commit(self, h: Handover, marker: Path) -> str:
        """Steps 1–2; returns the name of the temp file the marker commits to (ours or a racer's)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.journal.mkdir(parents=True, exist_ok=True)
        # streamed: a claim-checked package comes from the store in chunks, verified; a damaged
        # one raises before the marker exists, and its temp file is removed (nothing published)
        tmp = _write_temp(self.directory, h.chunks(), prefix=f".tmp-{h.handover_id}-", suffix=".part")
        try:
            os.symlink(tmp.name, marker)  # atomic, carries its target: no content to write and fsync
        except FileExistsError:
            tmp.unlink(missing_ok=True)  # another writer committed first: follow its marker
            return _read(marker) or PUBLISHED
        _fsync_directory(self.journal)
        return tmp.name

    def _finish(self, h: Handover, committed: str) -> SinkResult:
        """Step 3, for whoever holds a marker whose temp file has not been published yet."""
        tmp = self.directory / committed
        if committed == PUBLISHED or not tmp.exists():
            return Delivered("already handed over")
        meta = {
            "id": h.handover_id,
            "digest": h.digest,
            "kind": h.kind,
            "document_id": h.document_id,
            "sender": h.sender,
            "recipients": list(h.recipients),
            "system": h.system_id,
            "headers": h.headers,  # lt-verdict, lt-forwarded … for the receiving DMS
        }
        sidecar = json.dumps(meta, ensure_ascii=False, indent=1).encode()
        target = self.directory / inbox_name(h)
        _publish(target.with_suffix(".json"), sidecar)  # temp not named `.tmp-<id>-`: never swept
        try:
            os.rename(tmp, target)
        except FileNotFoundError:
            return Delivered("already handed over")  # a racing writer published it a moment ago
        _fsync_directory(self.directory)
        _sweep(self.directory, f".tmp-{h.handover_id}-")  # left by killed writers
        return Delivered(target.name)

    def _maybe_prune(self) -> None:
        now = self._clock()
        if self._first_delivery is None:
            self._first_delivery = now
        if now - self._first_delivery < self.settle_s or now - self._last_prune < self.prune_every_s:
            return
        if not self._prune_lock.acquire(blocking=False):
            return
        try:
            self._last_prune = now
            removed = self.prune(now)
            if removed:
                log.info("sink.folder.journal_pruned", folder=str(self.directory), removed=removed)
        except OSError as exc:
            log.warning("sink.folder.prune_failed", folder=str(self.directory), error=f"{type(exc).__name__}: {exc}")
        finally:
            self._prune_lock.release()

    def prune(self, now: float | None = None) -> int:
        """Remove journal markers older than the retention whose package was published; returns
        how many. Markers of a commit not yet published (its temp file is still there) stay."""
        now = self._clock() if now is None else now
        if not self.journal.exists():
            return 0
        removed = 0
        with os.scandir(self.journal) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    age = now - entry.stat(follow_symlinks=False).st_mtime
                    target = os.readlink(entry.path)
                except OSError:
                    continue
                if age < self.retention_s:
                    continue
                if target != PUBLISHED and (self.directory / target).exists():
                    continue  # committed, not published yet: the next hand-over finishes it
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        return removed

    def delivered(self) -> list[Path]:
        """Complete packages in the inbox now; in-progress `.tmp-*` files are not the DMS's to see."""
        if not self.directory.exists():
            return []
        return sorted(p for p in self.directory.glob(f"*{SUFFIX}") if not p.name.startswith("."))

    def handed_over(self) -> set[str]:
        """Ids of every package this sink has committed to hand over (journal markers)."""
        if not self.journal.exists():
            return set()
        return {p.name for p in self.journal.iterdir() if not p.name.startswith(".")}


def _read(marker: Path) -> str | None:
    """The temp file a marker commits to; None when there is no marker."""
    try:
        return os.readlink(marker)
    except FileNotFoundError:
        return None


class _TempNames:
    """Temporary names `<prefix><token of this process><n><suffix>`: unique without mkstemp's
    random names and retries (a measured share of the delivery's CPU); O_EXCL still refuses a
    name in use. A forked child draws its own token."""

    token = secrets.token_hex(6)
    counter = itertools.count()

    @classmethod
    def renew(cls) -> None:
        cls.token = secrets.token_hex(6)


os.register_at_fork(after_in_child=_TempNames.renew)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _open_temp(folder: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    for _ in range(100):
        tmp = folder / f"{prefix}{_TempNames.token}{next(_TempNames.counter)}{suffix}"
        try:
            return os.open(tmp, _FLAGS, 0o600), tmp
        except FileExistsError:  # only if another process drew the same token: next number
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def _sweep(folder: Path, prefix: str) -> None:
    """Remove `prefix*` files (a plain scan: `Path.glob` compiled a new pattern for every call)."""
    with os.scandir(folder) as entries:
        stale = [e.path for e in entries if e.name.startswith(prefix)]
    for path in stale:
        Path(path).unlink(missing_ok=True)


def _write_temp(folder: Path, data: bytes | Iterable[bytes], *, prefix: str, suffix: str) -> Path:
    fd, tmp = _open_temp(folder, prefix, suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in (data,) if isinstance(data, bytes) else data:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _publish(path: Path, data: bytes) -> None:
    """Write `data` under `path` atomically (replacing it)."""
    tmp = _write_temp(path.parent, data, prefix=".tmp-", suffix=".part")
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

