"""The delivery stage: hand one routed copy to its system's sink and decide what follows.

Success → Delivered, ack. Transient failure → the next retry tier (broker-side TTL), or parked
with a failure status to the sender when the tiers are exhausted. Permanent refusal → parked
and the status at once. A revoke/update/replace waits (in the first tier) until the original
it refers to has reached the same recipient. Retries have one owner: the broker's tiers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog

from adapters.sink import Delivered as SinkDelivered
from adapters.sink import Handover, PermanentFailure, Sink, TransientFailure
from ops import metrics
from router.directory.model import Directory
from router.ledger.events import (
    Delivered,
    LedgerEvent,
    Outcome,
    Parked,
    Retrying,
    TransportState,
)
from router.ledger.store import Ledger
from router.pipeline.clock import system_clock
from router.pipeline.decisions import Decision, Publish
from router.pipeline.envelope import PARK_CODE, PARK_REASON, Envelope, EnvelopeError
from router.pipeline.statuses import StatusSigner, hub_status
from router.topology.build import Topology
from schemas.codes import PackageKind
from schemas.findings import Code
from schemas.organ import OrganId

log = structlog.get_logger("lienthong.delivery")
WAITING_FOR_ORIGINAL = "waiting for the original document"
_ON_ITS_WAY = (TransportState.ACCEPTED, TransportState.ROUTED, TransportState.RETRYING)


class DeliveryStage:
    def __init__(
        self,
        directory: Directory,
        ledger: Ledger,
        topology: Topology,
        sinks: Mapping[str, Sink],
        *,
        hub_name: str = "Trục liên thông văn bản (lienthong)",
        sign_status: StatusSigner | None = None,
    ) -> None:
        self.sign_status = sign_status
        self.directory = directory
        self.ledger = ledger
        self.topology = topology
        self.names = topology.names
        self.sinks = sinks
        self.hub_name = hub_name

    def process(
        self, body: bytes, headers: Mapping[str, Any], at: datetime | None = None, digest: str | None = None
    ) -> Decision:
        """`digest` is the body's SHA-256 when the caller already has it (the runtime does)."""
        at = at or system_clock()
        env = Envelope.decode(headers)
        digest = digest or hashlib.sha256(body).hexdigest()
        if isinstance(env, EnvelopeError) or env.system not in self.sinks:
            reason = env.reason if isinstance(env, EnvelopeError) else f"no sink for system {env.system!r}"
            return self.park(body, headers, f"malformed routing headers ({reason})", at, notify=False)
        if digest != env.digest:
            return self.park(body, headers, "body does not match lt-digest (corrupted in transit)", at, notify=False)

        pending = tuple(r for r in env.recipients if not self._delivered(env.digest, r))
        if not pending:
            return Decision()  # a redelivery after the sink already had it: nothing to do
        env = env.only(pending)
        if self._original_pending(env):
            return self._retry(body, env, WAITING_FOR_ORIGINAL, at, count=False)

        result = self.sinks[env.system].deliver(
            Handover(
                body=body, digest=env.digest, kind=env.kind, system_id=env.system, recipients=pending,
                document_id=env.document_id or None, sender=env.sender, attempt=env.attempt, headers=env.as_text(),
            )
        )
        if isinstance(result, SinkDelivered):
            log.info("delivered", system=env.system, digest=env.digest[:16], attempt=env.attempt)
            metrics.DELIVERIES.labels(env.system, "delivered").inc()
            return Decision(before=tuple(Delivered(env.digest, r, env.system, env.attempt, at=at) for r in pending))
        if isinstance(result, TransientFailure):
            return self._retry(body, env, result.error, at)
        assert isinstance(result, PermanentFailure)
        return self.park(body, headers, f"refused: {result.error}", at, code=Code.DELIVERY_REFUSED)

    # -- helpers --------------------------------------------------------------------------------
    def _delivered(self, digest: str, recipient: str) -> bool:
        row = self.ledger.delivery_state(digest, recipient)
        return row is not None and row.state is TransportState.DELIVERED

    def _original_pending(self, env: Envelope) -> bool:
        """Kinds 1–3 must reach a recipient after the original: wait while it is still on its way
        there (routed or retrying). Unknown, rejected or parked originals do not hold it back."""
        if env.doc_type == 0 or not env.target:
            return False
        original = self.ledger.find_package(env.sender, env.target)
        if original is None or original.outcome is not Outcome.ACCEPTED:
            return False
        for r in env.recipients:
            row = self.ledger.delivery_state(original.digest, r)
            if row is not None and row.state in _ON_ITS_WAY:
                return True
        return False

    def _retry(self, body: bytes, env: Envelope, error: str, at: datetime, *, count: bool = True) -> Decision:
        failures = env.attempt if count else 1
        queue = self.topology.retry_queue_for(env.system, failures)
        if queue is None:
            return self.park(body, env.to_headers(), f"retry tiers exhausted after {env.attempt} attempts: {error}",
                             at, code=Code.DELIVERY_FAILED)
        tier = self.topology.options.retry_delays_s[failures - 1]
        nxt = env.next_attempt() if count else env
        log.info("retrying", system=env.system, digest=env.digest[:16], attempt=env.attempt, tier_s=tier, error=error)
        metrics.DELIVERIES.labels(env.system, "retrying").inc()
        return Decision(
            publishes=(Publish("", queue, body, nxt.to_headers(), message_id=nxt.message_id),),
            before=tuple(Retrying(env.digest, r, env.system, env.attempt, f"{tier}s", error, at=at)
                         for r in env.recipients),
        )

    def park(
        self, body: bytes, headers: Mapping[str, Any], reason: str, at: datetime | None = None, *,
        code: Code = Code.DELIVERY_FAILED, notify: bool = True,
    ) -> Decision:
        """Park for an operator; tell the sender (unless this is a status: no status about a status).

        Takes raw headers: a copy whose envelope does not decode is parked too (in the
        unknown queue), with what can be read of it."""
        at = at or system_clock()
        env = Envelope.decode(headers)
        if isinstance(env, EnvelopeError):
            digest = hashlib.sha256(body).hexdigest()
            log.warning("parked", digest=digest[:16], reason=reason)
            metrics.DELIVERIES.labels("unknown", "parked").inc()
            hdrs = {**headers, PARK_REASON: reason, PARK_CODE: code.value}
            return Decision(publishes=(Publish("", self.names.unknown_queue, body, hdrs),))
        parked = env.parked(code.value, reason)
        known = env.system in self.topology.systems
        queue = self.names.parked_queue(env.system) if known else self.names.unknown_queue
        log.warning("parked", system=env.system, digest=env.digest[:16], reason=reason)
        metrics.DELIVERIES.labels(env.system if known else "unknown", "parked").inc()
        before: list[LedgerEvent] = [Parked(env.digest, r, env.system, env.attempt, reason, at=at)
                                     for r in env.recipients]
        publishes = [Publish("", queue, body, parked.to_headers(), message_id=parked.message_id)]
        after: list[LedgerEvent] = []
        if notify and env.kind is not PackageKind.STATUS:
            for r in env.recipients:
                p, b, a = self._failure_status(env, r, code, reason, at)
                publishes += p
                before += b
                after += a
        return Decision(tuple(publishes), tuple(before), tuple(after))

    def _failure_status(
        self, env: Envelope, recipient: str, code: Code, reason: str, at: datetime
    ) -> tuple[list[Publish], list[LedgerEvent], list[LedgerEvent]]:
        sender = env.sender
        dest = self.directory.server_of(sender) if OrganId.is_valid(sender) else None
        if dest is None:
            return [], [], []
        vi = f"Không chuyển được văn bản tới {recipient}: {reason}"
        en = f"could not deliver to {recipient}: {reason}"
        st = hub_status(
            self.names, dest_system=dest.id, reporter=recipient if OrganId.is_valid(recipient) else sender,
            reporter_name=recipient, about_organ=sender, about_document_id=env.document_id or "-",
            about_code=_code_of(env.document_id), about_date=None, code=code, message=f"{vi} / {en}", at=at,
            hub_name=self.hub_name, sign=self.sign_status,
        )
        return [st.publish], list(st.before), list(st.after)


def _code_of(document_id: str) -> str:
    parts = document_id.split(",", 2)
    return parts[2] if len(parts) == 3 else "-"
