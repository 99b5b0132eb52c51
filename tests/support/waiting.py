"""Waiting for a condition in integration tests (one helper instead of one per file)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(cond: Callable[[], object], what: str, timeout: float = 30.0, every: float = 0.05) -> None:
    """Poll `cond` until it is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(every)
    raise AssertionError(f"{what}: not reached within {timeout}s")
