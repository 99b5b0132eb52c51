"""The drop folders of one system, and the jail that keeps the hub inside them.

```
<root>/out/            the DMS drops packages to send (write elsewhere or as .name.part, then rename)
<root>/out/.claimed/   claimed by a hub instance: `<claim id>--<original name>` (still under out/)
<root>/in/             delivered packages: `<hand-over id>.edxml` + `.json`
<root>/status/out/     the DMS drops status packages to send
<root>/status/in/      delivered status packages (from recipients and from the hub)
<root>/failed/         a refused file `<name>.<id>.edxml` beside `<name>.<id>.reason.txt` (vi + en)
<root>/.lienthong/sent/  what the broker confirmed, `<digest>.edxml` + `.json`, kept for late refusals
```

The jail: the root and every folder above must be real directories inside the root (a folder
that is a symlink pointing elsewhere is refused at start); files are opened with O_NOFOLLOW
and must be regular files (a symlink dropped in `out/` is refused, never followed); names come
from listing the folder, never from a package, so `..` cannot appear.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

WORK = ".lienthong"
CLAIMED = ".claimed"
#: names the poller never takes: hidden files and files still being written
PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")


class FolderJailError(ValueError):
    """A drop folder that is not a real directory inside the system's root (one line)."""


@dataclass(frozen=True, slots=True)
class DropFolders:
    system: str
    root: Path

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def claimed(self) -> Path:
        return self.out / CLAIMED

    @property
    def inbox(self) -> Path:
        return self.root / "in"

    @property
    def status_out(self) -> Path:
        return self.root / "status" / "out"

    @property
    def status_claimed(self) -> Path:
        return self.status_out / CLAIMED

    @property
    def status_in(self) -> Path:
        return self.root / "status" / "in"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def sent(self) -> Path:
        return self.root / WORK / "sent"

    def folders(self) -> tuple[Path, ...]:
        return (self.out, self.claimed, self.inbox, self.status_out, self.status_claimed, self.status_in,
                self.failed, self.sent)

    def prepare(self) -> None:
        """Create what is missing, then check the jail (raises FolderJailError)."""
        for folder in self.folders():
            folder.mkdir(parents=True, exist_ok=True)
        self.check()

    def check(self) -> None:
        root = self.root.resolve(strict=True)
        for folder in self.folders():
            if folder.is_symlink() or not folder.is_dir():
                raise FolderJailError(f"drop folder of system {self.system}: {folder} is not a real directory")
            if not folder.resolve(strict=True).is_relative_to(root):
                raise FolderJailError(f"drop folder of system {self.system}: {folder} leads outside {root}")


def takeable(name: str) -> bool:
    """A name the DMS has finished writing (not hidden, not a partial download)."""
    return bool(name) and not name.startswith(".") and not name.endswith(PARTIAL_SUFFIXES)


def open_regular(path: Path) -> int | None:
    """A read-only fd on `path` if it is a regular file, never following a symlink; None if it
    is gone. Raises NotRegularFile for anything else (a symlink, a folder, a device)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink
        raise NotRegularFile(path.name) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFile(path.name)
    return fd


class NotRegularFile(Exception):
    """A name in a drop folder that is not a regular file (symlink, folder, device)."""


def publish(path: Path, data: bytes) -> None:
    """Write `data` under `path` atomically: temp name in the same folder, fsync, rename, fsync
    the folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
