"""Instrumentation at the boundary: the runtime observes each message once.

Why here and not in the stages: a stage decides and returns a `Decision` carrying a typed
`StageOutcome`; counting and narrating are the runtime's. The consumer calls the observer at
three points of a message's life, and nowhere else is a package metric touched:

* `decide` runs the handler: binds the log context (stage, system, digest, attempt, queue) with
  structlog's contextvars for everything the worker logs while handling it, and times it;
* `failure` counts a failure decision of the executor (retry, park, park_later) when it is made;
* `settled` emits the one canonical event of the package outcome (`package.routed`,
  `package.refused`, `delivery.delivered`, `delivery.retry_scheduled`, `delivery.parked`, …)
  and updates the metrics — once the decision was carried out and the input acked, so an
  outcome whose ledger write or publish failed is never announced (its retry or park is).

Label values are bounded: outcomes and kinds are closed sets, reason codes are the closed set of
`schemas.findings.Code`, and systems outside the directory's are counted as `other`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any, Protocol, TypeVar

import structlog

from ops import metrics
from router.amqp.executor import Step
from router.pipeline.decisions import Decision
from router.pipeline.envelope import Envelope, EnvelopeError
from router.pipeline.failure import Park
from router.pipeline.outcome import Result, Stage, StageOutcome
from schemas.findings import Code

log = structlog.get_logger("lienthong.outcome")

_KNOWN_CODES = frozenset(c.value for c in Code)
_WARN = frozenset({Result.RETRYING, Result.PARKED})


class Observed(Protocol):
    """What the observer reads of a message (router.amqp.consumer.Message)."""

    handled_s: float

    @property
    def headers(self) -> dict[str, Any]: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def digest(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def delivery_count(self) -> int: ...


M = TypeVar("M", bound=Observed)


class Observer:
    """One per consumer. `stage` (a `Stage` value for the hub's consumers) names it in the log
    context, the stage timer and the failure decisions; `systems` bounds the `system` label
    (None: no bound, for tests and tools)."""

    def __init__(self, stage: str, systems: Collection[str] | None = None) -> None:
        self.stage = stage
        self.systems = frozenset(systems) if systems is not None else None

    def decide(self, msg: M, handler: Callable[[M], Decision]) -> Decision:
        """Run the handler inside the message's log context and time it.

        The context stays bound on this worker thread until its next message, so the runtime's
        own lines about this message (a crash, a failure decision) carry it too."""
        self.bind(msg)
        start = time.perf_counter()
        try:
            return handler(msg)
        finally:
            msg.handled_s += time.perf_counter() - start  # on top of its share of a window's reads
            metrics.STAGE_SECONDS.labels(self.stage).observe(msg.handled_s)

    def window(self, size: int) -> None:
        """A worker's read-ahead for `size` messages taken at once (1: each read for itself)."""
        metrics.WINDOWS.labels(self.stage).inc()
        metrics.WINDOW_MESSAGES.labels(self.stage).inc(size)

    def bind(self, msg: Observed) -> None:
        """Bind the message's context on this thread (the worker's, or the one building a
        failure decision)."""
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**self.context(msg))

    def context(self, msg: Observed) -> dict[str, Any]:
        """At intake the system is not known before the directory is asked: the broker user
        stands in; a copy's envelope names its system and attempt."""
        ctx: dict[str, Any] = {"stage": self.stage, "digest": msg.digest[:16], "queue": msg.queue}
        env = Envelope.decode(msg.headers)
        if isinstance(env, EnvelopeError):  # a submission (no envelope yet) or a broken copy
            ctx["user_id"] = msg.user_id
            ctx["attempt"] = msg.delivery_count + 1
        else:
            ctx["system"] = env.system
            ctx["attempt"] = env.attempt
        return ctx

    def failure(self, step: Step) -> None:
        """A failure decision made by the executor (its outcome is observed when settled)."""
        parked = isinstance(step.action, Park) and step.kind == "park"
        action = f"park:{step.action.code.value}" if isinstance(step.action, Park) and parked else step.kind
        metrics.FAILURE_DECISIONS.labels(self.stage, step.failure.kind.value, action).inc()

    def settled(self, msg: Observed, outcome: StageOutcome | None) -> None:
        """The message's decision was carried out and the input acked: its canonical event and
        metrics. Called on the I/O thread, so the context is given explicitly."""
        if outcome is None:
            return
        self.outcome(outcome, msg.handled_s, self.context(msg))

    def outcome(
        self, outcome: StageOutcome, seconds: float | None = None, context: dict[str, Any] | None = None
    ) -> None:
        """The canonical event and the metrics of one package outcome."""
        fields = {**(context or {}), **outcome.log_fields()}
        if seconds is not None:
            fields["duration_s"] = round(seconds, 6)
        emit = log.warning if outcome.result in _WARN else log.info
        emit(outcome.event, **fields)
        self._count(outcome)

    def _count(self, o: StageOutcome) -> None:
        kind = o.kind.value if o.kind is not None else "unknown"
        code = o.code if o.code in _KNOWN_CODES else ("OTHER" if o.code else None)
        hits, misses = o.chain_cache
        if hits:
            metrics.SIGNATURE_CHAIN_CACHE.labels("hit").inc(hits)
        if misses:
            metrics.SIGNATURE_CHAIN_CACHE.labels("miss").inc(misses)
        if o.stage is Stage.INTAKE:
            if o.result is not Result.RETRYING:  # a retry is a failure decision, not a package outcome
                metrics.PACKAGES.labels(kind, o.result.value).inc()
            if code and (o.result is Result.REJECTED or o.refused_recipients):
                metrics.REJECTIONS.labels(code).inc()
            for w in o.validation_warnings:
                metrics.VALIDATION_WARNINGS.labels(self._system(o.system), w if w in _KNOWN_CODES else "OTHER").inc()
        else:
            metrics.DELIVERIES.labels(self._system(o.system), o.result.value).inc()
        if o.result is Result.PARKED:
            metrics.PARKED.labels(o.stage.value, code or "OTHER").inc()

    def _system(self, system: str | None) -> str:
        if not system:
            return "unknown"
        if self.systems is None or system in self.systems or system == "unknown":
            return system
        return "other"
