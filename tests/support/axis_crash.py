"""A delivery process that dies (SIGKILL to itself) at a chosen point of AxisSink's hand-over, so
the contract test can check what the next process finds on the axis and in the journal.

    python -m tests.support.axis_crash AXIS_URL SYSTEM_ID SECRET JOURNAL_URL HANDOVER_JSON POINT

POINT: `reserved` (the journal holds the frozen signature, nothing was sent), `sent` (the axis
stored the package and answered its DocId, the journal never recorded it — the crash between
the axis's answer and the broker ack).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

from adapters.axis.client import AxisClient, AxisLink, AxisSink
from adapters.axis.journal import AxisJournal
from adapters.sink import Handover
from tests.support.services import ROOT
from tests.support.sink_crash import handover_json

POINTS = ("reserved", "sent")


def run(url: str, system_id: str, secret: str, journal_url: str, h: Handover,
        point: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tests.support.axis_crash", url, system_id, secret, journal_url, handover_json(h),
         point], capture_output=True, text=True, timeout=60, env=env, check=False,
    )


def _die(*_: Any, **__: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    url, system_id, secret, journal_url, raw, point = sys.argv[1:7]
    fields = json.loads(raw)
    fields["body"] = fields["body"].encode("latin-1")
    fields["recipients"] = tuple(fields["recipients"])
    h = Handover(**fields)
    journal = AxisJournal.open(journal_url)
    if point == "reserved":
        AxisClient.send_edoc = _die  # type: ignore[method-assign]
    elif point == "sent":
        journal.mark_sent = _die  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown point {point!r}")
    result = AxisSink(AxisClient(AxisLink(url, system_id, secret)), journal).deliver(h)
    print(json.dumps({"type": type(result).__name__}))


if __name__ == "__main__":
    main()
