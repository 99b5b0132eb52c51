"""Which transport transitions a delivery may take, as data.

Delivery is at-least-once: the router and the delivery workers replay events after a crash,
and replays arrive late. A replay that would move a delivery backwards (a stale `Routed` after
`Delivered`) is ignored, a repeat of the current state is a no-op, and only a real step is
recorded and chained.
"""

from __future__ import annotations

from enum import Enum

from router.ledger.events import TransportState as S

ALLOWED: dict[S, frozenset[S]] = {
    S.ACCEPTED: frozenset({S.ROUTED, S.RETRYING, S.PARKED, S.DELIVERED, S.REJECTED}),
    S.ROUTED: frozenset({S.RETRYING, S.PARKED, S.DELIVERED, S.REJECTED}),
    S.RETRYING: frozenset({S.RETRYING, S.PARKED, S.DELIVERED}),
    # parked → routed / retrying: `parked replay` puts the package back on the road.
    S.PARKED: frozenset({S.ROUTED, S.RETRYING, S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.REJECTED: frozenset(),
}


class Step(Enum):
    APPLY = "apply"
    REPEAT = "repeat"  # same fact again: harmless replay
    STALE = "stale"  # would move backwards: a late replay


def step(current: S | None, current_attempts: int, new: S, attempt: int) -> Step:
    if current is None:
        return Step.APPLY
    if new is current:
        # a further retry is a new fact; the same attempt again is a replay
        return Step.APPLY if new is S.RETRYING and attempt > current_attempts else Step.REPEAT
    return Step.APPLY if new in ALLOWED[current] else Step.STALE
