"""Every broker name the hub uses, derived from one prefix (never typed by hand elsewhere).

One place for names means a test prefix (`lt-t-1a2b3c4d`) isolates a whole topology on the
shared broker, operators can predict a queue name from a system id, and a rename is one edit.
Names are dotted so the management UI sorts them into a readable tree:

    P.intake            exchange (fanout) and its quorum queue; P.intake.parked
    P.intake.retry.N    intake's delay tiers → P.intake.retried (the hub's copies come back here)
    P.intake.dead       the broker's own dead letters of P.intake / P.intake.retried (the hub records them)
    P.deliver.dead      the broker's own dead letters of every P.sys.S.urgent / .normal
    P.level1 … P.level4 topic exchanges, one per administrative level
    P.unrouted          topic: alternate exchange of every level exchange (local unknown → P.unknown)
    P.external          fanout: alternate exchange of P.unrouted (outside the tree → gateway)
    P.unknown           quorum queue of local-but-unknown recipients
    P.dlx               direct exchange every dead letter goes through (key = target queue name)
    P.graveyard         last-resort quorum queue for parked queues' own dead letters
    P.sys.S             headers exchange of system S (routes on the lane header)
    P.sys.S.urgent / .normal / .retry.N / .parked   its quorum queues
    P.link.S            outbound queue of a link system S (another province's hub): a shovel
                        carries it to that hub's intake (router/topology/links.py)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Lane = Literal["urgent", "normal"]
LANES: tuple[Lane, ...] = ("urgent", "normal")

#: AMQP header carrying the lane; a headers exchange per system splits on it. Survives
#: dead-lettering, so a message coming back from a retry tier returns to its own lane.
LANE_HEADER = "lt-lane"

LEVELS: tuple[int, ...] = (1, 2, 3, 4)

_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")


def lane_for_priority(priority: int | None) -> Lane:
    """edXML OtherInfo/Priority: 0 thường → normal; 1 khẩn … 4 hỏa tốc hẹn giờ → urgent."""
    return "urgent" if priority is not None and priority >= 1 else "normal"


@dataclass(frozen=True, slots=True)
class Names:
    prefix: str = "lienthong"

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ValueError(f"broker name prefix {self.prefix!r} must match {_PREFIX.pattern}")

    def _n(self, *parts: str | int) -> str:
        return ".".join([self.prefix, *(str(p) for p in parts)])

    # intake
    @property
    def intake_exchange(self) -> str:
        return self._n("intake")

    @property
    def intake_queue(self) -> str:
        return self._n("intake")

    @property
    def intake_parked(self) -> str:
        return self._n("intake", "parked")

    def intake_retry_queue(self, tier: int) -> str:
        """Intake's own delay tiers (from 1); they dead-letter into `intake_retried`."""
        if tier < 1:
            raise ValueError(f"retry tiers are numbered from 1, got {tier}")
        return self._n("intake", "retry", tier)

    @property
    def intake_retried(self) -> str:
        """Where intake retries come back: only the hub's copies are trusted here (see TOPOLOGY.md)."""
        return self._n("intake", "retried")

    @property
    def intake_dead(self) -> str:
        """What the broker dead-letters on its own from intake's working queues; the hub records it."""
        return self._n("intake", "dead")

    @property
    def deliver_dead(self) -> str:
        """What the broker dead-letters on its own from the systems' lane queues."""
        return self._n("deliver", "dead")

    # routing
    def level_exchange(self, level: int) -> str:
        if level not in LEVELS:
            raise ValueError(f"administrative level must be 1..4, got {level}")
        return self._n(f"level{level}")

    @property
    def unrouted_exchange(self) -> str:
        return self._n("unrouted")

    @property
    def external_exchange(self) -> str:
        return self._n("external")

    @property
    def unknown_queue(self) -> str:
        return self._n("unknown")

    @property
    def dead_letter_exchange(self) -> str:
        return self._n("dlx")

    @property
    def graveyard_queue(self) -> str:
        return self._n("graveyard")

    # per system
    def system_exchange(self, sid: str) -> str:
        return self._n("sys", sid)

    def system_queue(self, sid: str, lane: Lane) -> str:
        if lane not in LANES:
            raise ValueError(f"lane must be one of {LANES}, got {lane!r}")
        return self._n("sys", sid, lane)

    def retry_queue(self, sid: str, tier: int) -> str:
        """Tier numbers start at 1: the first transient failure waits in tier 1."""
        if tier < 1:
            raise ValueError(f"retry tiers are numbered from 1, got {tier}")
        return self._n("sys", sid, "retry", tier)

    def parked_queue(self, sid: str) -> str:
        return self._n("sys", sid, "parked")

    def link_queue(self, sid: str) -> str:
        """What the hub hands to another province's hub; the link's shovel consumes it."""
        return self._n("link", sid)

    def owns(self, name: str) -> bool:
        """Is this broker object one of ours? (pruning, cleanup)"""
        return name == self.prefix or name.startswith(self.prefix + ".")
