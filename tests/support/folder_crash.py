"""A drop-folder poller process that dies (SIGKILL to itself) at a chosen point of a claim, so
a test can check what the next poller — another hub instance, or the same one restarted — does.

    python -m tests.support.folder_crash ROOT GATEWAY_AMQP_URL EXCHANGE SYSTEM_ID POINT

POINT: `claimed` (the file renamed into out/.claimed/, nothing published), `confirmed` (the
broker confirmed the publish, nothing recorded), `recorded` (the sent/ record written, the file
not moved yet), `random:SECONDS` (poll until killed from outside; prints nothing).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from adapters.amqp import AmqpOutbox, Submitter
from adapters.folder_layout import DropFolders, publish
from adapters.folder_poller import FolderPoller, PollerOptions, Submitted
from adapters.folder_sent import SentJournal
from router.pipeline.submitter import AUTHENTICATED_BY, ON_BEHALF_OF
from tests.support.services import ROOT

POINTS = ("claimed", "confirmed", "recorded")


def start(root: Path, amqp_url: str, exchange: str, system_id: str, point: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.folder_crash", str(root), amqp_url, exchange, system_id, point],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _die(*_: Any, **__: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    root, url, exchange, system_id, point = sys.argv[1:6]
    folders = DropFolders("crash", Path(root))
    real_submit = AmqpOutbox.submit
    if point == "claimed":
        AmqpOutbox.submit = _die  # type: ignore[method-assign]
    elif point == "confirmed":
        def submit_then_die(self: AmqpOutbox, body: bytes, message_id: str, *, claim: bool = False) -> Submitted:
            done = real_submit(self, body, message_id, claim=claim)
            if done.confirmed:
                _die()
            return done

        AmqpOutbox.submit = submit_then_die  # type: ignore[method-assign]
    elif point == "recorded":
        def record_then_die(self: SentJournal, claimed: Path, digest: str, name: str, document_id: str | None) -> Path:
            publish((self.folders.sent / digest).with_suffix(".json"),
                    b'{"name": "%s", "digest": "%s", "at": 0}' % (name.encode(), digest.encode()))
            _die()
            raise AssertionError

        SentJournal.record = record_then_die  # type: ignore[method-assign]
    elif not point.startswith("random"):
        raise SystemExit(f"unknown point {point!r}")
    headers = {ON_BEHALF_OF: system_id, AUTHENTICATED_BY: "folder"}  # as Hub.outbox_for
    poller = FolderPoller(folders, lambda: Submitter(url, exchange).outbox(headers=headers, wait_s=5),
                          SentJournal(folders), PollerOptions(settle_s=0, poll_s=0.05))
    poller.run(threading.Event())


if __name__ == "__main__":
    main()
