"""A circuit breaker per push destination: stop calling an endpoint that keeps failing.

Why: a dead endpoint costs each delivery a full timeout (a worker held for seconds) and the
endpoint, when it comes back, a burst of every waiting package at once. The broker's delay
tiers still own *when* a package is tried again (design.md §4: one owner per retry); the
breaker only decides whether this attempt touches the network at all. While it is open, an
attempt fails at once as transient (the package goes to its next tier); after `pause_s` one
probe is let through: its success closes the breaker, its failure opens it for another pause.

Rule: over the last `window` attempts, at least `min_attempts` of them, a failure ratio of at
least `ratio` opens it (defaults: 10 attempts, 50 %, 30 s pause). What counts as a failure is
the caller's to say (the webhook sink: 5xx, timeouts, connection errors — a 4xx is an answer).
State and transitions are Prometheus metrics labelled by the destination system (a bounded
set: the directory's systems).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import structlog

from ops.metrics import WEBHOOK_BREAKER_STATE as BREAKER_STATE
from ops.metrics import WEBHOOK_BREAKER_TRANSITIONS as BREAKER_TRANSITIONS

log = structlog.get_logger("lienthong.breaker")


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


#: gauge values: 0 closed, 1 half-open (probing), 2 open
STATE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    window: int = 20
    min_attempts: int = 10
    ratio: float = 0.5
    pause_s: float = 30.0

    def __post_init__(self) -> None:
        if not (1 <= self.min_attempts <= self.window) or not (0 < self.ratio <= 1) or self.pause_s < 0:
            raise ValueError("breaker: need 1 <= min_attempts <= window, 0 < ratio <= 1, pause_s >= 0")


class CircuitBreaker:
    """Thread-safe (the delivery workers share one sink). `allow()` before an attempt; then
    `record(ok)` with its outcome. An attempt refused by `allow()` is not recorded."""

    def __init__(self, system: str, policy: BreakerPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.system = system
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._results: deque[bool] = deque(maxlen=self.policy.window)
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._probing = False
        BREAKER_STATE.labels(system).set(STATE_VALUE[self._state])

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def allow(self) -> bool:
        with self._lock:
            self._maybe_half_open()
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.HALF_OPEN and not self._probing:
                self._probing = True  # exactly one probe at a time
                return True
            return False

    def record(self, ok: bool) -> None:
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                self._probing = False
                self._results.clear()
                self._enter(BreakerState.CLOSED if ok else BreakerState.OPEN)
                return
            if self._state is BreakerState.OPEN:
                return  # an attempt started before the breaker opened: already counted as open
            self._results.append(ok)
            failures = self._results.count(False)
            total = len(self._results)
            if total >= self.policy.min_attempts and failures >= self.policy.ratio * total:
                self._results.clear()
                self._enter(BreakerState.OPEN)

    # -- internals (lock held) ------------------------------------------------------------------
    def _maybe_half_open(self) -> None:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.policy.pause_s:
            self._enter(BreakerState.HALF_OPEN)

    def _enter(self, state: BreakerState) -> None:
        if state is self._state:
            if state is BreakerState.OPEN:
                self._opened_at = self._clock()
            return
        previous, self._state = self._state, state
        if state is BreakerState.OPEN:
            self._opened_at = self._clock()
        BREAKER_STATE.labels(self.system).set(STATE_VALUE[state])
        BREAKER_TRANSITIONS.labels(self.system, state.value).inc()
        log.warning("breaker.transition", system=self.system, previous=previous.value, state=state.value)
