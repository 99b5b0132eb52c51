"""Fault injection in front of a real sink: script failures per package digest."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

from adapters.sink import Handover, Sink, SinkResult

Step = Callable[[Handover], SinkResult | None]


class ScriptedSink:
    """Delegates to `inner` unless a step is scripted for the digest. A step returns a result
    (a failure to report), None (go on and deliver) or raises (a crash)."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner
        self.steps: dict[str, list[Step]] = defaultdict(list)
        self.calls: list[tuple[str, int]] = []
        self.order: list[str] = []
        self.always: dict[str, Step] = {}
        self._lock = threading.Lock()

    def script(self, digest: str, *steps: Step) -> None:
        with self._lock:
            self.steps[digest].extend(steps)

    def deliver(self, handover: Handover) -> SinkResult:
        with self._lock:
            self.calls.append((handover.digest, handover.attempt))
            step = self.always.get(handover.digest)
            if step is None and self.steps.get(handover.digest):
                step = self.steps[handover.digest].pop(0)
        if step is not None:
            outcome = step(handover)
            if outcome is not None:
                return outcome
        result = self.inner.deliver(handover)
        with self._lock:
            self.order.append(handover.digest)
        return result
