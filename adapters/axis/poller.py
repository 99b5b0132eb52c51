"""Inbound from the national axis: list, fetch, hand to the hub's intake, then confirm.

One round (`AxisPoller.poll_once`) asks the axis for what waits for the hub — edoc packages
first, then status packages — and for each docId:

1. skips what the journal already took in (a docId listed again because our `updateStatus`
   was lost is only confirmed again);
2. fetches it (`getEdoc`, base64, or SDK 2.0.1's `downloadEdoc`, raw bytes);
3. de-duplicates: the same bytes, or the same key — kind 0 edoc: From + DocumentId; status:
   From + ResponseFor/DocumentId + StatusCode + Timestamp — already taken in under another
   docId (the axis re-offers a package under a new docId, often with a new TraceHeader, so the
   bytes differ and intake alone would call it a DUPLICATE_CONFLICT) is not submitted again;
4. submits it to intake as the national-axis gateway system and waits for the broker's
   confirm; only then records it and confirms to the axis with `updateStatus(done)`.

Intake decides the rest like for any package (a refusal goes back as a status 02 to the
submitting system — the gateway — and so through the axis sink to the sender). A package that
cannot be obtained at all (not base64, empty) is confirmed `fail`. Every outcome is counted in
the round's report; nothing raises for an axis or broker that does not answer: the next round
tries again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import structlog

from adapters.axis.client import AxisClient, AxisDown, AxisOk, Fetched, MessageType
from adapters.axis.journal import AxisJournal
from ops import metrics
from schemas.codes import BussinessDocType
from schemas.models import EdocPackage, StatusPackage
from schemas.parse import validate_package

log = structlog.get_logger("lienthong.axis.poller")

#: submit the raw package to intake; True once the broker confirmed the publish, False when the
#: broker did not (down, nack, unroutable) — never raises for the broker
Submit = Callable[[bytes], bool]
FetchWith = Literal["getEdoc", "downloadEdoc"]


@dataclass
class PollReport:
    """What one round did, by docId (for the operator and the tests)."""

    listed: list[str] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    #: docId (or operation) → why it waits for the next round
    waiting: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.waiting

    def summary(self) -> dict[str, int]:
        return {"listed": len(self.listed), "submitted": len(self.submitted), "duplicates": len(self.duplicates),
                "confirmed": len(self.confirmed), "refused": len(self.refused), "waiting": len(self.waiting)}


def dedup_key(body: bytes) -> str | None:
    """The key two deliveries of one package share even when the axis changed its bytes; None
    for what is not a readable package or for changes (kinds 1–3 share their target's id)."""
    report = validate_package(body)
    if report.parsed is None:
        return None
    pkg = report.parsed.package
    report.parsed.close()
    if isinstance(pkg, EdocPackage):
        if pkg.doc_type is not BussinessDocType.NEW:
            return None
        return f"edoc|{pkg.sender}|{pkg.document_id}"
    assert isinstance(pkg, StatusPackage)
    h = pkg.header
    return f"status|{pkg.sender}|{pkg.document_id}|{h.status_code.value}|{h.timestamp.isoformat()}"


class AxisPoller:
    def __init__(self, client: AxisClient, journal: AxisJournal, submit: Submit, *,
                 fetch_with: FetchWith = "getEdoc") -> None:
        self.client = client
        self.journal = journal
        self.submit = submit
        self.fetch_with = fetch_with

    def poll_once(self) -> PollReport:
        report = PollReport()
        types: tuple[MessageType, ...] = ("edoc", "status")
        for messagetype in types:
            self._poll(messagetype, report)
        if report.listed or report.waiting:
            log.info("axis.polled", **report.summary())
        return report

    def _poll(self, messagetype: MessageType, report: PollReport) -> None:
        listed = self.client.received_list(messagetype)
        if not isinstance(listed, AxisOk):
            report.waiting[f"getReceivedEdocList:{messagetype}"] = _why(listed)
            return
        for item in listed.answer.data:
            if item.messageType != messagetype:
                continue
            report.listed.append(item.docId)
            before = report.summary()
            self._take(item.docId, messagetype, report)
            after = report.summary()
            for outcome in ("submitted", "duplicates", "refused", "waiting"):
                if after[outcome] > before[outcome]:
                    metrics.AXIS_POLLED.labels(messagetype, outcome.removesuffix("s")).inc()

    def _take(self, doc_id: str, messagetype: MessageType, report: PollReport) -> None:
        known = self.journal.received(doc_id)
        if known is not None:
            self._confirm(doc_id, "fail" if known.state == "refused" else "done", report,
                          after="confirmed" if known.state == "submitted" else None)
            return
        got = self.client.get_edoc(doc_id) if self.fetch_with == "getEdoc" else self.client.download_edoc(doc_id)
        if isinstance(got, AxisDown):
            report.waiting[doc_id] = _why(got)
            return
        if not isinstance(got, Fetched) or not got.body.strip():
            log.warning("axis.unobtainable", doc_id=doc_id, why=_why(got) if not isinstance(got, Fetched) else "empty")
            self.journal.record(doc_id, messagetype, None, None, "refused")
            report.refused.append(doc_id)
            self._confirm(doc_id, "fail", report)
            return
        digest = hashlib.sha256(got.body).hexdigest()
        key = dedup_key(got.body)
        holder = self.journal.holder_of(key) if key else None
        if holder is not None or self.journal.received_digest(digest):
            log.info("axis.duplicate", doc_id=doc_id, first=holder.doc_id if holder else None)
            self.journal.record(doc_id, messagetype, digest, None, "duplicate")
            report.duplicates.append(doc_id)
            self._confirm(doc_id, "done", report)
            return
        if not self.submit(got.body):
            report.waiting[doc_id] = "intake publish not confirmed"
            return
        self.journal.record(doc_id, messagetype, digest, key, "submitted")
        report.submitted.append(doc_id)
        self._confirm(doc_id, "done", report, after="confirmed")

    def _confirm(self, doc_id: str, status: Literal["done", "fail"], report: PollReport,
                 after: Literal["confirmed"] | None = None) -> None:
        answer = self.client.update_status(doc_id, status)
        if isinstance(answer, AxisOk):
            if after is not None:
                self.journal.set_state(doc_id, after)
            report.confirmed.append(doc_id)
        else:
            report.waiting[doc_id] = f"updateStatus: {_why(answer)}"


def _why(result: object) -> str:
    if isinstance(result, AxisDown):
        return result.error
    code, desc = getattr(result, "code", "?"), getattr(result, "desc", "")
    return f"axis ErrorCode {code}: {desc[:120]}"
