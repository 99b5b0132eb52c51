"""The route stage: parse → validate → authorize → verify → de-duplicate → resolve → decide.

A pure decision over (bytes, broker user, time) given the directory and the ledger's memory;
the runtime publishes, waits for confirms and settles. Every path ends in one of: routed,
rejected with a reason code (and a status 02 to the sender's system), or absorbed as an exact
duplicate whose earlier outcome is re-sent.

The claim check (README "Large packages"): a package above the threshold is stored once in the
payload store once it is known to be routed, and every copy carries the small reference
instead (`lt-claim`); a reference that arrives (from a gateway that streamed a large file into
the store, or on the hub's own retry) is validated from the store as a stream, verified
against its digest — a missing or damaged payload is a named failure, never a crash.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import replace
from datetime import date, datetime

from adapters.payloadstore import ClaimError, ClaimReference, PayloadCorrupt, PayloadMissing, PayloadStore
from router.directory.model import Directory, Resolution, System
from router.ledger.events import (
    DuplicateAbsorbed,
    LedgerEvent,
    Outcome,
    PackageReceived,
    PackageRejected,
    Routed,
    StatusRecorded,
    TransportState,
)
from router.ledger.rows import DedupKey
from router.ledger.store import Ledger
from router.pipeline import rights, warnings
from router.pipeline.claimcheck import SELF_CONSUMING, should_claim
from router.pipeline.clock import system_clock, vietnam_day
from router.pipeline.decisions import Decision, Publish, Rejection
from router.pipeline.envelope import Envelope
from router.pipeline.failure import Failure, FailureKind
from router.pipeline.outcome import Result, Stage, StageOutcome
from router.pipeline.signatures import NoSignatureCheck, SignatureCheck, SignatureOutcome
from router.pipeline.statuses import HUB_SUBMITTER, About, HubVoice, Notice, NoticeKind
from router.pipeline.window import IntakeWindow, Read, Submission, Validated
from router.topology.build import route_for
from router.topology.names import Names, lane_for_priority
from schemas.codes import BussinessDocType, PackageKind
from schemas.findings import Code
from schemas.models import EdocPackage, StatusPackage
from schemas.organ import OrganId
from schemas.parse import ParsedPackage, ValidationReport, validate_package
from schemas.policy import VIETNAM, ValidationOptions


class IntakeStage:
    def __init__(
        self,
        directory: Directory,
        ledger: Ledger,
        names: Names,
        *,
        options: ValidationOptions | None = None,
        signatures: SignatureCheck | None = None,
        voice: HubVoice | None = None,
        payloads: PayloadStore | None = None,
        claim_threshold_bytes: int = 0,
        claim_max_bytes: int = 512 * 1024 * 1024,
        carried_since: date | None = None,
    ) -> None:
        """`payloads`: the claim check's store (None: no claim check; a reference is then a
        PAYLOAD_MISSING); above `claim_threshold_bytes` (0: never) a package goes there.
        `carried_since`: the day the hub began carrying (None: the ledger's first package's
        day), before which a link's changes and statuses are judged by their DocumentId
        (router/pipeline/rights.py)."""
        self._carried_since = carried_since
        self.directory = directory
        self.ledger = ledger
        self.names = names
        self.options = options or ValidationOptions()
        self.signatures = signatures or NoSignatureCheck()
        self.voice = voice or HubVoice()
        self.payloads = payloads
        self.claim_threshold_bytes = claim_threshold_bytes if payloads is not None else 0
        self.claim_max_bytes = claim_max_bytes

    # -- entry ----------------------------------------------------------------------------------
    def process(
        self, body: bytes, user_id: str | None, at: datetime | None = None, digest: str | None = None,
        *, claim: bool = False, window: IntakeWindow | None = None, key: Hashable = None,
    ) -> Decision:
        """`digest` is the body's SHA-256 when the caller already has it (the runtime does).
        `claim`: the body is a claim reference from a submitter trusted to make one (the hub's
        own copies, gateway accounts: router/hub.py decides); the package is in the store.
        `window`: what `window()` read ahead for the messages taken with this one (`key` is this
        message's handle in it); without it, or for a message it did not read, the stage reads
        for itself.

        The decision's `outcome` says what happened; the runtime logs and counts it."""
        at = at or system_clock()
        read = window.take(key) if window is not None else None
        if read is None:
            read = self._read(body, user_id, digest, claim)
        if isinstance(read, Decision):
            return read
        try:
            return self._decide(body, read.digest, user_id, at, read.report, read.claim, window)
        finally:
            read.close()

    def window(self, items: Sequence[Submission]) -> IntakeWindow:
        """Read ahead for messages taken at once (router/pipeline/window.py): validate each, then
        ask the ledger about all of them in one query."""
        reads: dict[Hashable, Read] = {}
        keys: list[DedupKey] = []
        for item in items:
            read = reads[item.key] = self._read(item.body, item.user_id, item.digest, item.claim)
            if isinstance(read, Validated):
                keys.append(_dedup_key(read))
        window = IntakeWindow(reads, {})
        try:
            known = self.ledger.dedup_lookups(keys)
        except BaseException:
            window.close()  # the spools of what was validated
            raise
        counts = Counter(k.digest for k in keys)
        window.known = {d: v for d, v in known.items() if counts[d] == 1}
        return window

    def _read(self, body: bytes, user_id: str | None, digest: str | None, claim: bool) -> Read:
        """Validate a submission: its bytes, or a claim-checked package from the store."""
        if claim:
            return self._read_claim(body, user_id)
        system = self.directory.system_by_user(user_id) if user_id else None
        digest = digest or hashlib.sha256(body).hexdigest()
        return Validated(digest, validate_package(body, self._options_for(system), digest=digest))

    def _read_claim(self, body: bytes, user_id: str | None) -> Read:
        """Validate a claim-checked package from the store, as a stream (bounded memory: the
        attachments are decoded into spool files, never held whole)."""
        try:
            ref = ClaimReference.decode(body)
        except ClaimError as exc:
            return Decision(failure=Failure(FailureKind.PAYLOAD_MISSING, str(exc)))
        if self.payloads is None or ref.store != self.payloads.name:
            return Decision(failure=Failure(FailureKind.PAYLOAD_MISSING,
                                            f"a reference to store {ref.store!r}, which this hub does not have"))
        system = self.directory.system_by_user(user_id) if user_id else None
        options = self._claim_options(self._options_for(system))
        try:
            chunks = self.payloads.open_verified(ref.digest, ref.size)
            report = validate_package(chunks, options, digest=ref.digest)
            for _ in chunks:  # validation stopped early (a refusal): the digest is checked in full all the same
                pass
        except PayloadMissing as exc:
            return Decision(failure=Failure(FailureKind.PAYLOAD_MISSING, str(exc)))
        except PayloadCorrupt as exc:
            return Decision(failure=Failure(FailureKind.PAYLOAD_CORRUPT, str(exc)))
        return Validated(ref.digest, report, ref)

    def _decide(
        self, body: bytes, digest: str, user_id: str | None, at: datetime, report: ValidationReport,
        claim: ClaimReference | None, window: IntakeWindow | None = None,
    ) -> Decision:
        system = self.directory.system_by_user(user_id) if user_id else None
        new = _new_document(report)
        sender, document_id = new or (None, None)
        known = window.lookup(digest, sender, document_id) if window is not None else None
        if known is not None:
            prior, holder = known
        elif sender is not None and document_id is not None:
            prior, holder = self.ledger.dedup_lookup(digest, sender, document_id)
        else:
            prior, holder = self.ledger.get_package(digest), None
        if prior is not None and prior.outcome is Outcome.PARKED:
            prior = None  # held at intake earlier (`parked replay`): decide afresh
        if prior is not None and prior.outcome is Outcome.REJECTED:
            if _final_for(prior.reason_code, prior.submitted_by, system):
                return self._resend_rejection(digest, report, system, prior.reason_code, prior.message,
                                              prior.received_at)
            prior = None  # another submitter's refusal, or one the submitter can mend: decide afresh

        if report.parsed is None:
            first = report.errors[0] if report.errors else None
            code = first.code if first else Code.XML_MALFORMED
            where = f" ({first.path}" + (f", dòng/line {first.line})" if first.line else ")") if first else ""
            vi = (first.vi if first else "gói tin không hợp lệ") + where
            en = (first.en if first else "invalid package") + where
            return self._reject(digest, None, system, Rejection(code, vi, en), at, document_id=report.document_id,
                                sender=report.sender, kind=report.kind)
        parsed = report.parsed
        pkg = parsed.package

        # Authorize before anything is said about the bytes: a system that does not serve From
        # learns nothing (not even `duplicate`) and re-routes nothing on another's behalf.
        problem = self._authorize(user_id, system, pkg, at)
        if problem is not None:
            return self._reject(digest, pkg, system, problem, at)
        assert system is not None

        if prior is not None:  # accepted before: re-route only what never got confirmed
            pending = {d.recipient_organ for d in self.ledger.deliveries(digest) if d.state is TransportState.ACCEPTED}
            if not pending:
                return Decision(
                    before=(DuplicateAbsorbed(digest, at=at),),
                    outcome=self._outcome(Result.DUPLICATE, digest, pkg, system,
                                          note="exact duplicate of an accepted package"),
                )
            return self._route(digest, body, parsed, system, at, claim, only=pending, already_recorded=True)

        try:
            sig = self.signatures.check(self._signed_bytes(body, claim), parsed, system.id)
        except Exception as exc:  # noqa: BLE001 - verification broke, not the package: the policy decides
            return Decision(failure=Failure(FailureKind.VERIFIER_ERROR, repr(exc)[:500]))
        if sig.reject:
            rej = Rejection(sig.code or Code.SIGNATURE_INVALID, sig.vi, sig.en or sig.vi)
            decision = self._reject(digest, pkg, system, rej, at)
            return _with_chain_cache(replace(decision, before=decision.before + sig.events), sig)

        if holder is not None and holder.outcome is Outcome.ACCEPTED and holder.digest != digest:
            return _with_chain_cache(self._reject(
                digest, pkg, system,
                Rejection(
                    Code.DUPLICATE_CONFLICT,
                    f"DocumentId {pkg.document_id} đã được gửi với nội dung khác (gói {holder.digest[:12]})",
                    f"DocumentId {pkg.document_id} was already sent with other content "
                    f"(package {holder.digest[:12]})",
                ),
                at,
            ), sig)
        routed = self._route(digest, body, parsed, system, at, claim, verdict=sig.header, extra=sig.events,
                             warning=sig.warning)
        accepted = routed.outcome is not None and routed.outcome.result is Result.ACCEPTED
        if window is not None and accepted and sender is not None and document_id is not None:
            window.accept(sender, document_id, digest, at)
        return _with_chain_cache(routed, sig)

    def _signed_bytes(self, body: bytes, claim: ClaimReference | None) -> bytes:
        """What the verifier reads: the package itself. A claim-checked one is read from the store
        only when signatures are checked at all (pyHanko holds the PDFs in memory anyway)."""
        if isinstance(self.signatures, NoSignatureCheck):
            return body
        return self._bytes_of(body, claim)

    def _bytes_of(self, body: bytes, claim: ClaimReference | None) -> bytes:
        """The package's bytes in memory: the body, or a claim-checked package read from the store."""
        if claim is None or self.payloads is None:
            return body
        return self.payloads.read_verified(claim.digest, claim.size)

    def _carried(self, body: bytes, claim: ClaimReference | None) -> tuple[bytes, bool]:
        """The body every copy carries: the reference of a claim-checked package (stored here
        when it came through the broker above the threshold: once, re-storing is a no-op)."""
        if claim is not None:
            return claim.encode(), True
        if self.payloads is not None and should_claim(len(body), self.claim_threshold_bytes):
            return ClaimReference.of(self.payloads.put(body), self.payloads.name).encode(), True
        return body, False

    def _claim_options(self, options: ValidationOptions) -> ValidationOptions:
        """A claim-checked package is read as a stream, so its size bound is the claim check's
        (`claim_max_bytes`), and one attachment may take up most of it (a 150 MB signed scan):
        the bounds of memory (markup, depth, elements, ZIP expansion) stay as they are."""
        limits = options.limits
        update = {"max_package_bytes": max(limits.max_package_bytes, self.claim_max_bytes),
                  "max_attachment_bytes": max(limits.max_attachment_bytes, self.claim_max_bytes * 3 // 4)}
        return options.model_copy(update={"limits": limits.model_copy(update=update)})

    def _options_for(self, system: System | None) -> ValidationOptions:
        """The submitting system's validation profile (directory `validation:`), else the hub's."""
        if system is None or system.validation is self.options.profile:
            return self.options
        return self.options.model_copy(update={"profile": system.validation})

    # -- checks ---------------------------------------------------------------------------------
    def _authorize(
        self, user_id: str | None, system: System | None, pkg: EdocPackage | StatusPackage, at: datetime
    ) -> Rejection | None:
        """Who is speaking (user_id, a system of the directory, serving From), then whether it
        may say this: no relay through the gateway, changes and statuses only from the parties
        of the document (router/pipeline/rights.py)."""
        if not user_id:
            return Rejection(
                Code.USER_ID_MISSING,
                "Thiếu thuộc tính user_id của AMQP: không xác định được hệ thống gửi",
                "AMQP user_id property missing: the submitting system cannot be identified",
            )
        if system is None:
            return Rejection(
                Code.SENDER_UNKNOWN_SYSTEM,
                f"Tài khoản {user_id} không thuộc hệ thống nào trong danh bạ",
                f"broker user {user_id} is not a system of the directory",
            )
        if not self.directory.serves(system.id, pkg.sender):
            return Rejection(
                Code.SENDER_NOT_SERVED,
                f"Hệ thống {system.id} không được gửi thay cơ quan {pkg.sender} (From/OrganId)",
                f"system {system.id} does not serve the sender {pkg.sender} (From/OrganId)",
            )
        return (rights.relay_refusal(pkg, system, self.directory, vietnam_day(at))
                or rights.business_refusal(pkg, system, self.directory, self.ledger.carried,
                                           self.carried_since))

    def carried_since(self) -> date | None:
        """The configured day, else the Vietnamese day of the ledger's first package (read until
        there is one, then kept: it does not change)."""
        if self._carried_since is None:
            first = self.ledger.first_received()
            if first is not None:
                self._carried_since = vietnam_day(first)
        return self._carried_since

    # -- routing --------------------------------------------------------------------------------
    def _route(
        self,
        digest: str,
        body: bytes,
        parsed: ParsedPackage,
        system: System | None,
        at: datetime,
        claim: ClaimReference | None,
        *,
        only: set[str] | None = None,
        already_recorded: bool = False,
        verdict: str | None = None,
        extra: tuple[LedgerEvent, ...] = (),
        warning: str | None = None,
    ) -> Decision:
        pkg = parsed.package
        submitter = system.id if system else HUB_SUBMITTER
        requested = tuple(dict.fromkeys(pkg.recipients))
        groups: dict[str, list[Resolution]] = {}
        unknown: list[Resolution] = []
        relayed: list[str] = []  # the gateway's package for organs outside the tree: the axis's to deliver
        for code in requested:
            if only is not None and code not in only:
                continue
            res = self.directory.resolve(code, on=vietnam_day(at))  # a Vietnamese legal day
            if system is not None and rights.relays_through_gateway(system, (res.system,)):
                relayed.append(code)
            elif res.deliverable and res.system is not None:
                groups.setdefault(res.system.id, []).append(res)
            else:
                unknown.append(res)

        before: list[LedgerEvent] = []
        publishes: list[Publish] = []
        after: list[LedgerEvent] = []
        if not already_recorded:
            before.append(replace(self._received(digest, pkg, submitter, requested, at),
                                  warnings=warnings.for_ledger(parsed.warnings)))
            if isinstance(pkg, StatusPackage):
                h = pkg.header
                before.append(
                    StatusRecorded(
                        document_id=h.response_for.document_id,
                        reporter_organ=h.from_.organ_id,
                        about_organ=h.response_for.organ_id,
                        status_code=h.status_code.value,
                        description=h.description or None,
                        staff=h.staff_info.staff if h.staff_info else None,
                        reported_at=h.timestamp.replace(tzinfo=VIETNAM),
                        digest=digest,
                        at=at,
                    )
                )
            before.extend(extra)

        for res in unknown:  # each refused recipient is recorded …
            rej = Rejection(
                Code.UNKNOWN_RECIPIENT,
                f"Nơi nhận {res.requested} không có trong danh bạ của trục ({res.reason})",
                f"recipient {res.requested} is unknown to the hub ({res.reason})",
            )
            before.append(PackageRejected(digest, rej.code.value, rej.message, recipient_organ=res.requested, at=at))
        for code in relayed:  # recorded, not announced: the axis delivered to them itself
            before.append(PackageRejected(
                digest, Code.GATEWAY_RELAY.value, "trục tỉnh không chuyển tiếp tới cơ quan ngoài tỉnh / "
                "the provincial hub does not relay to organs outside the province", recipient_organ=code, at=at))
        if unknown:  # … and the sender hears of them once, however many (no amplification)
            status_pubs, status_before, status_after = self._status_to_sender(pkg, system, _unknown_recipients(
                [r.requested for r in unknown], unknown[0].reason), at)
            publishes += status_pubs
            before += status_before
            after += status_after

        lane = lane_for_priority(int(pkg.priority))
        carried, claimed = self._carried(body, claim) if groups else (body, False)
        for sid, resolutions in groups.items():
            copy_body, copy_claimed = carried, claimed
            if claimed and self.directory.systems[sid].delivery.adapter in SELF_CONSUMING:
                # it reads its queue itself and cannot reach the store: the bytes (a broker that
                # refuses them nacks the copy, and the failure policy parks it with the sender told)
                copy_body, copy_claimed = self._bytes_of(body, claim), False
            first = resolutions[0]
            exchange, key = route_for(first, self.names)
            edoc = pkg if isinstance(pkg, EdocPackage) else None
            envelope = Envelope(
                digest=digest, kind=PackageKind(pkg.kind), system=sid,
                recipients=tuple(r.requested for r in resolutions), sender=pkg.sender,
                document_id=pkg.document_id, submitted_by=submitter, lane=lane, priority=int(pkg.priority),
                doc_type=int(edoc.doc_type) if edoc else 0, target=(edoc.target_document_id or None) if edoc else None,
                forwarded=tuple((r.requested, r.code) for r in resolutions if r.forwarded), verdict=verdict,
                warnings=warnings.for_recipient(parsed.warnings), claim=copy_claimed,
            )
            publishes.append(Publish(exchange, key, copy_body, envelope.to_headers(),
                                     priority=pkg.priority.amqp_priority, message_id=envelope.message_id))
            for r in resolutions:
                after.append(
                    Routed(digest, r.requested, sid, forwarded_to=r.code if r.forwarded else None, at=at)
                )

        result = Result.ACCEPTED if groups else Result.REJECTED
        if not groups and unknown and not already_recorded:
            first_unknown = unknown[0].requested
            before.append(
                PackageRejected(
                    digest, Code.UNKNOWN_RECIPIENT.value,
                    f"không nơi nhận nào hợp lệ / no deliverable recipient ({first_unknown})", at=at,
                    submitted_by=system.id if system else None,
                )
            )
        outcome = self._outcome(
            result, digest, pkg, system,
            routed={sid: tuple(r.requested for r in rs) for sid, rs in groups.items()},
            refused=tuple(r.requested for r in unknown) + tuple(relayed),
            forwarded={r.requested: r.code for rs in groups.values() for r in rs if r.forwarded},
            code=Code.UNKNOWN_RECIPIENT.value if unknown else None,
            warnings=tuple(w.code.value for w in parsed.warnings) + ((warning,) if warning else ()),
            validation_warnings=() if already_recorded else warnings.for_metrics(parsed.warnings),
        )
        return Decision(tuple(publishes), tuple(before), tuple(after), "ack", outcome)

    def _received(
        self, digest: str, pkg: EdocPackage | StatusPackage, submitter: str, recipients: tuple[str, ...], at: datetime
    ) -> PackageReceived:
        if isinstance(pkg, EdocPackage):
            h = pkg.header
            return PackageReceived(
                digest=digest, kind=PackageKind.EDOC, from_organ=pkg.sender, submitted_by=submitter,
                document_id=h.document_id, recipients=recipients, bussiness_doc_type=pkg.doc_type,
                target_document_id=pkg.target_document_id, subject=h.subject, priority=pkg.priority,
                due_date=h.due_date, promulgation_date=h.promulgation_info.promulgation_date, at=at,
                document_type=h.document_type.type_name.strip() or None,
            )
        return PackageReceived(
            digest=digest, kind=PackageKind.STATUS, from_organ=pkg.sender, submitted_by=submitter,
            document_id=pkg.document_id, recipients=recipients, at=at,
        )

    # -- rejections -----------------------------------------------------------------------------
    def _reject(
        self,
        digest: str,
        pkg: EdocPackage | StatusPackage | None,
        system: System | None,
        rej: Rejection,
        at: datetime,
        *,
        document_id: str | None = None,
        sender: str | None = None,
        kind: str | None = None,
    ) -> Decision:
        """Refuse the package; without `pkg`, `document_id`/`sender`/`kind` are what an invalid one
        claimed (bounded best-effort reads of the report), recorded so trace finds the refusal."""
        if pkg is not None:
            document_id, sender, kind = pkg.document_id, pkg.sender, pkg.kind
        before: list[LedgerEvent] = [PackageRejected(
            digest, rej.code.value, rej.message, at=at, submitted_by=system.id if system else None,
            kind=PackageKind(kind) if kind else None, document_id=document_id, from_organ=sender,
        )]
        publishes: list[Publish] = []
        status_before: list[LedgerEvent] = []
        after: list[LedgerEvent] = []
        if not _unanswered(pkg, system, rej):
            publishes, status_before, after = self._status_to_sender(pkg, system, rej, at, document_id=document_id,
                                                                     timeline=False)
        outcome = self._outcome(Result.REJECTED, digest, pkg, system, code=rej.code.value, vi=rej.vi, en=rej.en,
                                document_id=document_id, sender=sender, kind=kind)
        return Decision(tuple(publishes), tuple(before + status_before), tuple(after), "ack", outcome)

    def _resend_rejection(
        self, digest: str, report: ValidationReport, system: System | None, code: str | None, message: str | None,
        first_at: datetime,
    ) -> Decision:
        """Same bytes as a rejected package: absorb, and send the same rejection again."""
        try:
            rcode = Code(code or Code.XML_MALFORMED.value)
        except ValueError:
            rcode = Code.XML_MALFORMED
        vi, _, en = (message or "").partition(" / ")
        pkg = report.parsed.package if report.parsed else None
        decision = self._reject(digest, pkg, system, Rejection(rcode, vi, en or vi), first_at,
                                document_id=report.document_id)
        assert decision.outcome is not None
        return replace(
            decision,
            before=(DuplicateAbsorbed(digest), *(e for e in decision.before if not isinstance(e, PackageRejected))),
            outcome=replace(decision.outcome, result=Result.DUPLICATE, previous=Result.REJECTED),
        )

    def _status_to_sender(
        self,
        pkg: EdocPackage | StatusPackage | None,
        system: System | None,
        rej: Rejection,
        at: datetime,
        *,
        document_id: str | None = None,
        timeline: bool = True,
    ) -> tuple[list[Publish], list[LedgerEvent], list[LedgerEvent]]:
        """Status 02 from the hub (never from a recipient) to the submitting system (or, without
        a known submitter, the From organ's): the hub itself refused to take it in. `timeline`
        False for a refused package: the DocumentId it names may be another's, whose timeline
        a refusal must not write into (the 02 is still recorded and traced as a package)."""
        sender = pkg.sender if pkg is not None else None
        dest = system
        if dest is None and sender and OrganId.is_valid(sender):
            dest = self.directory.server_of(sender)
        if dest is None:
            return [], [], []
        about = sender if sender and OrganId.is_valid(sender) else self.voice.identity.organ
        if isinstance(pkg, EdocPackage):
            doc_id, code, day = pkg.document_id, str(pkg.header.code), pkg.header.promulgation_info.promulgation_date
        elif isinstance(pkg, StatusPackage):
            rf = pkg.header.response_for
            doc_id, code, day = rf.document_id, rf.code, rf.promulgation_date
        else:
            doc_id, code, day = document_id or "-", "-", None
        st = self.voice.status(self.names, dest.id, About(about, doc_id, code, day),
                               Notice(NoticeKind.REFUSED, rej.code, rej.vi, rej.en), at, timeline=timeline)
        return [st.publish], list(st.before), list(st.after)

    @staticmethod
    def _outcome(
        result: Result,
        digest: str,
        pkg: EdocPackage | StatusPackage | None,
        system: System | None,
        *,
        document_id: str | None = None,
        sender: str | None = None,
        kind: str | None = None,
        code: str | None = None,
        vi: str | None = None,
        en: str | None = None,
        note: str | None = None,
        routed: dict[str, tuple[str, ...]] | None = None,
        refused: tuple[str, ...] = (),
        forwarded: dict[str, str] | None = None,
        warnings: tuple[str, ...] = (),
        validation_warnings: tuple[str, ...] = (),
    ) -> StageOutcome:
        return StageOutcome(
            Stage.INTAKE, result, digest,
            kind=PackageKind(pkg.kind) if pkg is not None else (PackageKind(kind) if kind else None),
            system=system.id if system else None,
            document_id=pkg.document_id if pkg is not None else document_id,
            sender=pkg.sender if pkg is not None else sender, code=code, vi=vi, en=en, note=note,
            routed=routed or {}, refused_recipients=refused, forwarded=forwarded or {}, warnings=warnings,
            validation_warnings=validation_warnings,
        )


def _new_document(report: ValidationReport) -> tuple[str, str] | None:
    """(From, DocumentId) of a new document (kind 0), which holds its DocumentId; else None."""
    pkg = report.parsed.package if report.parsed is not None else None
    if isinstance(pkg, EdocPackage) and pkg.doc_type is BussinessDocType.NEW:
        return pkg.sender, pkg.document_id
    return None


def _dedup_key(read: Validated) -> DedupKey:
    new = _new_document(read.report)
    return DedupKey(read.digest, *new) if new else DedupKey(read.digest)


def _with_chain_cache(decision: Decision, sig: SignatureOutcome) -> Decision:
    """The verification's cache lookups ride on the outcome (the runtime counts them)."""
    if decision.outcome is None or sig.chain_cache == (0, 0):
        return decision
    return replace(decision, outcome=replace(decision.outcome, chain_cache=sig.chain_cache))


#: Refusals that say nothing about the bytes, only about who sent them or how: the same bytes
#: sent by the rightful system, properly, are decided afresh.
_SUBMITTER_FAULTS = frozenset({Code.USER_ID_MISSING.value, Code.SENDER_UNKNOWN_SYSTEM.value,
                               Code.SENDER_NOT_SERVED.value})


def _final_for(code: str | None, refused_submitter: str | None, system: System | None) -> bool:
    """Is an earlier refusal of these bytes the answer for this submitter too? Only when the same
    system was refused, for a reason about the package itself (rejection memory per submitter),
    and not for what the ledger did not know yet (an original sent after its change)."""
    return (code not in _SUBMITTER_FAULTS and code not in rights.REVISABLE
            and refused_submitter == (system.id if system else None))


def _unanswered(pkg: EdocPackage | StatusPackage | None, system: System | None, rej: Rejection) -> bool:
    """A status from a link (the national axis, another hub) refused for its business is not
    answered with a status: the other side's hub could refuse that answer in turn, and the two
    would answer each other for ever. Recorded, and the link's JSON reply says it."""
    return (isinstance(pkg, StatusPackage) and system is not None and rights.is_link(system)
            and rej.code.value in rights.REVISABLE)


#: How many refused recipients one status names (the rest are counted): a Description is bounded.
_LISTED = 20


def _unknown_recipients(organs: list[str], reason: str) -> Rejection:
    """The one refusal for every unknown recipient of a package."""
    if len(organs) == 1:
        return Rejection(Code.UNKNOWN_RECIPIENT,
                         f"Nơi nhận {organs[0]} không có trong danh bạ của trục ({reason})",
                         f"recipient {organs[0]} is unknown to the hub ({reason})")
    listed = ", ".join(organs[:_LISTED]) + (f" (+{len(organs) - _LISTED})" if len(organs) > _LISTED else "")
    return Rejection(Code.UNKNOWN_RECIPIENT,
                     f"{len(organs)} nơi nhận không có trong danh bạ của trục: {listed}",
                     f"{len(organs)} recipients are unknown to the hub: {listed}")
