"""Which transport transitions a delivery may take, as data, and how replays are told apart.

Delivery is at-least-once: the router and the delivery workers replay events after a crash,
and replays arrive late and out of order. The rules, in order:
1. `delivered` and `rejected` are final; `delivered` is accepted from any other state (the sink
   having the package is the truth, even if the `routed` record is still on its way).
2. The same state again is a repeat (no evidence), except a retry with a higher attempt.
3. `parked replay` re-opens a parked delivery (→ routed/retrying): only an event *newer* than
   the parking counts; the re-opening time is kept, and older events (the first journey's,
   replayed late) can no longer move the delivery.
4. Parking at a lower attempt than the delivery has reached is a late replay.
5. Otherwise the table `ALLOWED` decides; anything it does not allow is a stale replay.
Times compare only where events are far apart (re-opening happens minutes or days after
parking); never between the intake and a worker, whose clocks and order race by milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from router.ledger.events import TransportState as S

ALLOWED: dict[S, frozenset[S]] = {
    S.ACCEPTED: frozenset({S.ROUTED, S.RETRYING, S.PARKED, S.DELIVERED, S.REJECTED}),
    S.ROUTED: frozenset({S.RETRYING, S.PARKED, S.DELIVERED, S.REJECTED}),
    S.RETRYING: frozenset({S.RETRYING, S.PARKED, S.DELIVERED}),
    S.PARKED: frozenset({S.ROUTED, S.RETRYING, S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.REJECTED: frozenset(),
}
FINAL = frozenset({S.DELIVERED, S.REJECTED})
REOPEN = frozenset({S.ROUTED, S.RETRYING})  # out of PARKED


class Step(Enum):
    APPLY = "apply"
    REOPEN = "reopen"  # apply, and remember when the delivery was put back on the road
    REPEAT = "repeat"  # same fact again: harmless replay
    STALE = "stale"  # would move backwards: a late replay


@dataclass(frozen=True, slots=True)
class Current:
    state: S
    attempts: int
    last_at: datetime
    reopened_at: datetime | None


def step(current: Current | None, new: S, attempt: int, at: datetime) -> Step:
    if current is None:
        return Step.APPLY
    if current.state in FINAL:
        return Step.REPEAT if new is current.state else Step.STALE
    if new is S.DELIVERED:
        return Step.APPLY
    if current.reopened_at is not None and at < current.reopened_at:
        return Step.STALE
    if new is current.state:
        return Step.APPLY if new is S.RETRYING and attempt > current.attempts else Step.REPEAT
    if current.state is S.PARKED and new in REOPEN:
        return Step.REOPEN if at > current.last_at else Step.STALE
    if new is S.PARKED and attempt < current.attempts:
        return Step.STALE
    return Step.APPLY if new in ALLOWED[current.state] else Step.STALE
