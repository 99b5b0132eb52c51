"""Carrying out failure decisions for routed copies (the delivery stage's side of the executor).

Retry: the copy, attempt counted (not while a change waits for its original), to
`P.sys.S.retry.N`, which dead-letters it back to `P.sys.S` after the tier's TTL. Park: a
`Parked` record per recipient, the hub's hold notice (status 05 from the hub's own organ, the
reason code and the policy's clerk text — never the sink's error, never a 02 in the recipient's
name) to the sender, the copy to `P.sys.S.parked`. Each Decision carries its `StageOutcome`.

Only the hub makes copies: a message on these queues whose broker-validated `user_id` is not one
of the hub's own (`hub_users`), or whose envelope the ledger does not know (the stage checks),
is `COPY_FORGED`: a `CopyRefused` record with the publishing user, the message kept in
`P.unknown` for the operator (which `parked replay` never reaches), nobody told (its headers are
the intruder's word), never delivered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import replace

from router.directory.model import Directory
from router.ledger.events import CopyRefused, LedgerEvent, Parked, Retrying
from router.pipeline.decisions import Decision, Publish
from router.pipeline.envelope import PARK_CODE, PARK_REASON, PUBLISHER, Envelope, EnvelopeError
from router.pipeline.failure import Failure, FailureKind, Park
from router.pipeline.outcome import Result, Stage, StageOutcome
from router.pipeline.recovery import Inbound, dead_letter_failure, ledger_reason, reason_code
from router.pipeline.statuses import HubVoice, held_notice, organ_label
from router.topology.build import Topology
from schemas.codes import PackageKind
from schemas.findings import Code


class DeliveryRecovery:
    """Retry tiers and parking of routed copies; knows the topology, the directory (who to tell)
    and the hub's voice."""

    stage: Stage = Stage.DELIVERY

    def __init__(
        self, directory: Directory, topology: Topology, *, voice: HubVoice | None = None,
        hub_users: Collection[str] | None = None,
    ) -> None:
        """`hub_users`: the broker users whose messages are the hub's (None: no check, for tools
        and tests that build copies by hand)."""
        self.hub_users = frozenset(hub_users) if hub_users is not None else None
        self.directory = directory
        self.topology = topology
        self.names = topology.names
        self.voice = voice or HubVoice()
        self.tiers = len(topology.options.retry_delays_s)

    def inbound_failure(self, inbound: Inbound) -> Failure | None:
        """Checked before anything else reads the message (a forged park mark or dead letter too)."""
        if self.hub_users is not None and inbound.user_id not in self.hub_users:
            return Failure(FailureKind.COPY_FORGED, f"published by broker user {inbound.user_id or '(none)'}, "
                                                    "not by the hub")
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
        after: tuple[LedgerEvent, ...] = ()
        if not (waiting and env.waiting_since):  # one record per wait, not one per lap
            after = tuple(Retrying(env.digest, r, env.system, env.attempt, f"{delay}s", failure.detail or
                                   failure.kind.value, at=inbound.at) for r in env.recipients)
        queue = self.names.retry_queue(env.system, tier)
        return Decision(publishes=(Publish("", queue, inbound.body, nxt.to_headers(), message_id=nxt.message_id),),
                        after=after, outcome=StageOutcome.of_copy(Result.RETRYING, env, reason=failure.detail or
                                                                  failure.kind.value, tier_s=delay))

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
        if failure.kind is FailureKind.COPY_FORGED:
            return self._refuse(inbound, park, failure)
        env = Envelope.decode(inbound.headers)
        if isinstance(env, EnvelopeError):
            return self._park_unknown(inbound, park.code, f"{env.reason}; {failure.detail}")
        reason = ledger_reason(park, failure)
        parked = env.parked(park.code.value, park.en)
        known = env.system in self.topology.systems
        queue = self.names.parked_queue(env.system) if known else self.names.unknown_queue
        before: list[LedgerEvent] = [Parked(env.digest, r, env.system, env.attempt, reason, at=inbound.at)
                                     for r in env.recipients]
        publishes = [Publish("", queue, inbound.body, parked.to_headers(), message_id=parked.message_id)]
        after: list[LedgerEvent] = []
        if failure.kind is not FailureKind.MALFORMED_COPY and env.kind is not PackageKind.STATUS:
            for r in env.recipients:
                notice = held_notice(park, organ_label(self.directory, r))
                st = self.voice.about_copy(self.directory, self.names, env, notice, inbound.at)
                if st is not None:
                    publishes.append(st.publish)
                    before += st.before
                    after += st.after
        return Decision(tuple(publishes), tuple(before), tuple(after),
                        outcome=StageOutcome.of_copy(Result.PARKED, env, code=park.code.value, reason=reason))

    def _refuse(self, inbound: Inbound, park: Park, failure: Failure) -> Decision:
        """An intrusion: recorded with who published it, kept aside, never delivered or replayed."""
        system = next((sid for sid in self.topology.systems  # the queue's system, not what it claims
                       if inbound.queue.startswith(self.names.parked_queue(sid).removesuffix("parked"))), "-")
        publisher = inbound.user_id or "-"
        record = CopyRefused(inbound.digest, system, inbound.queue or "-", publisher[:255], failure.detail[:1000],
                             at=inbound.at)
        headers = {**inbound.headers, PARK_REASON: failure.detail[:500], PARK_CODE: park.code.value,
                   PUBLISHER: publisher[:255]}
        return Decision(publishes=(Publish("", self.names.unknown_queue, inbound.body, headers),), before=(record,),
                        outcome=StageOutcome(Stage.DELIVERY, Result.PARKED, inbound.digest, system=system,
                                             code=park.code.value, reason=f"{failure.detail} (queue {inbound.queue})"))

    def _park_unknown(self, inbound: Inbound, code: Code, reason: str) -> Decision:
        """A copy whose envelope does not decode: kept in the unknown queue with what can be read."""
        digest = hashlib.sha256(inbound.body).hexdigest()
        headers = {**inbound.headers, PARK_REASON: reason[:500], PARK_CODE: code.value}
        return Decision(publishes=(Publish("", self.names.unknown_queue, inbound.body, headers),),
                        outcome=StageOutcome(Stage.DELIVERY, Result.PARKED, digest, system="unknown",
                                             code=code.value, reason=reason))
