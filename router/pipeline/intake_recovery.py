"""Carrying out failure decisions for submitted packages (the route stage's side of the executor).

Retry: the hub re-publishes the package to `P.intake.retry.N`, which dead-letters it into
`P.intake.retried` after the tier's TTL. The submitter's AMQP `user_id` cannot travel on the
hub's copy (the broker checks it against the publishing connection), so the copy carries the
submitter in a `Submission` header, published with the hub's own `user_id`; the header is
trusted only on a message whose `user_id` is the hub's (router/TOPOLOGY.md says why).
Park: a `PackageParked` record (reason code, submitting system and, when the bytes parse,
DocumentId and From), the hub's hold notice (status 05 from its own organ) to the submitting
system, the copy to `P.intake.parked`. Each Decision carries its `StageOutcome`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from adapters.payloadstore import ClaimError, ClaimReference, PayloadError, PayloadStore
from router.directory.model import Directory
from router.ledger.events import LedgerEvent, PackageParked
from router.pipeline.decisions import Decision, Publish
from router.pipeline.envelope import CLAIM, Submission
from router.pipeline.failure import Failure, FailureKind, Park
from router.pipeline.outcome import Result, Stage, StageOutcome
from router.pipeline.recovery import Inbound, dead_letter_failure, ledger_reason, reason_code
from router.pipeline.statuses import About, HubVoice, held_package_notice
from router.pipeline.submitter import SubmitterTrust
from router.topology.build import Topology
from schemas.findings import Code
from schemas.models import EdocPackage
from schemas.organ import OrganId
from schemas.parse import validate_package

#: Parks after which the bytes are not parsed again (parsing may be what kills the hub; a
#: payload that is missing or damaged is not read again).
_NO_PARSE = frozenset({FailureKind.DELIVERY_LIMIT, FailureKind.DEAD_LETTERED, FailureKind.PAYLOAD_MISSING,
                       FailureKind.PAYLOAD_CORRUPT})
_NO_PARSE_CODES = frozenset({Code.CRASH_LOOP, Code.PAYLOAD_MISSING, Code.PAYLOAD_CORRUPT})


class IntakeRecovery:
    """Intake's retry tiers and parking; `hub_users` are the hub's own broker users (whose copies
    are trusted to name their submitter)."""

    stage: Stage = Stage.INTAKE

    def __init__(
        self,
        directory: Directory,
        topology: Topology,
        *,
        hub_users: Collection[str] | None,
        voice: HubVoice | None = None,
        trust: SubmitterTrust | None = None,
        payloads: PayloadStore | None = None,
    ) -> None:
        self.trust = trust  # who may submit on behalf of a system (router/pipeline/submitter.py)
        self.payloads = payloads  # the claim check's store: a parked reference is read from it
        self.directory = directory
        self.names = topology.names
        self.tier_s = topology.options.intake_tiers
        self.tiers = len(self.tier_s)
        self.hub_users = frozenset(hub_users or ())
        self.voice = voice or HubVoice()

    # -- reading a message ----------------------------------------------------------------------
    def _own_copy(self, inbound: Inbound) -> Submission | None:
        if inbound.user_id is None or inbound.user_id not in self.hub_users:
            return None
        sub = Submission.decode(inbound.headers)
        return sub if sub.submitted_by else None

    def submitter(self, inbound: Inbound) -> str | None:
        """The broker user that submitted the package: the validated `user_id`, or on the hub's
        own copies (retries, replays) the submitter they carry."""
        own = self._own_copy(inbound)
        if own is not None:
            return own.submitted_by
        return self.trust.of(inbound.user_id, inbound.headers).user if self.trust else inbound.user_id

    def claimed(self, inbound: Inbound) -> bool:
        """Is the body a claim reference intake may follow into the payload store? Only on the
        hub's own copies (retries, replays) and from gateway accounts, which write the store
        themselves (drop folders, the axis-compatible API). A system's own `lt-claim` is ignored:
        its body is read as the package (and refused), so no system can name stored bytes it
        does not have."""
        own = self._own_copy(inbound)
        if own is not None:
            return own.claim
        gateway = self.trust is not None and inbound.user_id in self.trust.gateways
        return gateway and bool(inbound.headers.get(CLAIM))

    def package_digest(self, inbound: Inbound) -> str:
        """The package's SHA-256: the reference's for a claim-checked one, else the body's."""
        if self.claimed(inbound):
            try:
                return ClaimReference.decode(inbound.body).digest
            except ClaimError:
                return inbound.digest
        return inbound.digest

    def inbound_failure(self, inbound: Inbound) -> Failure | None:
        if inbound.queue == self.names.intake_dead:
            return dead_letter_failure(inbound.headers)
        own = self._own_copy(inbound)
        if own is not None and own.park_code:
            return Failure(FailureKind.PARK_PENDING, own.park_reason or "", code=reason_code(own.park_code))
        return None

    def attempt(self, inbound: Inbound) -> int:
        own = self._own_copy(inbound)
        return own.attempt if own is not None else 1

    # -- carrying out ---------------------------------------------------------------------------
    def _submission(self, inbound: Inbound) -> Submission:
        return Submission(self.submitter(inbound) or "", self.attempt(inbound), claim=self.claimed(inbound))

    def retry(self, inbound: Inbound, tier: int, failure: Failure) -> Decision:
        nxt = self._submission(inbound).next_attempt()
        outcome = StageOutcome(Stage.INTAKE, Result.RETRYING, self.package_digest(inbound),
                               system=self._system_id(inbound),
                               attempt=nxt.attempt - 1, reason=failure.detail or failure.kind.value,
                               tier_s=self.tier_s[tier - 1])
        return Decision(publishes=(self._copy(inbound, self.names.intake_retry_queue(tier), nxt),), outcome=outcome)

    def park_later(self, inbound: Inbound, park: Park) -> Decision:
        marked = self._submission(inbound).parked(park.code.value, park.en)
        return Decision(publishes=(self._copy(inbound, self.names.intake_retry_queue(self.tiers), marked),))

    def park(self, inbound: Inbound, park: Park, failure: Failure) -> Decision:
        user = self.submitter(inbound)
        system = self.directory.system_by_user(user) if user else None
        document_id, sender, code, day = None, None, "-", None
        if failure.kind not in _NO_PARSE and park.code not in _NO_PARSE_CODES:
            report = validate_package(self._package(inbound))
            if report.parsed is not None:  # only what validation bounded goes to the ledger
                pkg = report.parsed.package
                document_id, sender = pkg.document_id or None, pkg.sender
                if isinstance(pkg, EdocPackage):
                    code, day = str(pkg.header.code), pkg.header.promulgation_info.promulgation_date
                report.parsed.close()
        reason = ledger_reason(park, failure)
        digest = self.package_digest(inbound)
        before: list[LedgerEvent] = [PackageParked(
            digest, system.id if system else (user or "-"), park.code.value, reason,
            document_id=document_id, from_organ=sender, at=inbound.at,
        )]
        marked = self._submission(inbound).parked(park.code.value, park.en)
        publishes = [self._copy(inbound, self.names.intake_parked, marked)]
        after: list[LedgerEvent] = []
        if system is not None:
            about = sender if sender and OrganId.is_valid(sender) else self.voice.identity.organ
            st = self.voice.status(self.names, system.id, About(about, document_id or "-", code, day),
                                   held_package_notice(park), inbound.at)
            publishes.append(st.publish)
            before += st.before
            after += st.after
        outcome = StageOutcome(Stage.INTAKE, Result.PARKED, digest, system=system.id if system else None,
                               document_id=document_id, sender=sender, attempt=self.attempt(inbound),
                               code=park.code.value, vi=park.vi, en=park.en, reason=reason)
        return Decision(tuple(publishes), tuple(before), tuple(after), outcome=outcome)

    def _package(self, inbound: Inbound) -> bytes | Iterator[bytes]:
        """What to read DocumentId and From from: the body, or a claim's payload when it is there
        (streamed; PAYLOAD_* parks do not read it again)."""
        if not self.claimed(inbound) or self.payloads is None:
            return inbound.body
        try:
            ref = ClaimReference.decode(inbound.body)
            if self.payloads.has(ref.digest, ref.size):
                return _unverified_end(self.payloads.open_verified(ref.digest, ref.size))
        except (ClaimError, PayloadError, OSError):
            pass
        return inbound.body

    def _system_id(self, inbound: Inbound) -> str | None:
        user = self.submitter(inbound)
        system = self.directory.system_by_user(user) if user else None
        return system.id if system is not None else None

    def _copy(self, inbound: Inbound, queue: str, sub: Submission) -> Publish:
        return Publish("", queue, inbound.body, sub.to_headers(),
                       message_id=f"{self.package_digest(inbound)}.intake.{sub.attempt}")


def _unverified_end(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The store's chunks for a best-effort read (the park record's DocumentId and From): a
    mismatch at the end reads as the end of the file, the park goes on."""
    try:
        yield from chunks
    except PayloadError:
        return
