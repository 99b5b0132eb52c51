"""A delivery process that dies at a chosen point of WebhookSink's hand-over (SIGKILL to
itself), so the contract test can check what the next attempt gives the receiver.

    python -m tests.support.webhook_crash URL SECRET HANDOVER_JSON POINT

POINT: `before` (killed before the request leaves), `after` (the receiver answered 2xx, the
result is never reported — the crash between the sink's success and the broker ack).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import httpx

from adapters.sink import Handover
from adapters.webhook import WebhookSink, WebhookTarget, load_secret
from tests.support.services import ROOT
from tests.support.sink_crash import handover_json

POINTS = ("before", "after")


def run(url: str, secret: str, h: Handover, point: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LT_CRASH_SECRET": secret}
    return subprocess.run(
        [sys.executable, "-m", "tests.support.webhook_crash", url, handover_json(h), point],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )


def _die(*_: Any, **__: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    url, raw, point = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    raw["body"] = raw["body"].encode("latin-1")
    raw["recipients"] = tuple(raw["recipients"])
    h = Handover(**raw)
    real_post = httpx.Client.post
    if point == "before":
        httpx.Client.post = _die  # type: ignore[method-assign]
    elif point == "after":
        def post_then_die(self: httpx.Client, *args: Any, **kwargs: Any) -> Any:
            real_post(self, *args, **kwargs)
            _die()

        httpx.Client.post = post_then_die  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown point {point!r}")
    sink = WebhookSink(WebhookTarget(h.system_id, url, load_secret(env="LT_CRASH_SECRET")))
    result = sink.deliver(h)
    print(json.dumps({"type": type(result).__name__}))


if __name__ == "__main__":
    main()
