"""The national-axis-compatible HTTP API: a DMS built on the vendor SDK connects to the hub by
changing only its endpoint URL, systemId and secret (domain.md §7, wire format §7.6).

Why it is shaped like this:
* every request is authenticated first (the signed `XroadVnpt-*` headers, adapters/axis/protocol.py)
  and mapped to the directory's system; nothing is read or answered before that;
* parameters come only from the signed JSON, exact case; the route is the last path segment
  (an endpoint configured with a trailing `/` makes the SDK send `//sendEdoc`);
* sendEdoc checks what it can before anything leaves the process (hash-file, edXML validity,
  From served by the authenticated system), so a refusal has no effect at all; then the package
  goes to intake through the hub's broker with the API's own gateway account, naming the system
  it authenticated (router/pipeline/submitter.py), and the answer waits for intake's verdict;
* pulled packages are letters of the system's durable mailbox (adapters/mailbox.py): only the
  system they were delivered to can list, fetch or confirm them (another system's docId is
  "not found", exactly like a docId that does not exist);
* a byte-identical re-send of sendEdoc / updateStatus (the SDK retries on dropped connections)
  gets the first answer and does nothing else (adapters/axis/replies.py);
* every answer is the axis JSON shape with `status`, `ErrorCode`, `ErrorDesc` (bilingual), never
  a stack trace; downloadEdoc answers raw bytes, and an error there is never a 200.

The hub's parts arrive as small ports (`AxisParts`), built by `router/cli/api.py`, so this
module depends on schemas and the adapters only.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

import structlog
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.axis import protocol as p
from adapters.axis.accounts import Accounts
from adapters.axis.replies import Replies, reply_key
from adapters.mailbox import Confirmed, Letter, LetterState, Mailbox, NotYours, RetryPolicy
from ops import metrics
from schemas.findings import Code
from schemas.parse import validate_package
from schemas.policy import VIETNAM, ValidationOptions
from schemas.profiles import Profile

log = structlog.get_logger("lienthong.axisapi")

Kind = Literal["edoc", "status"]
#: sendEdoc's DocId: derived from the package digest, so a re-send gets the same one
SENT_NAMESPACE = uuid.UUID("0b5f3c1e-2d7a-4f5e-9a61-4c1d2b3e4f50")


def sent_doc_id(digest: str) -> str:
    return str(uuid.uuid5(SENT_NAMESPACE, digest))


# -- ports ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submitted:
    """Intake's verdict (or `accepted` with no verdict in time: the broker confirmed the package)."""

    outcome: Literal["accepted", "duplicate", "rejected"]
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class HubUnavailable:
    reason: str  # for the log only


class IntakePort(Protocol):
    def submit(self, body: bytes, system_id: str) -> Submitted | HubUnavailable: ...


class DirectoryPort(Protocol):
    def has_system(self, system_id: str) -> bool: ...
    def profile(self, system_id: str) -> Profile: ...
    def serves(self, system_id: str, organ: str) -> bool: ...
    def agencies(self) -> list[p.Agency]: ...


class SentPort(Protocol):
    def sent(self, system_id: str, kind: Kind, doc_id: str | None) -> list[p.SentEdoc]: ...


@dataclass
class AxisParts:
    accounts: Accounts
    directory: DirectoryPort
    intake: IntakePort
    sent: SentPort
    mailbox: Mailbox
    replies: Replies
    retry: RetryPolicy
    options: ValidationOptions = field(default_factory=ValidationOptions)


# -- helpers --------------------------------------------------------------------------------------


def _refusal(code: p.ErrorCode, vi: str, en: str) -> p.Refusal:
    return p.Refusal(code, f"{vi} / {en}")


_HTTP = {
    p.ErrorCode.WRONG_CREDENTIALS: 401, p.ErrorCode.MALFORMED_SIGNATURE: 401, p.ErrorCode.SENDER_NOT_ALLOWED: 403,
    p.ErrorCode.NOT_FOUND: 404, p.ErrorCode.UNKNOWN_OPERATION: 404, p.ErrorCode.WRONG_STATE: 409,
    p.ErrorCode.INTERNAL: 500, p.ErrorCode.HUB_UNAVAILABLE: 503,
}

