"""The circuit breaker of a push destination, on a clock the test moves."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from adapters.breaker import BreakerPolicy, BreakerState, CircuitBreaker

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_opens_only_at_half_failures_over_at_least_ten_attempts() -> None:
    b = CircuitBreaker("unit-a", BreakerPolicy(window=20, min_attempts=10, ratio=0.5, pause_s=30), Clock())
    for _ in range(9):
        b.record(False)  # nine failures: not yet ten attempts
    assert b.state is BreakerState.CLOSED
    b.record(True)  # ten attempts, nine failures
    assert b.state is BreakerState.OPEN


def test_a_mostly_healthy_endpoint_stays_closed() -> None:
    b = CircuitBreaker("unit-b", BreakerPolicy(window=20, min_attempts=10), Clock())
    for i in range(100):
        b.record(i % 3 != 0)  # a third fail
    assert b.state is BreakerState.CLOSED and b.allow()


def test_open_refuses_then_one_probe_after_the_pause_decides() -> None:
    clock = Clock()
    b = CircuitBreaker("unit-c", BreakerPolicy(min_attempts=10, pause_s=30), clock)
    opened = _metric("lienthong_webhook_breaker_transitions_total", {"system": "unit-c", "to": "open"})
    for _ in range(10):
        b.record(False)
    assert not b.allow()
    assert _metric("lienthong_webhook_breaker_state", {"system": "unit-c"}) == 2
    clock.now += 29.9
    assert not b.allow()
    clock.now += 0.2
    assert b.allow()  # the probe
    assert not b.allow()  # only one at a time
    assert _metric("lienthong_webhook_breaker_state", {"system": "unit-c"}) == 1
    b.record(False)  # the probe failed: open for another pause
    assert b.state is BreakerState.OPEN and not b.allow()
    clock.now += 31
    assert b.allow()
    b.record(True)
    assert b.state is BreakerState.CLOSED and b.allow()
    assert _metric("lienthong_webhook_breaker_state", {"system": "unit-c"}) == 0
    assert _metric("lienthong_webhook_breaker_transitions_total", {"system": "unit-c", "to": "open"}) == opened + 2
    assert _metric("lienthong_webhook_breaker_transitions_total", {"system": "unit-c", "to": "closed"}) == 1


def test_nonsense_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(window=5, min_attempts=10)
    with pytest.raises(ValueError):
        BreakerPolicy(ratio=0)
