"""Carrying out failure decisions for routed copies (the delivery stage's side of the executor).

Retry: the copy, attempt counted (not while a change waits for its original), to
`P.sys.S.retry.N`, which dead-letters it back to `P.sys.S` after the tier's TTL. Park: a
`Parked` record per recipient, a hub status to the sender, the copy to `P.sys.S.parked`.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

import structlog

from router.directory.model import Directory
from router.ledger.events import LedgerEvent, Parked, Retrying
from router.pipeline.decisions import Decision, Publish
from router.pipeline.envelope import PARK_CODE, PARK_REASON, Envelope, EnvelopeError
from router.pipeline.failure import Failure, FailureKind, Park, Stage
from router.pipeline.recovery import Inbound, dead_letter_failure, ledger_reason, reason_code
from router.pipeline.statuses import StatusSigner, hub_status
from router.topology.build import Topology
from schemas.codes import PackageKind
from schemas.findings import Code
from schemas.organ import OrganId

log = structlog.get_logger("lienthong.delivery")


class DeliveryRecovery:
    """Retry tiers and parking of routed copies; knows the topology, the directory (who to tell)
    and the hub's status identity."""

    stage: Stage = "deliver"

    def __init__(
        self, directory: Directory, topology: Topology, *, hub_name: str, sign_status: StatusSigner | None = None
    ) -> None:
        self.directory = directory
        self.topology = topology
        self.names = topology.names
        self.hub_name = hub_name
        self.sign_status = sign_status
        self.tiers = len(topology.options.retry_delays_s)

    def inbound_failure(self, inbound: Inbound) -> Failure | None:
        if inbound.queue == self.names.deliver_dead:
            return dead_letter_failure(inbound.headers)
        env = Envelope.decode(inbound.headers)
        if not isinstance(env, EnvelopeError) and env.park_code:
            return Failure(FailureKind.PARK_PENDING, env.park_reason or "", code=reason_code(env.park_code))
        return None

    def attempt(self, inbound: Inbound) -> int:
        env = Envelope.decode(inbound.headers)
        return 1 if isinstance(env, EnvelopeError) else env.attempt

    def retry(self, inbound: Inbound, tier: int, failure: Failure) -> Decision:
        env = Envelope.decode(inbound.headers)
        if isinstance(env, EnvelopeError):  # no system to retry for: only parking is left
            return self._park_unknown(inbound, Code.DELIVERY_FAILED, env.reason)
        waiting = failure.kind is FailureKind.WAITING_FOR_ORIGINAL
        if waiting:
            nxt = env if env.waiting_since else replace(env, waiting_since=inbound.at.isoformat())
        else:
            nxt = env.next_attempt()
        delay = self.topology.options.retry_delays_s[tier - 1]
        log.info("retrying", system=env.system, digest=env.digest[:16], attempt=env.attempt, tier_s=delay,
                 failure=failure.kind.value, error=failure.detail)
        after: tuple[LedgerEvent, ...] = ()
        if not (waiting and env.waiting_since):  # one record per wait, not one per lap
            after = tuple(Retrying(env.digest, r, env.system, env.attempt, f"{delay}s", failure.detail or
                                   failure.kind.value, at=inbound.at) for r in env.recipients)
        queue = self.names.retry_queue(env.system, tier)
        return Decision(publishes=(Publish("", queue, inbound.body, nxt.to_headers(), message_id=nxt.message_id),),
                        after=after)

    def park_later(self, inbound: Inbound, park: Park) -> Decision:
        env = Envelope.decode(inbound.headers)
        if isinstance(env, EnvelopeError):
            return self._park_unknown(inbound, park.code, env.reason)
        marked = env.parked(park.code.value, park.en)
        queue = self.names.retry_queue(env.system, self.tiers)
        copy = Publish("", queue, inbound.body, marked.to_headers(), message_id=marked.message_id)
        return Decision(publishes=(copy,))

    def park(self, inbound: Inbound, park: Park, failure: Failure) -> Decision:
        """Park for an operator; tell the sender (unless this is a status, or the copy cannot be
        read: no status about a status, and no sender to tell)."""
        env = Envelope.decode(inbound.headers)
        if isinstance(env, EnvelopeError):
            return self._park_unknown(inbound, park.code, f"{env.reason}; {failure.detail}")
        reason = ledger_reason(park, failure)
        parked = env.parked(park.code.value, park.en)
        known = env.system in self.topology.systems
        queue = self.names.parked_queue(env.system) if known else self.names.unknown_queue
        log.warning("parked", system=env.system, digest=env.digest[:16], code=park.code.value, reason=reason)
        before: list[LedgerEvent] = [Parked(env.digest, r, env.system, env.attempt, reason, at=inbound.at)
                                     for r in env.recipients]
        publishes = [Publish("", queue, inbound.body, parked.to_headers(), message_id=parked.message_id)]
        after: list[LedgerEvent] = []
        if failure.kind is not FailureKind.MALFORMED_COPY and env.kind is not PackageKind.STATUS:
            for r in env.recipients:
                p, b, a = self._failure_status(env, r, park, inbound.at)
                publishes += p
                before += b
                after += a
        return Decision(tuple(publishes), tuple(before), tuple(after))

    def _park_unknown(self, inbound: Inbound, code: Code, reason: str) -> Decision:
        """A copy whose envelope does not decode: kept in the unknown queue with what can be read."""
        digest = hashlib.sha256(inbound.body).hexdigest()
        log.warning("parked", digest=digest[:16], code=code.value, reason=reason)
        headers = {**inbound.headers, PARK_REASON: reason[:500], PARK_CODE: code.value}
        return Decision(publishes=(Publish("", self.names.unknown_queue, inbound.body, headers),))

    def _failure_status(
        self, env: Envelope, recipient: str, park: Park, at: datetime
    ) -> tuple[list[Publish], list[LedgerEvent], list[LedgerEvent]]:
        sender = env.sender
        dest = self.directory.server_of(sender) if OrganId.is_valid(sender) else None
        if dest is None:
            return [], [], []
        vi = f"Không chuyển được văn bản tới {recipient}: {park.vi}"
        en = f"could not deliver to {recipient}: {park.en}"
        st = hub_status(
            self.names, dest_system=dest.id, reporter=recipient if OrganId.is_valid(recipient) else sender,
            reporter_name=recipient, about_organ=sender, about_document_id=env.document_id or "-",
            about_code=_code_of(env.document_id), about_date=None, code=park.code, message=f"{vi} / {en}", at=at,
            hub_name=self.hub_name, sign=self.sign_status,
        )
        return [st.publish], list(st.before), list(st.after)


def _code_of(document_id: str) -> str:
    parts = document_id.split(",", 2)
    return parts[2] if len(parts) == 3 else "-"
