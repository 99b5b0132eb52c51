"""A delivery process killed (SIGKILL to itself) in the middle of MailboxSink's hand-over.

    python -m tests.support.mailbox_crash LEDGER_URL HANDOVER_JSON POINT

POINT: `before-commit` (the letter inserted, the transaction not committed), `committed` (the
letter committed, the result never reported — the crash between the sink's success and the ack).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

from adapters.mailbox import Mailbox, MailboxSink
from adapters.sink import Handover
from tests.support.services import ROOT
from tests.support.sink_crash import handover_json

POINTS = ("before-commit", "committed")


def run(url: str, h: Handover, point: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tests.support.mailbox_crash", url, handover_json(h), point],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )


def _die(*_: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    url, raw, point = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    raw["body"] = raw["body"].encode("latin-1")
    raw["recipients"] = tuple(raw["recipients"])
    h = Handover(**raw)
    sink = MailboxSink(Mailbox.open(url), h.system_id)
    if point == "before-commit":
        sink._before_commit = _die  # type: ignore[method-assign]
    result = sink.deliver(h)
    if point == "committed":
        _die()
    print(result)


if __name__ == "__main__":
    main()
