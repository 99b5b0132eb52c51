"""The one executor of failure decisions: ask the policy, build the stage's Decision, hand it
to the runtime — and know what to do when carrying it out fails too.

Why here and nowhere else: retrying and parking used to be decided by the delivery stage, the
hub's crash closures, the runtime's immediate requeues and the broker's dead-lettering, each
differently. Now every failure the runtime meets (the handler raising, a ledger write before or
after publishing, a nack or a return, the stage's own typed failures, what the broker
dead-lettered) becomes one `Failure`, the policy answers `RetryAfter` or `Park`, and the
stage's `Recovery` turns that into a Decision executed like any other: publish, wait for the
confirm, record, then ack the input. Nothing is acked before its copy is confirmed somewhere.

When the park record itself cannot be written (the ledger is down), the copy goes to the last
retry tier marked "park pending" and parks when it comes back; when even that copy is refused
by the broker, the input is given back to the broker after a growing delay (`requeue_delay_s`),
never dropped and never requeued at once.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from router.ledger.engine import unavailable
from router.pipeline.decisions import Decision
from router.pipeline.failure import Action, Failure, FailureKind, FailurePolicy, Park
from router.pipeline.recovery import Inbound, Recovery

log = structlog.get_logger("lienthong.executor")

StepKind = Literal["retry", "park", "park_later"]


@dataclass(frozen=True, slots=True)
class Step:
    """A failure decision ready to run: what the policy said, and the Decision that does it."""

    kind: StepKind
    failure: Failure
    action: Action
    decision: Decision


class Executor:
    def __init__(self, policy: FailurePolicy, recovery: Recovery) -> None:
        self.policy = policy
        self.recovery = recovery

    @staticmethod
    def inbound(body: bytes, headers: Mapping[str, Any], user_id: str | None, digest: str, queue: str) -> Inbound:
        return Inbound(body, headers, user_id, digest, queue, datetime.now(UTC))

    def carried_in(self, inbound: Inbound) -> Failure | None:
        """Dead-lettered by the broker, or a park still to be recorded: not for the handler."""
        return self.recovery.inbound_failure(inbound)

    @staticmethod
    def crashed(exc: BaseException) -> Failure:
        kind = FailureKind.LEDGER_UNAVAILABLE if unavailable(exc) else FailureKind.HANDLER_CRASHED
        return Failure(kind, repr(exc)[:500])

    def plan(self, inbound: Inbound, failure: Failure) -> Step:
        attempt = self.recovery.attempt(inbound)
        action = self.policy.decide(failure, self.recovery.stage, attempt)
        log.warning("failure", stage=self.recovery.stage, digest=inbound.digest[:16], attempt=attempt,
                    failure=failure.kind.value, detail=failure.detail,
                    action="retry" if not isinstance(action, Park) else f"park {action.code.value}")
        if isinstance(action, Park):
            return Step("park", failure, action, self.recovery.park(inbound, action, failure))
        return Step("retry", failure, action, self.recovery.retry(inbound, action.tier, failure))

    def park_later(self, inbound: Inbound, step: Step) -> Step | None:
        """The park of `step` could not be recorded: hold the copy in the last tier instead."""
        if not isinstance(step.action, Park):
            return None
        log.error("park not recorded; held in the last retry tier", stage=self.recovery.stage,
                  digest=inbound.digest[:16], code=step.action.code.value)
        return Step("park_later", step.failure, step.action, self.recovery.park_later(inbound, step.action))


def requeue_delay_s(delivery_count: int, cap_s: float = 30.0) -> float:
    """Bounded, jittered backoff for the last resort (the broker refused even the retry copy)."""
    return random.uniform(0.5, min(cap_s, 0.5 * 2 ** min(delivery_count + 1, 10)))  # noqa: S311
