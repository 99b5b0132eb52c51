"""The hub as a client of the national axis: its operations over HTTP, and the delivery sink.

`AxisClient` speaks the vendor SDK's wire format (adapters/axis/protocol.py: signed
`XroadVnpt-*` headers, raw package bodies, the JSON answers) with httpx, and returns every
outcome as a value: `AxisOk` with the parsed answer, `AxisRefused` when the axis answered in
its JSON shape with a non-zero ErrorCode, `AxisDown` when it did not answer usably (connection
refused or dropped, timeout, a body that is not the axis's JSON). Nothing here retries: the
sink's failures go through the hub's failure policy, the poller simply polls again.

`AxisSink` is the delivery adapter of the national-axis gateway system (registry name `axis`):
each hand-over for organs outside the hub's tree becomes one `sendEdoc` (messagetype edoc or
status, `from` = the package's sender, `to` = its recipients). It keeps the promise of every
sink — one copy per hand-over id — with a journal in the ledger's database
(adapters/axis/journal.py):

1. reserve the hand-over id with a frozen SDK timestamp (a second reservation reads the first);
2. sign with that timestamp and send: a re-send after a crash is byte-identical, which the
   axis must absorb (domain.md §7.6: the SDK itself re-sends identical requests), so the axis
   answers with the first DocId instead of a second package;
3. record the DocId: from then on the hand-over is answered from the journal, never sent again.

A package the hub received *from* the axis (the poller's journal knows its digest) is not sent
back to it: the axis delivers to its other recipients itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, TypeVar

import httpx
import structlog
from pydantic import ValidationError

from adapters.axis import protocol as p
from adapters.axis.journal import AxisJournal
from adapters.sink import Delivered, Handover, PermanentFailure, SinkResult, TransientFailure
from ops import metrics
from schemas.codes import PackageKind

log = structlog.get_logger("lienthong.axis.client")

A = TypeVar("A", bound=p.Answer)
MessageType = Literal["edoc", "status"]
Confirmation = Literal["done", "fail", "processing"]

#: ErrorCodes that say "the axis or our credentials are not right at the moment", not "this
#: package is unacceptable": the package waits in the retry tiers instead of being parked
TRANSIENT_CODES = frozenset({p.ErrorCode.INTERNAL, p.ErrorCode.HUB_UNAVAILABLE, p.ErrorCode.WRONG_CREDENTIALS,
                             p.ErrorCode.MALFORMED_SIGNATURE})

DOWN_TEXT = ("Trục liên thông quốc gia tạm thời không trả lời; sẽ gửi lại — "
             "the national axis does not answer at the moment; delivery will be retried")
BUSY_TEXT = ("Trục liên thông quốc gia tạm thời từ chối (mã {code}); sẽ gửi lại — "
             "the national axis refused for now (code {code}); delivery will be retried")
REFUSED_TEXT = ("Trục liên thông quốc gia từ chối gói tin (mã {code}) — "
                "the national axis refused the package (code {code})")


@dataclass(frozen=True, slots=True)
class AxisLink:
    """Where the national axis is and who the hub is on it. The secret never shows in a repr."""

    url: str
    system_id: str
    secret: str = field(repr=False)
    timeout_s: float = 30.0

    def endpoint(self, operation: str) -> str:
        return f"{self.url.rstrip('/')}/{operation}"


@dataclass(frozen=True, slots=True)
class AxisConfig:
    """What the hub's settings say about the axis: the link, and the database of the journal
    (the ledger's)."""

    link: AxisLink
    journal_url: str
    fetch_with: Literal["getEdoc", "downloadEdoc"] = "getEdoc"


class AxisNotConfigured(ValueError):
    """A system delivers through the axis but the hub has no axis settings."""


@dataclass(frozen=True, slots=True)
class AxisOk(Generic[A]):
    answer: A


@dataclass(frozen=True, slots=True)
class AxisRefused:
    """The axis answered in its shape with a non-zero ErrorCode."""

    code: str
    desc: str

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES


@dataclass(frozen=True, slots=True)
class AxisDown:
    """No usable answer; `error` is for the operator's log (may name the URL, never the secret)."""

    error: str


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes


AxisResult = AxisOk[A] | AxisRefused | AxisDown


class AxisClient:
    """One HTTP connection pool to the axis, signing each call like a fresh SDK object would
    (parameters do not pile up; `timestamp` freezes a call's signature when given)."""

    def __init__(self, link: AxisLink, *, transport: httpx.BaseTransport | None = None) -> None:
        self.link = link
        self._http = httpx.Client(timeout=link.timeout_s, transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AxisClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _signer(self, timestamp: str | None) -> p.Signer:
        if timestamp is None:
            return p.Signer(self.link.system_id, self.link.secret, pile_up=False)
        return p.Signer(self.link.system_id, self.link.secret, timestamp=timestamp, pile_up=False)

    def _call(
        self, operation: str, headers: list[tuple[str, str]], body: bytes,
        method: str = "POST", query: dict[str, str] | None = None,
    ) -> httpx.Response | AxisDown:
        try:
            return self._http.request(method, self.link.endpoint(operation), headers=headers, content=body,
                                      params=query)
        except httpx.HTTPError as exc:
            log.warning("axis.unreachable", operation=operation, url=self.link.url, error=type(exc).__name__)
            return AxisDown(f"{operation}: {type(exc).__name__}")

    def _answer(self, operation: str, answer: type[A], response: httpx.Response | AxisDown) -> AxisResult[A]:
        result = self._parse(operation, answer, response)
        outcome = "ok" if isinstance(result, AxisOk) else "down" if isinstance(result, AxisDown) else "refused"
        metrics.AXIS_CLIENT_CALLS.labels(operation, outcome).inc()
        return result

    def _parse(self, operation: str, answer: type[A], response: httpx.Response | AxisDown) -> AxisResult[A]:
        if isinstance(response, AxisDown):
            return response
        try:
            parsed = answer.model_validate_json(response.content)
        except ValidationError:
            log.warning("axis.bad_answer", operation=operation, http_status=response.status_code,
                        size=len(response.content))
            return AxisDown(f"{operation}: HTTP {response.status_code}, not an axis answer")
        if not parsed.ok:
            log.info("axis.refused", operation=operation, code=parsed.ErrorCode, desc=parsed.ErrorDesc[:200])
            return AxisRefused(parsed.ErrorCode, parsed.ErrorDesc)
        if response.status_code >= 500:  # a success shape on a 5xx is not trusted
            return AxisDown(f"{operation}: HTTP {response.status_code}")
        return AxisOk(parsed)

    # -- operations -----------------------------------------------------------------------------
    def send_edoc(
        self, package: bytes, *, sender: str, messagetype: MessageType, to: Sequence[str] = (),
        timestamp: str | None = None,
    ) -> AxisResult[p.SendEdocAnswer]:
        to_text = json.dumps(list(to), ensure_ascii=True, separators=(",", ":")) if to else None
        headers, body = self._signer(timestamp).send_edoc(package, sender=sender, messagetype=messagetype, to=to_text)
        return self._answer("sendEdoc", p.SendEdocAnswer, self._call("sendEdoc", headers, body))

    def received_list(self, messagetype: MessageType) -> AxisResult[p.ReceivedListAnswer]:
        headers = self._signer(None).headers([("servicetype", "eDoc"), ("messagetype", messagetype)],
                                             "application/json")
        return self._answer("getReceivedEdocList", p.ReceivedListAnswer,
                            self._call("getReceivedEdocList", headers, b""))

    def get_edoc(self, doc_id: str) -> Fetched | AxisRefused | AxisDown:
        headers = self._signer(None).headers([("docId", doc_id)], "application/json")
        got = self._answer("getEdoc", p.GetEdocAnswer,
                           self._call("getEdoc", headers, b"{}"))
        if not isinstance(got, AxisOk):
            return got
        try:
            return Fetched(base64.b64decode(got.answer.data, validate=True))
        except (binascii.Error, ValueError):
            return AxisRefused(p.ErrorCode.INVALID_FILE.value, "getEdoc data is not base64")

    def download_edoc(self, doc_id: str) -> Fetched | AxisRefused | AxisDown:
        """SDK 2.0.1: GET with docId in the query string and the signed headers; the raw package
        as the body on 200, the axis JSON otherwise."""
        headers = self._signer(None).headers([("docId", doc_id)], "application/json")
        response = self._call("downloadEdoc", headers, b"", method="GET", query={"docId": doc_id})
        if not isinstance(response, AxisDown) and response.status_code == 200 and response.content \
                and not response.content.lstrip().startswith(b"{"):
            metrics.AXIS_CLIENT_CALLS.labels("downloadEdoc", "ok").inc()
            return Fetched(response.content)
        got = self._answer("downloadEdoc", p.Answer, response)
        if isinstance(got, AxisOk):  # a success shape but no package: as if the axis had not answered
            return AxisDown("downloadEdoc: an answer without a package")
        return got

    def update_status(self, doc_id: str, status: Confirmation) -> AxisResult[p.Answer]:
        headers = self._signer(None).headers([("docid", doc_id)], "application/json", late=[("status", status)])
        return self._answer("updateStatus", p.Answer, self._call("updateStatus", headers, b"{}"))

    def sent_list(self, messagetype: MessageType, doc_id: str | None = None) -> AxisResult[p.SentListAnswer]:
        params = [("servicetype", "eDoc"), ("messagetype", messagetype)]
        if doc_id:
            params.append(("docId", doc_id))
        headers = self._signer(None).headers(params, "application/json")
        return self._answer("getSentEdocList", p.SentListAnswer,
                            self._call("getSentEdocList", headers, b""))

    def agencies(self) -> AxisResult[p.AgenciesAnswer]:
        headers = self._signer(None).headers([], "application/json")
        return self._answer("getAgenciesList", p.AgenciesAnswer,
                            self._call("getAgenciesList", headers, b""))


def message_type(kind: PackageKind | str) -> MessageType:
    return "status" if str(kind) == PackageKind.STATUS.value else "edoc"


class AxisSink:
    """The gateway system's sink: `sendEdoc` once per hand-over id (see the module docstring)."""

    def __init__(self, client: AxisClient, journal: AxisJournal) -> None:
        self.client = client
        self.journal = journal

    def deliver(self, handover: Handover) -> SinkResult:
        hid = handover.handover_id
        if self.journal.received_digest(handover.digest):
            return Delivered("came from the national axis: not sent back to it")
        record = self.journal.reserve(handover, p.sdk_timestamp(datetime.now()))
        if record.doc_id:
            return Delivered(f"already on the axis as DocId {record.doc_id}")
        result = self.client.send_edoc(
            handover.read(), sender=handover.sender, messagetype=message_type(handover.kind),
            to=handover.recipients, timestamp=record.timestamp,
        )
        if isinstance(result, AxisOk):
            doc_id = result.answer.DocId
            if not doc_id:
                log.warning("axis.no_docid", handover=hid)
                return TransientFailure(DOWN_TEXT)
            self.journal.mark_sent(hid, doc_id)
            log.info("axis.sent", handover=hid, doc_id=doc_id, recipients=len(handover.recipients))
            return Delivered(f"DocId {doc_id}")
        if isinstance(result, AxisDown):  # it may have arrived: keep the signature for the re-send
            return TransientFailure(DOWN_TEXT)
        self.journal.release(hid)  # refused: nothing was stored, the next attempt signs anew
        if result.transient:
            return TransientFailure(BUSY_TEXT.format(code=_code(result.code)))
        log.warning("axis.refused_package", handover=hid, code=result.code, desc=result.desc[:200])
        return PermanentFailure(REFUSED_TEXT.format(code=_code(result.code)))


def axis_sink(config: AxisConfig | None, system_id: str, timeout_s: float) -> AxisSink:
    """The registry's factory (adapters/registry.py, adapter `axis`)."""
    if config is None:
        raise AxisNotConfigured(
            f"system {system_id} delivers through the national axis (adapter: axis) but the hub has no axis "
            "settings — set LIENTHONG_AXIS_URL, LIENTHONG_AXIS_SYSTEM_ID and LIENTHONG_AXIS_SECRET "
            "(or LIENTHONG_AXIS_SECRET_FILE)"
        )
    link = AxisLink(config.link.url, config.link.system_id, config.link.secret, timeout_s)
    return AxisSink(AxisClient(link), AxisJournal.open(config.journal_url))


def _code(code: str) -> str:
    """An axis ErrorCode as it may appear in a sender's text: digits only, bounded."""
    digits = "".join(ch for ch in code if ch.isalnum())[:8]
    return digits or "?"
