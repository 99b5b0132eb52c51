"""Turn a batch of events into the rows to write, without touching the database.

The store loads the rows the batch touches (under the append lock), the plan folds the events
over them in order, and the store writes the result with a handful of executemany calls.
Keeping this pure makes the replay rules testable on their own and keeps a batch of 100 events
at a few statements instead of hundreds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from router.ledger.chain import link
from router.ledger.events import (
    CopyRefused,
    Delivered,
    DuplicateAbsorbed,
    LedgerEvent,
    Outcome,
    PackageParked,
    PackageReceived,
    PackageRejected,
    Parked,
    Retrying,
    Routed,
    StatusRecorded,
    TransportState,
    VerdictRecorded,
    prepared,
)
from router.ledger.transitions import Current, Step, step

Row = dict[str, Any]
DeliveryKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Touched:
    """The keys a batch may read or write: what the store must load before planning."""

    package_digests: frozenset[str]
    status_digests: frozenset[str]
    verdict_keys: frozenset[tuple[str, str]]


def touched(events: Iterable[LedgerEvent]) -> Touched:
    packages: set[str] = set()
    status: set[str] = set()
    verdict: set[tuple[str, str]] = set()
    for e in events:
        if isinstance(e, StatusRecorded):
            status.add(e.digest)
        elif isinstance(e, VerdictRecorded):
            verdict.add((e.digest, e.attachment or ""))
        else:
            packages.add(e.digest)  # deliveries are loaded by package digest too
    return Touched(frozenset(packages), frozenset(status), frozenset(verdict))


@dataclass
class Plan:
    """Rows to insert or update, and the evidence entries that justify them, in order."""

    head_seq: int
    head_hash: str
    packages: dict[str, Row]
    deliveries: dict[DeliveryKey, Row]
    status_digests: set[str]
    verdict_keys: set[tuple[str, str]]
    seen: set[str] = field(default_factory=set)
    new_seen: list[str] = field(default_factory=list)
    #: id(event) → (event, canonical JSON, identity key); holding the event keeps its id unique
    prepared: dict[int, tuple[LedgerEvent, str, str]] = field(default_factory=dict)
    evidence: list[Row] = field(default_factory=list)
    new_packages: set[str] = field(default_factory=set)
    changed_packages: set[str] = field(default_factory=set)
    new_deliveries: set[DeliveryKey] = field(default_factory=set)
    changed_deliveries: set[DeliveryKey] = field(default_factory=set)
    transitions: list[Row] = field(default_factory=list)
    statuses: list[Row] = field(default_factory=list)
    verdicts: list[Row] = field(default_factory=list)

    def add_all(self, events: Iterable[LedgerEvent]) -> Plan:
        for e in events:
            self.add(e)
        return self

    def _prepared(self, e: LedgerEvent) -> tuple[str, str]:
        cached = self.prepared.get(id(e))
        if cached is None or cached[0] is not e:
            payload, key = prepared(e)
            cached = self.prepared[id(e)] = (e, payload, key)
        return cached[1], cached[2]

    def add(self, e: LedgerEvent) -> None:
        key = self._prepared(e)[1]
        if key in self.seen:
            return  # the exact same event again: at-least-once delivery, not news
        self.seen.add(key)
        self.new_seen.append(key)
        match e:
            case PackageReceived():
                self._received(e)
            case PackageRejected():
                self._rejected(e)
            case PackageParked():
                self._package_parked(e)
            case DuplicateAbsorbed():
                self._duplicate(e)
            case Routed():
                self._transport(e, e.recipient_organ, TransportState.ROUTED, system_id=e.system_id,
                                forwarded_to=e.forwarded_to)
            case Delivered():
                self._transport(e, e.recipient_organ, TransportState.DELIVERED, system_id=e.system_id,
                                attempt=e.attempt)
            case Retrying():
                self._transport(e, e.recipient_organ, TransportState.RETRYING, system_id=e.system_id,
                                attempt=e.attempt, detail=f"{e.tier}: {e.error}")
            case Parked():
                self._transport(e, e.recipient_organ, TransportState.PARKED, system_id=e.system_id,
                                attempt=e.attempt, detail=e.reason)
            case StatusRecorded():
                self._status(e)
            case VerdictRecorded():
                self._verdict(e)
            case CopyRefused():
                self._chain(e)  # evidence only: an intruder's headers change no state

    # -- evidence -------------------------------------------------------------------------

    def _chain(self, e: LedgerEvent) -> int:
        payload = self._prepared(e)[0]
        seq, digest = self.head_seq + 1, link(self.head_hash, payload)
        self.evidence.append(
            {"seq": seq, "event_type": type(e).__name__, "at": e.at, "payload": payload,
             "prev_hash": self.head_hash, "hash": digest}
        )
        self.head_seq, self.head_hash = seq, digest
        return seq

    # -- packages -------------------------------------------------------------------------

    def _received(self, e: PackageReceived) -> None:
        known = self.packages.get(e.digest)
        if known is not None and known["outcome"] == Outcome.ACCEPTED:
            return
        seq = self._chain(e)
        values: dict[str, Any] = dict(
            kind=e.kind.value, document_id=e.document_id, from_organ=e.from_organ,
            submitted_by=e.submitted_by,
            bussiness_doc_type=None if e.bussiness_doc_type is None else int(e.bussiness_doc_type),
            target_document_id=e.target_document_id, subject=e.subject,
            priority=None if e.priority is None else int(e.priority),
            due_date=e.due_date, promulgation_date=e.promulgation_date, document_type=e.document_type,
            outcome=Outcome.ACCEPTED.value,
        )
        if known is None:
            self._new_package(seq, e.digest, e.at, **values)
        else:  # a parked package accepted after all (replayed), or bytes refused before for a
            # reason that was not final (the wrong submitter, a missing user_id): now accepted
            self._touch_package(e.digest).update(values, seq=seq, reason_code=None, message=None)
        for organ in e.recipients:
            if (e.digest, organ) in self.deliveries:
                continue  # a transport event got here first (replay order): never step back
            self._move(seq, e.digest, organ, TransportState.ACCEPTED, e.at, system_id=None, attempt=0,
                       detail=None, forwarded_to=None)

    def _new_package(self, seq: int, digest: str, at: datetime, **values: Any) -> Row:
        row: Row = {
            "digest": digest, "seq": seq, "kind": None, "document_id": None, "from_organ": None,
            "submitted_by": None, "bussiness_doc_type": None, "target_document_id": None,
            "subject": None, "priority": None, "due_date": None, "promulgation_date": None,
            "document_type": None, "received_at": at, "outcome": Outcome.ACCEPTED.value, "reason_code": None,
            "message": None,
            "duplicates_absorbed": 0, "last_duplicate_at": None,
        }
        row.update(values)
        self.packages[digest] = row
        self.new_packages.add(digest)
        return row

    def _touch_package(self, digest: str) -> Row:
        if digest not in self.new_packages:
            self.changed_packages.add(digest)
        return self.packages[digest]

    def _rejected(self, e: PackageRejected) -> None:
        if e.recipient_organ is not None:
            detail = f"{e.reason_code}: {e.message}"
            self._transport(e, e.recipient_organ, TransportState.REJECTED, detail=detail)
            return
        row = self.packages.get(e.digest)
        if row is not None and row["outcome"] == Outcome.REJECTED and row["reason_code"] == e.reason_code:
            return
        seq = self._chain(e)
        if row is not None and row["submitted_by"] is not None and e.submitted_by != row["submitted_by"] \
                and e.document_id is not None:
            # another submitter's refusal of the same bytes (a re-send it had no right to, or one
            # without user_id): evidence, never the package's fate. (Refusals recorded before
            # intake named their package carry no DocumentId and keep their old effect.)
            return
        values = {"outcome": Outcome.REJECTED.value, "reason_code": e.reason_code, "message": e.message}
        claimed = {"submitted_by": e.submitted_by, "kind": None if e.kind is None else e.kind.value,
                   "document_id": e.document_id, "from_organ": e.from_organ}
        if row is None:
            self._new_package(seq, e.digest, e.at, **values, **claimed)
        else:  # recorded at intake already: its facts stand, the refusal only fills gaps
            row = self._touch_package(e.digest)
            row.update(values)
            row.update({k: v for k, v in claimed.items() if row[k] is None and v is not None})

    def _package_parked(self, e: PackageParked) -> None:
        row = self.packages.get(e.digest)
        if row is not None and row["outcome"] == Outcome.PARKED and row["reason_code"] == e.reason_code:
            return
        seq = self._chain(e)
        if row is None:
            self._new_package(seq, e.digest, e.at, outcome=Outcome.PARKED.value, reason_code=e.reason_code,
                              message=e.message, submitted_by=e.submitted_by, document_id=e.document_id,
                              from_organ=e.from_organ)
        elif row["outcome"] == Outcome.PARKED:
            self._touch_package(e.digest).update(reason_code=e.reason_code, message=e.message, seq=seq)

    def _duplicate(self, e: DuplicateAbsorbed) -> None:
        self._chain(e)  # each absorbed copy is a fact worth proving, even of an unknown digest
        if e.digest in self.packages:
            row = self._touch_package(e.digest)
            row["duplicates_absorbed"] += 1
            row["last_duplicate_at"] = e.at

    # -- deliveries -----------------------------------------------------------------------

    def _transport(
        self,
        e: Routed | Delivered | Retrying | Parked | PackageRejected,
        organ: str,
        state: TransportState,
        *,
        system_id: str | None = None,
        attempt: int | None = None,
        detail: str | None = None,
        forwarded_to: str | None = None,
    ) -> None:
        row = self.deliveries.get((e.digest, organ))
        current = None if row is None else Current(
            TransportState(row["state"]), int(row["attempts"]), row["last_at"], row["reopened_at"])
        decision = step(current, state, attempt or 0, e.at)
        if decision not in (Step.APPLY, Step.REOPEN):
            return
        seq = self._chain(e)
        self._move(seq, e.digest, organ, state, e.at, system_id=system_id, attempt=attempt, detail=detail,
                   forwarded_to=forwarded_to)
        if decision is Step.REOPEN:
            self.deliveries[(e.digest, organ)]["reopened_at"] = e.at

    def _move(
        self,
        seq: int,
        digest: str,
        organ: str,
        state: TransportState,
        at: datetime,
        *,
        system_id: str | None,
        attempt: int | None,
        detail: str | None,
        forwarded_to: str | None,
    ) -> None:
        key = (digest, organ)
        row = self.deliveries.get(key)
        if row is None:
            row = {"digest": digest, "recipient_organ": organ, "system_id": None, "forwarded_to": None,
                   "state": state.value, "attempts": 0, "first_at": at, "last_at": at,
                   "last_error": None, "last_seq": seq, "reopened_at": None}
            self.deliveries[key] = row
            self.new_deliveries.add(key)
        elif key not in self.new_deliveries:
            self.changed_deliveries.add(key)
        row["state"] = state.value
        row["system_id"] = system_id or row["system_id"]
        row["forwarded_to"] = forwarded_to or row["forwarded_to"]
        if attempt is not None:
            row["attempts"] = attempt
        if state in (TransportState.RETRYING, TransportState.PARKED, TransportState.REJECTED):
            row["last_error"] = detail
        row["last_at"] = max(row["last_at"], at)
        row["last_seq"] = seq
        if state is TransportState.ROUTED and forwarded_to:
            detail = f"forwarded to successor {forwarded_to}"
        self.transitions.append(
            {"seq": seq, "digest": digest, "recipient_organ": organ, "state": state.value,
             "attempt": row["attempts"], "system_id": row["system_id"], "detail": detail, "at": at}
        )

    # -- statuses and verdicts ------------------------------------------------------------

    def _status(self, e: StatusRecorded) -> None:
        if e.digest in self.status_digests:
            return
        self.status_digests.add(e.digest)
        seq = self._chain(e)
        self.statuses.append(
            {"digest": e.digest, "seq": seq, "document_id": e.document_id,
             "reporter_organ": e.reporter_organ, "about_organ": e.about_organ,
             "status_code": e.status_code, "description": e.description, "staff": e.staff,
             "reported_at": e.reported_at, "received_at": e.at}
        )

    def _verdict(self, e: VerdictRecorded) -> None:
        key = (e.digest, e.attachment or "")
        if key in self.verdict_keys:
            return  # the verdict given at routing time stands; re-verification is another tool
        self.verdict_keys.add(key)
        seq = self._chain(e)
        self.verdicts.append(
            {"digest": e.digest, "attachment": key[1], "seq": seq, "verdict": e.verdict,
             "reason": e.reason, "report_json": e.report_json, "at": e.at}
        )
