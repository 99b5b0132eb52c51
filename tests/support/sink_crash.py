"""A delivery process that dies at a chosen point of FolderSink's hand-over (SIGKILL to itself:
no cleanup, no `finally`), so the contract test can check what the next process finds.

    python -m tests.support.sink_crash INBOX HANDOVER_JSON POINT

POINT: `written` (body in the temp file, not yet fsynced or committed), `committed` (journal
marker written, file not yet published), `published` (file renamed into the inbox, the result
never reported — the crash between the sink's success and the broker ack), `too-big` (no crash:
a file-size limit makes the write fail with EFBIG; prints the result).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from adapters.folder import FolderSink
from adapters.sink import Handover
from tests.support.services import ROOT

POINTS = ("written", "committed", "published")


def handover_json(h: Handover) -> str:
    return json.dumps({
        "body": h.body.decode("latin-1"), "digest": h.digest, "kind": h.kind, "system_id": h.system_id,
        "recipients": list(h.recipients), "document_id": h.document_id, "sender": h.sender, "attempt": h.attempt,
        "headers": h.headers,
    })


def run(inbox: Path, h: Handover, point: str) -> subprocess.CompletedProcess[str]:
    """Run the dying process to its end (it is killed, or prints its result)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tests.support.sink_crash", str(inbox), handover_json(h), point],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )


def _die(*_: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    inbox, raw, point = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    raw["body"] = raw["body"].encode("latin-1")
    raw["recipients"] = tuple(raw["recipients"])
    h = Handover(**raw)
    real_rename = os.rename
    if point == "written":
        os.fsync = _die
    elif point == "committed":
        os.rename = _die
    elif point == "published":
        def rename_then_die(src: Any, dst: Any) -> None:
            real_rename(src, dst)
            _die()

        os.rename = rename_then_die
    elif point == "too-big":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(h.body) // 2, resource.RLIM_INFINITY))
    else:
        raise SystemExit(f"unknown point {point!r}")
    result = FolderSink(inbox).deliver(h)
    print(json.dumps({"type": type(result).__name__, **{k: getattr(result, k) for k in result.__slots__}}))


if __name__ == "__main__":
    main()