#: intake reason codes → axis error codes
_INTAKE_CODES = {
    Code.UNKNOWN_RECIPIENT.value: p.ErrorCode.RECIPIENT_UNKNOWN,
    Code.SENDER_NOT_SERVED.value: p.ErrorCode.SENDER_NOT_ALLOWED,
    Code.SENDER_UNKNOWN_SYSTEM.value: p.ErrorCode.SENDER_NOT_ALLOWED,
    Code.DUPLICATE_CONFLICT.value: p.ErrorCode.NOT_CONFORMING,
}


def _json(answer: p.Answer, status: int | None = None) -> Response:
    if status is None:
        status = 200 if answer.ok else _HTTP.get(p.ErrorCode(answer.ErrorCode), 400)
    return Response(answer.to_bytes(), status_code=status, media_type="application/json")


def _fail(refusal: p.Refusal, answer: type[p.Answer] = p.Answer) -> Response:
    return _json(p.failure(refusal, answer))


def _vn_time(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M:%S")


def _kind(auth: p.Authenticated) -> Kind | p.Refusal:
    value = (auth.param("messagetype", "messageType") or "edoc").strip().lower()
    if value in ("edoc", "status"):
        return "edoc" if value == "edoc" else "status"
    return _refusal(p.ErrorCode.BAD_PARAMETER, f"messagetype {value[:20]!r} không hợp lệ (edoc | status)",
                    f"messagetype {value[:20]!r} is not valid (edoc | status)")


def _multipart_file(content_type: str, body: bytes) -> bytes | None:
    """The `file_doc` part of a multipart/form-data body (other clients than the SDK)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file_doc":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


_STATE_TEXT = {
    LetterState.WAITING: ("initial", "Chờ nhận / Waiting to be taken"),
    LetterState.RETRYING: ("initial", "Gửi lại sau lỗi / Offered again after a failure"),
    LetterState.PROCESSING: ("processing", "Đang xử lý / Being processed"),
    LetterState.DONE: ("done", "Đã nhận / Taken"),
    LetterState.PARKED: ("fail", "Không nhận được, đã dừng gửi / Not taken, delivery stopped"),
}


def _item(letter: Letter) -> p.ReceivedEdoc:
    status, desc = _STATE_TEXT[letter.state]
    return p.ReceivedEdoc(
        docId=letter.doc_id, messageType=letter.kind, created_time=_vn_time(letter.created_at),
        updated_time=_vn_time(letter.updated_at), from_=letter.sender, to=",".join(letter.recipients),
        status=status, status_desc=desc,
    )


# -- the application ------------------------------------------------------------------------------

Handler = Callable[[p.Authenticated, str, Request, bytes], Response]


class AxisApi:
    """The operations, each a function of (authenticated caller, its system id, request, body)."""

    def __init__(self, parts: AxisParts) -> None:
        self.parts = parts
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # -- authentication -------------------------------------------------------------------------
    def authenticate(self, request: Request) -> tuple[p.Authenticated, str] | p.Refusal:
        auth = p.verify(request.headers.raw, self.parts.accounts.secret_of)
        if isinstance(auth, p.Refusal):
            return auth
        system = self.parts.accounts.system_of(auth.system_id)
        if system is None or not self.parts.directory.has_system(system):
            return _refusal(p.ErrorCode.WRONG_CREDENTIALS,
                            f"systemid {auth.system_id} không gắn với hệ thống nào của trục",
                            f"systemid {auth.system_id} is not linked to a system of the hub")
        return auth, system

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._locks) > 10_000:
                self._locks.clear()
            return self._locks.setdefault(key, threading.Lock())

    # -- sendEdoc -------------------------------------------------------------------------------
    def send_edoc(self, auth: p.Authenticated, system: str, request: Request, body: bytes) -> Response:
        declared = auth.param(p.HASH_FILE)
        content_type = request.headers.get("content-type", "")
        if content_type.lower().startswith("multipart/"):
            file_doc = _multipart_file(content_type, body)
            if file_doc is None:
                return _fail(_refusal(p.ErrorCode.INVALID_FILE, "Thiếu phần file_doc trong yêu cầu multipart",
                                      "the multipart request has no file_doc part"), p.SendEdocAnswer)
            body = file_doc
        if not declared:
            return _fail(_refusal(p.ErrorCode.MISSING_PARAMETER, "Thiếu tham số hash-file được ký",
                                  "the signed parameter hash-file is missing"), p.SendEdocAnswer)
        key = reply_key(auth.system_id, auth.fingerprint, declared)
        with self._lock(key):
            kept = self.parts.replies.get(key)
            if kept is not None:
                log.info("re-send answered from the first", op="sendEdoc", system=system)
                return Response(kept[1], status_code=kept[0], media_type="application/json")
            response, final = self._send_edoc(auth, system, body, declared)
            if final:
                self.parts.replies.keep(key, "sendEdoc", response.status_code, bytes(response.body))
            return response

    def _send_edoc(self, auth: p.Authenticated, system: str, body: bytes, declared: str) -> tuple[Response, bool]:
        kind = _kind(auth)
        if isinstance(kind, p.Refusal):
            return _fail(kind, p.SendEdocAnswer), True
        if not body.strip():
            return _fail(_refusal(p.ErrorCode.INVALID_FILE, "Nội dung gói tin rỗng", "the package body is empty"),
                         p.SendEdocAnswer), True
        package = p.package_from_body(body, declared)
        if package is None:
            return _fail(_refusal(p.ErrorCode.HASH_FILE_MISMATCH,
                                  "hash-file không khớp với nội dung gửi lên (SHA-256 của tệp)",
                                  "hash-file does not match the body (SHA-256 of the file)"), p.SendEdocAnswer), True
        options = self.parts.options
        profile = self.parts.directory.profile(system)  # the same profile intake validates this system with
        if profile is not options.profile:
            options = options.model_copy(update={"profile": profile})
        report = validate_package(package, options)
        try:
            if report.parsed is None or not report.valid:
                first = report.errors[0] if report.errors else None
                where = f" ({first.path})" if first is not None and first.path else ""
                vi = (first.vi if first else "gói tin không hợp lệ") + where
                en = (first.en if first else "invalid package") + where
                return _fail(_refusal(p.ErrorCode.NOT_CONFORMING, vi, en), p.SendEdocAnswer), True
            pkg = report.parsed.package
            if pkg.kind != kind:
                return _fail(_refusal(p.ErrorCode.BAD_PARAMETER,
                                      f"messagetype là {kind} nhưng gói tin là {pkg.kind}",
                                      f"messagetype is {kind} but the package is a {pkg.kind} package"),
                             p.SendEdocAnswer), True
            claimed = auth.param("from")
            if claimed is not None and claimed != pkg.sender:  # the SDK's caller may name its own unit here
                log.info("from parameter differs from From/OrganId", system=system, param=claimed[:40],
                         sender=pkg.sender)
            if not self.parts.directory.serves(system, pkg.sender):
                return _fail(_refusal(p.ErrorCode.SENDER_NOT_ALLOWED,
                                      f"Hệ thống {system} không được gửi thay cơ quan {pkg.sender} (From/OrganId)",
                                      f"system {system} does not serve the sender {pkg.sender} (From/OrganId)"),
                             p.SendEdocAnswer), True
        finally:
            if report.parsed is not None:
                report.parsed.close()
        digest = hashlib.sha256(package).hexdigest()
        outcome = self.parts.intake.submit(package, system)
        if isinstance(outcome, HubUnavailable):
            log.warning("intake unavailable", system=system, reason=outcome.reason)
            return _fail(_refusal(p.ErrorCode.HUB_UNAVAILABLE, "Trục tạm thời không nhận được gói tin, hãy gửi lại",
                                  "the hub cannot take the package right now; send it again"),
                         p.SendEdocAnswer), False
        log.info("sendEdoc", system=system, digest=digest[:16], outcome=outcome.outcome, code=outcome.code)
        if outcome.outcome == "rejected":
            code = _INTAKE_CODES.get(outcome.code or "", p.ErrorCode.NOT_CONFORMING)
            desc = outcome.message or f"{outcome.code} / {outcome.code}"
            return _fail(p.Refusal(code, desc), p.SendEdocAnswer), True
        desc = "Thành công / Success" if outcome.outcome == "accepted" else \
            "Đã nhận trước đó / Already received"
        return _json(p.SendEdocAnswer(DocId=sent_doc_id(digest), ErrorDesc=desc)), True

    # -- pulling ---------------------------------------------------------------------------------
    def received_list(self, auth: p.Authenticated, system: str, request: Request, body: bytes) -> Response:
        kind = _kind(auth)
        if isinstance(kind, p.Refusal):
            return _fail(kind, p.ReceivedListAnswer)
        letters = self.parts.mailbox.letters(system, kind)
        return _json(p.ReceivedListAnswer(data=[_item(x) for x in letters]))

    def count(self, kind: Kind) -> Handler:
        def handler(auth: p.Authenticated, system: str, request: Request, body: bytes) -> Response:
            return _json(p.CountAnswer(count=self.parts.mailbox.count(system, kind)))
        return handler

    def _letter(self, system: str, doc_id: str | None) -> Letter | p.Refusal:
        if not doc_id:
            return _refusal(p.ErrorCode.MISSING_PARAMETER, "Thiếu tham số docId được ký",
                            "the signed parameter docId is missing")
        letter = self.parts.mailbox.get(system, doc_id.strip())
        if letter is None:
            return _not_found(doc_id)
        return letter

    def get_edoc(self, auth: p.Authenticated, system: str, request: Request, body: bytes) -> Response:
        letter = self._letter(system, auth.param("docId", "docid"))
        if isinstance(letter, p.Refusal):
            return _fail(letter, p.GetEdocAnswer)
        return _json(p.GetEdocAnswer(data=base64.b64encode(letter.body).decode("ascii")))

    def download_edoc(self, auth: p.Authenticated, system: str, request: Request, body: bytes) -> Response:
        signed = auth.param("docId", "docid")
        query = request.query_params.get("docId") or request.query_params.get("docid")
        if signed and query and signed != query:
            return _fail(_refusal(p.ErrorCode.BAD_PARAMETER, "docId trong địa chỉ khác docId được ký",
                                  "the docId of the query string differs from the signed one"))
        letter = self._letter(system, signed or query)
        if isinstance(letter, p.Refusal):
            return _fail(letter)
        return Response(letter.body, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{letter.doc_id}.edxml"'})

    def update_status(self, auth: p.Authenticated, system: str, request: Request, body: bytes) -> Response:
        key = reply_key(auth.system_id, auth.fingerprint, "updateStatus")
        with self._lock(key):
            kept = self.parts.replies.get(key)
            if kept is not None:
                log.info("re-send answered from the first", op="updateStatus", system=system)
                return Response(kept[1], status_code=kept[0], media_type="application/json")
            response, final, until_s = self._update_status(auth, system)
            if final:
                self.parts.replies.keep(key, "updateStatus", response.status_code, bytes(response.body),
                                        keep_s=until_s)
            return response

    def _update_status(self, auth: p.Authenticated, system: str) -> tuple[Response, bool, float | None]:
        """(answer, keep it for re-sends, for how long: a `fail` only until the letter is offered
        again — a long-lived SDK object reporting `fail` once more after that, with its frozen
        timestamp, sends the same bytes for a new fact)."""
        doc_id = auth.param("docid", "docId")
        status = (auth.param("status") or "").strip().lower()
        if not doc_id:
            return _fail(_refusal(p.ErrorCode.MISSING_PARAMETER, "Thiếu tham số docid được ký",
                                  "the signed parameter docid is missing")), True, None
        if status not in ("done", "fail", "processing"):
            return _fail(_refusal(p.ErrorCode.BAD_PARAMETER, f"status {status[:20]!r} không hợp lệ "
                                  "(done | fail | processing)", f"status {status[:20]!r} is not valid "
                                  "(done | fail | processing)")), True, None
        result = self.parts.mailbox.confirm(system, doc_id.strip(), status, self.parts.retry)  # type: ignore[arg-type]
        if isinstance(result, NotYours):
            return _fail(_not_found(doc_id)), True, None
        if not isinstance(result, Confirmed):
            state = result.letter.state.value
            return _fail(_refusal(p.ErrorCode.WRONG_STATE, f"Gói tin {doc_id} đã ở trạng thái {state}",
                                  f"package {doc_id} is already {state}")), True, None
        letter = result.letter
        log.info("updateStatus", system=system, doc_id=doc_id, status=status, state=letter.state.value,
                 fails=letter.fails)
        if letter.state is LetterState.PARKED:
            desc = ("Đã ghi nhận lỗi; đã thử nhiều lần, trục dừng gửi gói tin này / failure recorded; after "
                    "several attempts the hub stopped offering this package")
        elif result.retry_in_s is not None:
            desc = (f"Đã ghi nhận lỗi; gói tin được gửi lại sau {int(result.retry_in_s)} giây / failure recorded; "
                    f"the package is offered again in {int(result.retry_in_s)} s")
        else:
            desc = "Thành công / Success"
        return _json(p.Answer(ErrorDesc=desc)), True, result.retry_in_s

    # -- sent and agencies ------------------------------------------------------------------------
    def sent_list(self, auth: p.Authenticated, system: str, request: Request, body: bytes) -> Response:
        kind = _kind(auth)
        if isinstance(kind, p.Refusal):
            return _fail(kind, p.SentListAnswer)
        return _json(p.SentListAnswer(data=self.parts.sent.sent(system, kind, auth.param("docId", "docid"))))

    def agencies(self, auth: p.Authenticated, system: str, request: Request, body: bytes) -> Response:
        return _json(p.AgenciesAnswer(data=self.parts.directory.agencies()))

    def sync_units(self, auth: p.Authenticated, system: str, request: Request, body: bytes) -> Response:
        units = [p.SyncUnit(**a.model_dump()) for a in self.parts.directory.agencies()]
        return _json(p.SyncUnitsAnswer(data=units))

    def not_offered(self, auth: p.Authenticated, system: str, request: Request, body: bytes) -> Response:
        return _fail(_refusal(p.ErrorCode.UNKNOWN_OPERATION,
                              "Danh bạ của trục do quản trị viên quản lý; thao tác này không được hỗ trợ",
                              "the hub's directory is managed by its operator; this operation is not offered"))


def _not_found(doc_id: str) -> p.Refusal:
    shown = doc_id[:64]
    return _refusal(p.ErrorCode.NOT_FOUND, f"Không có gói tin {shown} gửi cho hệ thống này",
                    f"no package {shown} for this system")


#: operation → (HTTP methods, handler name, summary)
OPERATIONS: dict[str, tuple[Sequence[str], str, str]] = {
    "sendEdoc": (("POST",), "send_edoc", "Send a package (raw body as the SDK sends it, or multipart file_doc)"),
    "getReceivedEdocList": (("POST",), "received_list", "List the packages waiting for this system"),
    "getEdoc": (("POST",), "get_edoc", "Fetch one package, base64 in `data`"),
    "downloadEdoc": (("GET", "POST"), "download_edoc", "Fetch one package as raw bytes (SDK 2.0.1)"),
    "countReceiveEdoc": (("GET", "POST"), "count_edoc", "How many edoc packages wait for this system"),
    "countReceiveStatus": (("GET", "POST"), "count_status", "How many status packages wait for this system"),
    "updateStatus": (("POST",), "update_status", "Confirm a package: done | fail | processing"),
    "getSentEdocList": (("POST",), "sent_list", "Packages this system sent, with transport and business state"),
    "getAgenciesList": (("POST", "GET"), "agencies", "The organs of the hub's directory"),
    "getSynchronizeUnit": (("POST", "GET"), "sync_units", "The organs of the directory, with sync fields"),
    "registerAgency": (("POST",), "not_offered", "Not offered: the directory is managed by the operator"),
    "deleteAgency": (("POST",), "not_offered", "Not offered: the directory is managed by the operator"),
}


#: room for the multipart framing around a package at the size limit
_MULTIPART_SLACK = 1 << 20


async def _read_capped(request: Request, cap: int) -> bytes | None:
    """The body, or None past `cap` bytes (read as it streams: a liar's Content-Length does not
    make the hub hold more). Reading answers `Expect: 100-continue` at once."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _code_of(response: Response) -> str:
    """The axis ErrorCode of an answer (a bounded label: the closed set of `ErrorCode`)."""
    if response.media_type != "application/json":
        return p.ErrorCode.OK.value  # downloadEdoc's raw bytes
    try:
        code = str(json.loads(bytes(response.body)).get("ErrorCode", ""))
    except ValueError:
        return "unreadable"
    return code if code in {c.value for c in p.ErrorCode} else "other"


def create_app(parts: AxisParts) -> FastAPI:
    api = AxisApi(parts)
    handlers: dict[str, Handler] = {
        "send_edoc": api.send_edoc, "received_list": api.received_list, "get_edoc": api.get_edoc,
        "download_edoc": api.download_edoc, "count_edoc": api.count("edoc"), "count_status": api.count("status"),
        "update_status": api.update_status, "sent_list": api.sent_list, "agencies": api.agencies,
        "sync_units": api.sync_units,
        "not_offered": api.not_offered,
    }
    app = FastAPI(
        title="lienthong — national-axis-compatible API",
        description="Trục liên thông văn bản: the operations of the national document axis (XroadVnpt-* HMAC "
                    "headers, JSON answers with status, ErrorCode, ErrorDesc). Parameters travel as signed "
                    "headers, not in the body or the query string.",
        version="1.0",
    )

    def endpoint(operation: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        answer_type = {"sendEdoc": p.SendEdocAnswer, "getEdoc": p.GetEdocAnswer}.get(operation, p.Answer)

        async def serve(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await _serve(request)
            except Exception as exc:  # noqa: BLE001 - the caller gets the axis shape, the log gets the cause
                log.error("request failed", op=operation, error=repr(exc)[:500])
                response = _fail(_refusal(p.ErrorCode.INTERNAL, "Lỗi nội bộ của trục", "internal error of the hub"),
                                 answer_type)
            metrics.AXIS_API_REQUESTS.labels(operation, _code_of(response)).inc()
            metrics.AXIS_API_SECONDS.labels(operation).observe(time.perf_counter() - started)
            return response

        async def _serve(request: Request) -> Response:
            # the signed headers first (in memory, no I/O): an unauthenticated caller gets its answer
            # without `100 Continue` and without the hub reading its body
            who = api.authenticate(request)
            if isinstance(who, p.Refusal):
                log.info("refused", op=operation, code=who.code.value)
                return _fail(who, answer_type)
            auth, system = who
            body = await _read_capped(request, parts.options.limits.max_package_bytes + _MULTIPART_SLACK)
            if body is None:
                limit = parts.options.limits.max_package_bytes
                return _fail(_refusal(p.ErrorCode.INVALID_FILE, f"Gói tin vượt quá giới hạn {limit} byte",
                                      f"the package exceeds the limit of {limit} bytes"), answer_type)
            return await run_in_threadpool(handler, auth, system, request, body)

        serve.__name__ = operation
        return serve

    for operation, (methods, name, summary) in OPERATIONS.items():
        serve = endpoint(operation, handlers[name])
        app.add_api_route(f"/{operation}", serve, methods=list(methods), summary=summary, operation_id=operation)
        app.add_api_route(f"/{{prefix:path}}/{operation}", serve, methods=list(methods), include_in_schema=False)

    @app.exception_handler(StarletteHTTPException)
    async def _unknown(request: Request, exc: StarletteHTTPException) -> Response:
        last = request.url.path.rstrip("/").rsplit("/", 1)[-1][:40]
        return _fail(_refusal(p.ErrorCode.UNKNOWN_OPERATION, f"Không có thao tác {last!r} (phương thức "
                              f"{request.method})", f"no operation {last!r} (method {request.method})"))

    return app
