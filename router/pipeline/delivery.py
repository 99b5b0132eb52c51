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
from router.pipeline import envelope as H
from router.pipeline.clock import system_clock
from router.pipeline.decisions import Decision, Publish
from router.pipeline.statuses import StatusSigner, hub_status
from router.topology.build import Topology
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

    def process(self, body: bytes, headers: Mapping[str, Any], at: datetime | None = None) -> Decision:
        at = at or system_clock()
        sid = H.text(headers, H.SYSTEM)
        digest = H.text(headers, H.DIGEST)
        recipients = H.recipients(headers)
        attempt = max(1, H.integer(headers, H.ATTEMPT, 1))
        if not sid or sid not in self.sinks or not digest or not recipients:
            return self.park(body, headers, f"malformed routing headers (system={sid!r})", at, notify=False)
        if hashlib.sha256(body).hexdigest() != digest:
            return self.park(body, headers, "body does not match lt-digest (corrupted in transit)", at, notify=False)

        pending = [r for r in recipients if not self._delivered(digest, r)]
        if not pending:
            return Decision()  # a redelivery after the sink already had it: nothing to do
        if self._original_pending(headers, pending):
            return self._retry(body, headers, sid, digest, pending, attempt, WAITING_FOR_ORIGINAL, at, count=False)

        result = self.sinks[sid].deliver(
            Handover(
                body=body, digest=digest, kind="status" if H.text(headers, H.KIND) == "status" else "edoc",
                system_id=sid, recipients=tuple(pending), document_id=H.text(headers, H.DOCUMENT_ID) or None,
                sender=H.text(headers, H.SENDER), attempt=attempt,
                headers={k: H.text(headers, k) for k in headers if isinstance(k, str) and k.startswith("lt-")},
            )
        )
        if isinstance(result, SinkDelivered):
            log.info("delivered", system=sid, digest=digest[:16], attempt=attempt)
            metrics.DELIVERIES.labels(sid, "delivered").inc()
            return Decision(before=tuple(Delivered(digest, r, sid, attempt, at=at) for r in pending))
        if isinstance(result, TransientFailure):
            return self._retry(body, headers, sid, digest, pending, attempt, result.error, at)
        assert isinstance(result, PermanentFailure)
        return self.park(body, headers, f"refused: {result.error}", at, code=Code.DELIVERY_REFUSED)

    # -- helpers --------------------------------------------------------------------------------
    def _delivered(self, digest: str, recipient: str) -> bool:
        row = self.ledger.delivery_state(digest, recipient)
        return row is not None and row.state is TransportState.DELIVERED

    def _original_pending(self, headers: Mapping[str, Any], recipients: list[str]) -> bool:
        """Kinds 1–3 must reach a recipient after the original: wait while it is still on its way
        there (routed or retrying). Unknown, rejected or parked originals do not hold it back."""
        if H.integer(headers, H.DOC_TYPE, 0) == 0 or not H.text(headers, H.TARGET):
            return False
        original = self.ledger.find_package(H.text(headers, H.SENDER), H.text(headers, H.TARGET))
        if original is None or original.outcome is not Outcome.ACCEPTED:
            return False
        for r in recipients:
            row = self.ledger.delivery_state(original.digest, r)
            if row is not None and row.state in _ON_ITS_WAY:
                return True
        return False

    def _retry(
        self, body: bytes, headers: Mapping[str, Any], sid: str, digest: str, pending: list[str],
        attempt: int, error: str, at: datetime, *, count: bool = True,
    ) -> Decision:
        failures = attempt if count else 1
        queue = self.topology.retry_queue_for(sid, failures)
        if queue is None:
            return self.park(body, headers, f"retry tiers exhausted after {attempt} attempts: {error}", at,
                             code=Code.DELIVERY_FAILED)
        tier = self.topology.options.retry_delays_s[failures - 1]
        new_headers = dict(headers)
        new_headers[H.ATTEMPT] = attempt + 1 if count else attempt
        log.info("retrying", system=sid, digest=digest[:16], attempt=attempt, tier_s=tier, error=error)
        metrics.DELIVERIES.labels(sid, "retrying").inc()
        return Decision(
            publishes=(Publish("", queue, body, new_headers),),
            before=tuple(Retrying(digest, r, sid, attempt, f"{tier}s", error, at=at) for r in pending),
        )

    def park(
        self, body: bytes, headers: Mapping[str, Any], reason: str, at: datetime | None = None, *,
        code: Code = Code.DELIVERY_FAILED, notify: bool = True,
    ) -> Decision:
        """Park for an operator; tell the sender (unless this is a status: no status about a status)."""
        at = at or system_clock()
        sid = H.text(headers, H.SYSTEM)
        digest = H.text(headers, H.DIGEST) or hashlib.sha256(body).hexdigest()
        attempt = max(1, H.integer(headers, H.ATTEMPT, 1))
        recipients = H.recipients(headers)
        new_headers = dict(headers)
        new_headers[H.PARK_REASON] = reason
        queue = self.names.parked_queue(sid) if sid in self.topology.systems else self.names.unknown_queue
        log.warning("parked", system=sid, digest=digest[:16], reason=reason)
        metrics.DELIVERIES.labels(sid or "unknown", "parked").inc()
        before: list[LedgerEvent] = [Parked(digest, r, sid, attempt, reason, at=at) for r in recipients if sid]
        publishes = [Publish("", queue, body, new_headers)]
        after: list[LedgerEvent] = []
        if notify and H.text(headers, H.KIND) != "status":
            for r in recipients:
                p, b, a = self._failure_status(headers, r, code, reason, at)
                publishes += p
                before += b
                after += a
        return Decision(tuple(publishes), tuple(before), tuple(after))

    def _failure_status(
        self, headers: Mapping[str, Any], recipient: str, code: Code, reason: str, at: datetime
    ) -> tuple[list[Publish], list[LedgerEvent], list[LedgerEvent]]:
        sender = H.text(headers, H.SENDER)
        doc_id = H.text(headers, H.DOCUMENT_ID)
        dest = self.directory.server_of(sender) if OrganId.is_valid(sender) else None
        if dest is None:
            return [], [], []
        vi = f"Không chuyển được văn bản tới {recipient}: {reason}"
        en = f"could not deliver to {recipient}: {reason}"
        st = hub_status(
            self.names, dest_system=dest.id, reporter=recipient if OrganId.is_valid(recipient) else sender,
            reporter_name=recipient, about_organ=sender, about_document_id=doc_id or "-",
            about_code=_code_of(doc_id), about_date=None, code=code, message=f"{vi} / {en}", at=at,
            hub_name=self.hub_name, sign=self.sign_status,
        )
        return [st.publish], list(st.before), list(st.after)


def _code_of(document_id: str) -> str:
    parts = document_id.split(",", 2)
    return parts[2] if len(parts) == 3 else "-"
