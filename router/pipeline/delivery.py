"""The delivery stage: hand one routed copy to its system's sink and say how it went.

Success → Delivered, ack. Anything else is a typed `Failure` on the Decision (sink transient or
permanent, a change still waiting for its original, a damaged copy, a copy the ledger does not
know — `COPY_FORGED`, see delivery_recovery.py): the failure policy
(router/pipeline/failure.py) decides between a retry tier and parking, and the runtime's
executor carries it out with `DeliveryRecovery` (router/pipeline/delivery_recovery.py), whose
notice to the sender is the hub's own (router/pipeline/statuses.py): a transport state, never a
status in the recipient's name. A copy delivered after it was parked tells the sender so,
superseding that notice. A revoke/update/replace waits (in the first tier, attempts not
counted) until the original it refers to has reached the same recipient, for at most
`original_wait_s` (policy).

A claim-checked copy (`lt-claim`) carries a reference: the sink is handed a `Handover` whose
bytes come from the payload store, verified against the digest while the sink reads them
(adapters/sink.py). Missing there, or damaged, is PAYLOAD_MISSING / PAYLOAD_CORRUPT — parked at
once with a record, the sender told — and the sink publishes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from adapters.payloadstore import ClaimError, ClaimReference, PayloadCorrupt, PayloadMissing, PayloadStore
from adapters.sink import Delivered as SinkDelivered
from adapters.sink import Handover, PermanentFailure, Sink, TransientFailure
from router.directory.model import Directory
from router.ledger.events import Delivered, LedgerEvent, Outcome, TransportState
from router.ledger.rows import DeliveryRow, PackageRow
from router.ledger.store import Ledger
from router.pipeline import rights
from router.pipeline.clock import system_clock
from router.pipeline.decisions import Decision, Publish
from router.pipeline.envelope import Envelope, EnvelopeError
from router.pipeline.failure import Failure, FailureKind
from router.pipeline.outcome import Result, StageOutcome
from router.pipeline.statuses import HUB_SUBMITTER, HubVoice, delivered_notice, organ_label
from router.pipeline.window import DeliveryWindow
from router.topology.build import Topology
from schemas.codes import PackageKind

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
        voice: HubVoice | None = None,
        payloads: PayloadStore | None = None,
    ) -> None:
        self.directory = directory
        self.ledger = ledger
        self.topology = topology
        self.names = topology.names
        self.sinks = sinks
        self.voice = voice or HubVoice()
        self.payloads = payloads

    def window(self, copies: Sequence[Mapping[str, Any]]) -> DeliveryWindow:
        """Read ahead for copies taken at once (router/pipeline/window.py): the packages and
        delivery rows of all their digests, from two queries. `copies`: their headers."""
        digests = frozenset(env.digest for env in map(Envelope.decode, copies) if isinstance(env, Envelope))
        packages, deliveries = self.ledger.window_reads(sorted(digests))
        return DeliveryWindow(digests, packages, deliveries)

    def process(
        self, body: bytes, headers: Mapping[str, Any], at: datetime | None = None, digest: str | None = None,
        *, window: DeliveryWindow | None = None,
    ) -> Decision:
        """`digest` is the body's SHA-256 when the caller already has it (the runtime does).
        `window`: what `window()` read ahead for the copies taken with this one."""
        at = at or system_clock()
        env = Envelope.decode(headers)
        digest = digest or hashlib.sha256(body).hexdigest()
        if isinstance(env, EnvelopeError) or env.system not in self.sinks:
            reason = env.reason if isinstance(env, EnvelopeError) else f"no sink for system {env.system!r}"
            return Decision(failure=Failure(FailureKind.MALFORMED_COPY, f"malformed routing headers ({reason})"))
        claim: ClaimReference | None = None
        if env.claim:
            try:
                claim = ClaimReference.decode(body)
            except ClaimError as exc:
                return Decision(failure=Failure(FailureKind.MALFORMED_COPY, f"unreadable claim reference ({exc})"))
            if claim.digest != env.digest:
                return Decision(failure=Failure(FailureKind.MALFORMED_COPY,
                                                "claim reference does not match lt-digest"))
        elif digest != env.digest:
            return Decision(failure=Failure(FailureKind.MALFORMED_COPY,
                                            "body does not match lt-digest (corrupted in transit)"))

        if window is not None and window.covers(env.digest):
            rows = {r: window.deliveries.get((env.digest, r)) for r in env.recipients}
            package = window.packages.get(env.digest)
        else:
            rows = {r: self.ledger.delivery_state(env.digest, r) for r in env.recipients}
            package = self.ledger.get_package(env.digest)
        forged = _unknown_to_ledger(env, package, rows)
        if forged is not None:
            return Decision(failure=Failure(FailureKind.COPY_FORGED, forged))
        pending = tuple(r for r, row in rows.items() if row is None or row.state is not TransportState.DELIVERED)
        if not pending:  # a redelivery after the sink already had it: nothing to do
            return Decision(outcome=StageOutcome.of_copy(Result.DUPLICATE, env))
        env = env.only(pending)
        if self._original_pending(env):
            return Decision(failure=Failure(FailureKind.WAITING_FOR_ORIGINAL, WAITING_FOR_ORIGINAL,
                                            waited_s=_waited_s(env.waiting_since)))

        handover = Handover(
            body=body, digest=env.digest, kind=env.kind, system_id=env.system, recipients=pending,
            document_id=env.document_id or None, sender=env.sender, attempt=env.attempt, headers=env.as_text(),
            from_hub=env.submitted_by == HUB_SUBMITTER,
        )
        if claim is not None:
            stored = self._stored(claim)
            if isinstance(stored, Failure):
                return Decision(failure=stored)
            handover = replace(handover, body=b"", source=stored, size=claim.size)
        try:
            result = self.sinks[env.system].deliver(handover)
        except PayloadMissing as exc:  # removed while the sink was reading
            return Decision(failure=Failure(FailureKind.PAYLOAD_MISSING, str(exc)))
        except PayloadCorrupt as exc:
            return Decision(failure=Failure(FailureKind.PAYLOAD_CORRUPT, str(exc)))
        if isinstance(result, SinkDelivered):
            delivered: list[LedgerEvent] = [Delivered(env.digest, r, env.system, env.attempt, at=at) for r in pending]
            publishes: list[Publish] = []
            before: list[LedgerEvent] = []
            after: list[LedgerEvent] = []
            if env.kind is not PackageKind.STATUS:  # the sender was told it was held: tell it it arrived
                for r in (r for r in pending if _was_parked(rows[r])):
                    notice = delivered_notice(organ_label(self.directory, r))
                    st = self.voice.about_copy(self.directory, self.names, env, notice, at)
                    if st is not None:
                        publishes.append(st.publish)
                        before += st.before
                        after += st.after
            # With a notice to send, `delivered` is recorded only once it is confirmed: a crash in
            # between re-delivers the copy (the sink keeps one) and sends the notice again.
            if publishes:
                after = delivered + after
            else:
                before = delivered
            return Decision(tuple(publishes), tuple(before), tuple(after),
                            outcome=StageOutcome.of_copy(Result.DELIVERED, env))
        if isinstance(result, TransientFailure):
            return Decision(failure=Failure(FailureKind.SINK_TRANSIENT, result.error))
        assert isinstance(result, PermanentFailure)
        return Decision(failure=Failure(FailureKind.SINK_PERMANENT, result.error))

    # -- helpers --------------------------------------------------------------------------------
    def _stored(self, claim: ClaimReference) -> Callable[[], Iterator[bytes]] | Failure:
        """The verified reader of a claim's payload, or why there is none (checked before the
        sink is touched: a missing payload never reaches a sink)."""
        store = self.payloads
        if store is None or claim.store != store.name:
            return Failure(FailureKind.PAYLOAD_MISSING, f"a reference to store {claim.store!r}, which this hub "
                                                        "does not have")
        if not store.has(claim.digest):  # a wrong size is found by the verified read: PAYLOAD_CORRUPT
            return Failure(FailureKind.PAYLOAD_MISSING, f"payload {claim.digest[:16]}… ({claim.size} bytes) "
                                                        "is not in the store")
        return lambda: store.open_verified(claim.digest, claim.size)

    def _original_pending(self, env: Envelope) -> bool:
        """Kinds 1–3 must reach a recipient after the original: wait while it is still on its way
        there (routed or retrying). The originals are those intake authorized the change by
        (router/pipeline/rights.py: its sender's, or another organ's of the system serving that
        sender); rejected or parked ones do not hold it back."""
        if env.doc_type == 0 or not env.target:
            return False
        system = self.directory.systems.get(env.submitted_by)
        for original in rights.originals_for(system, self.directory, env.sender, self.ledger.carried(env.target)):
            for r in env.recipients:
                row = self.ledger.delivery_state(original.digest, r)
                if row is not None and row.state in _ON_ITS_WAY:
                    return True
        return False


def _unknown_to_ledger(env: Envelope, row: PackageRow | None, rows: Mapping[str, DeliveryRow | None]) -> str | None:
    """Why this copy is not one the hub made, or None. The hub records every package before
    it publishes a copy (PackageReceived: the package row and one delivery row per recipient),
    so a copy whose package, sender, kind, DocumentId or recipients the ledger does not hold
    was made by someone else — even with the hub's user_id (a replayed forged message)."""
    if row is None or row.outcome is not Outcome.ACCEPTED:
        return "no accepted package with this digest in the ledger"
    if row.kind is not env.kind or (row.from_organ or "") != env.sender or \
            (row.document_id or "") != env.document_id:
        return "the envelope's kind, sender or DocumentId differ from the ledger's package"
    for r, d in rows.items():
        if d is None:
            return f"recipient {r} was never routed this package"
        if d.system_id is not None and d.system_id != env.system:
            return f"recipient {r} is routed to {d.system_id}, not to {env.system}"
    return None


def _was_parked(row: DeliveryRow | None) -> bool:
    """Parked, or put back on the road by `parked replay`: the sender got a hold notice."""
    return row is not None and (row.state is TransportState.PARKED or row.reopened_at is not None)


def _waited_s(since: str | None) -> float:
    """Seconds since a change first waited for its original (0 on its first wait)."""
    if not since:
        return 0.0
    try:
        first = datetime.fromisoformat(since)
    except ValueError:
        return 0.0
    if first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    return max(0.0, (system_clock() - first).total_seconds())
