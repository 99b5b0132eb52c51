"""Drop-folder delivery: write each package atomically into the system's inbox folder.

Rules from file-transfer practice (Camel's file component, Domibus' FS plugin): write to a
temporary name in the same folder, fsync, then publish it under its final name, so a reader
never sees half a file; the digest is in the file name, so a second delivery of the same
package is recognised and not written twice. The package is published with `link`, which fails
when the name exists: of several delivery processes racing on one package exactly one creates
the file (a rename would let the second overwrite it). The folder is fsynced before the sink
reports success, so an acked package survives a power cut.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from adapters.sink import Delivered, Handover, PermanentFailure, SinkResult, TransientFailure


def inbox_name(h: Handover) -> str:
    return f"{h.kind}-{h.digest[:32]}.edxml"


class FolderSink:
    """`<dir>/<kind>-<digest>.edxml` plus a `.json` sidecar naming recipients and sender."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def deliver(self, handover: Handover) -> SinkResult:
        target = self.directory / inbox_name(handover)
        if target.exists():
            return Delivered("already in the inbox")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            meta = {
                "digest": handover.digest,
                "kind": handover.kind,
                "document_id": handover.document_id,
                "sender": handover.sender,
                "recipients": list(handover.recipients),
                "system": handover.system_id,
                "headers": handover.headers,  # lt-verdict, lt-forwarded … for the receiving DMS
            }
            sidecar = json.dumps(meta, ensure_ascii=False, indent=1).encode()
            _publish(target.with_suffix(".json"), sidecar, replace=True)  # same content from any writer
            created = _publish(target, handover.body, replace=False)
            _fsync_directory(self.directory)
        except FileNotFoundError as exc:
            return PermanentFailure(f"inbox folder unusable: {exc}")
        except OSError as exc:
            return TransientFailure(f"cannot write {target}: {exc}")
        return Delivered(str(target) if created else "already in the inbox")

    def delivered(self) -> list[Path]:
        """Complete packages only: in-progress `.tmp-*` files are not the DMS's to see."""
        if not self.directory.exists():
            return []
        return sorted(p for p in self.directory.glob("*.edxml") if not p.name.startswith(".tmp-"))


def _publish(path: Path, data: bytes, *, replace: bool) -> bool:
    """Write `data` under `path` atomically; False when `path` already existed (replace=False)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
