"""A fake national axis on loopback, for the tests of the hub's axis client and the demo.

It implements domain.md §7 on the standard library's HTTP server — deliberately not on the
framework of the hub's own axis-compatible API (adapters/axis/api.py), and sharing none of its
handlers — so a mistake in how the hub reads the protocol cannot hide in both: every request is
authenticated by the protocol verifier (signed JSON read with exact case, piled-up parameters
allowed), parameters are taken from the signed JSON only, `sendEdoc` takes the raw body with
its SDK trailer (or a multipart `file_doc`) and checks `hash-file`, `getEdoc` answers base64,
`downloadEdoc` is a GET answering the raw bytes, every answer carries `status`, `ErrorCode`,
`ErrorDesc`. A byte-identical re-send of `sendEdoc`/`updateStatus` (the SDK retries on dropped
connections) is answered like the first and has no second effect.

Model: systems (id + secret) own agencies (organ codes, or whole level-1 groups such as `H41`);
a sent package gets a `senderDocId` and one received item (`receiverDocId`) per recipient, with
the recipient's transport state (`initial` → `done`/`fail`/`processing` by updateStatus) and its
last business status (the StatusCode of a status package the recipient sent about it).

Fault switches (for the tests): `lose(n)` — the next n sendEdoc are answered with a DocId and
then forgotten (the axis "lost" them); `fail(operation, n, mode)` — the next n calls answer
HTTP 500 with a non-axis body (`"500"`), the axis JSON shape with ErrorCode 20 on a 500
(`"json500"`), or close the connection without an answer (`"drop"`).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from adapters.axis import protocol as p

NS = "{http://www.mic.gov.vn/TBT/QCVN_102_2016}"
SERVICE_TYPE = "eDoc"
STATES = {"initial": "Chờ nhận / waiting", "processing": "Đang nhận / being received",
          "done": "Đã nhận / received", "fail": "Nhận lỗi / failed"}


def _now() -> str:
    return datetime.now().strftime("%d/%m/%Y %H:%M:%S")


@dataclass
class Received:
    """One package waiting for (or taken by) one recipient."""

    doc_id: str  # receiverDocId
    sender_doc_id: str
    message_type: str
    body: bytes
    from_code: str
    to_code: str
    to_system: str
    status: str = "initial"
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)


@dataclass
class Sent:
    doc_id: str  # senderDocId
    system: str
    message_type: str
    from_code: str
    to_codes: tuple[str, ...]
    title: str
    notation: str
    document_id: str
    sent_time: str = field(default_factory=_now)
    items: dict[str, str] = field(default_factory=dict)  # to code → receiverDocId


@dataclass
class Call:
    operation: str
    system: str
    params: dict[str, str]
    answer: dict[str, Any]


class FakeAxis:
    """State and rules; `serve()` puts it on a loopback port."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.secrets: dict[str, str] = {}
        self.agencies: dict[str, str] = {}  # organ code → system
        self.groups: dict[str, str] = {}  # level-1 group (H41) → system
        self.names: dict[str, str] = {}
        self.received: dict[str, Received] = {}
        self.sent: dict[str, Sent] = {}
        self.lost: list[bytes] = []
        self.replies: dict[tuple[str, str, str, str], tuple[int, bytes]] = {}
        self.calls: list[Call] = []
        self._lose = 0
        self._faults: dict[str, list[str]] = {}
        self.url = ""

    # -- configuration -----------------------------------------------------------------------
    def register(self, system: str, secret: str, *, organs: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> None:
        with self.lock:
            self.secrets[system] = secret
            for code in organs:
                self.agencies[code] = system
                self.names.setdefault(code, f"Cơ quan {code}")
            for g in groups:
                self.groups[g] = system

    def lose(self, n: int = 1) -> None:
        with self.lock:
            self._lose += n

    def fail(self, operation: str, n: int = 1, mode: str = "500") -> None:
        with self.lock:
            self._faults.setdefault(operation, []).extend([mode] * n)

    def system_of(self, code: str) -> str | None:
        return self.agencies.get(code) or self.groups.get(code[-3:])

    # -- views for tests ---------------------------------------------------------------------
    def inbox(self, system: str, message_type: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received.values() if r.to_system == system
                    and (message_type is None or r.message_type == message_type)]

    def calls_of(self, operation: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.operation == operation]

    # -- the HTTP side -----------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes, str]:
        """One request → (HTTP status, body, content type). A fault may raise `Drop`."""
        split = urlsplit(path)
        operation = split.path.rstrip("/").rsplit("/", 1)[-1]
        with self.lock:
            faults = self._faults.get(operation)
            mode = faults.pop(0) if faults else None
        if mode == "drop":
            raise Drop
        if mode == "500":
            return 500, b"<html><body>Internal Server Error</body></html>", "text/html"
        if mode == "json500":
            refusal = p.Refusal(p.ErrorCode.INTERNAL, "Lỗi hệ thống trục / axis internal error")
            return 500, p.failure(refusal, _answer_type(operation)).to_bytes(), "application/json"
        handler = getattr(self, f"_op_{operation}", None)
        answer_type = _answer_type(operation)
        if handler is None or (operation == "downloadEdoc") != (method == "GET"):
            refusal = p.Refusal(p.ErrorCode.UNKNOWN_OPERATION,
                                f"Không có thao tác {operation[:40]} / no such operation {operation[:40]}")
            return 404, p.failure(refusal, answer_type).to_bytes(), "application/json"
        auth = p.verify(headers, self.secrets.get)
        if isinstance(auth, p.Refusal):
            return 200, p.failure(auth, answer_type).to_bytes(), "application/json"
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        with self.lock:
            key = (auth.system_id, operation, auth.fingerprint, auth.params.get(p.HASH_FILE, ""))
            if operation in ("sendEdoc", "updateStatus") and key in self.replies:
                status, kept = self.replies[key]  # a byte-identical re-send: the first answer, no effect
                return status, kept, "application/json"
            result = handler(auth, body, headers, query)
            if isinstance(result, tuple):  # downloadEdoc's raw bytes
                return result
            data = result.model_dump(mode="json", by_alias=True)
            self.calls.append(Call(operation, auth.system_id, dict(auth.params), data))
            out = result.to_bytes()
            if operation in ("sendEdoc", "updateStatus") and result.ok:
                self.replies[key] = (200, out)
            return 200, out, "application/json"

    # -- operations (called under the lock) -----------------------------------------------------
    def _op_sendEdoc(self, auth: p.Authenticated, body: bytes, headers: list[tuple[str, str]],
                     query: dict[str, str]) -> p.Answer:
        A = p.SendEdocAnswer
        declared = auth.param(p.HASH_FILE)
        sender, messagetype = auth.param("from"), auth.param("messagetype")
        if not declared or not sender or not messagetype:
            missing = next(n for n, v in ((p.HASH_FILE, declared), ("from", sender), ("messagetype", messagetype))
                           if not v)
            return _fail(A, p.ErrorCode.MISSING_PARAMETER, f"Thiếu tham số {missing} / missing parameter {missing}")
        if messagetype not in ("edoc", "status"):
            return _fail(A, p.ErrorCode.BAD_PARAMETER, "messagetype phải là edoc hoặc status / "
                                                       "messagetype must be edoc or status")
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        raw = _multipart_file(body, content_type) if content_type.startswith("multipart/") else body
        package = p.package_from_body(raw or b"", declared) if raw is not None else None
        if package is None:
            return _fail(A, p.ErrorCode.HASH_FILE_MISMATCH,
                         "hash-file không khớp với nội dung / hash-file does not match the body")
        try:
            root = etree.fromstring(package, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            return _fail(A, p.ErrorCode.INVALID_FILE, "Tệp không phải edXML / the file is not edXML")
        if self.system_of(sender) != auth.system_id:
            return _fail(A, p.ErrorCode.SENDER_NOT_ALLOWED,
                         f"Hệ thống không được gửi thay {sender} / this system may not send as {sender}")
        to_text = auth.param("to")
        try:
            to = tuple(json.loads(to_text)) if to_text else _recipients(root, messagetype)
        except ValueError:
            return _fail(A, p.ErrorCode.BAD_PARAMETER, "to phải là một mảng JSON / to must be a JSON array")
        unknown = [c for c in to if self.system_of(str(c)) is None]
        if not to or unknown:
            return _fail(A, p.ErrorCode.RECIPIENT_UNKNOWN,
                         f"Không có nơi nhận {unknown[:3]} / unknown recipient {unknown[:3]}")
        doc_id = str(uuid.uuid4())
        if self._lose:
            self._lose -= 1
            self.lost.append(package)
            return A(DocId=doc_id)
        kind_doc = _text(root, "DocumentId", "ResponseFor" if messagetype == "status" else "MessageHeader")
        sent = Sent(doc_id, auth.system_id, messagetype, sender, tuple(str(c) for c in to),
                    _text(root, "Subject", "MessageHeader"), _text(root, "CodeNotation", "Code"), kind_doc)
        for code in sent.to_codes:
            system = self.system_of(code)
            assert system is not None
            item = Received(str(uuid.uuid4()), doc_id, messagetype, package, sender, code, system)
            self.received[item.doc_id] = item
            sent.items[code] = item.doc_id
        self.sent[doc_id] = sent
        return A(DocId=doc_id)

    def _op_getReceivedEdocList(self, auth: p.Authenticated, body: bytes, headers: list[tuple[str, str]],
                                query: dict[str, str]) -> p.Answer:
        messagetype = auth.param("messagetype") or "edoc"
        items = [
            p.ReceivedEdoc(docId=r.doc_id, serviceType=SERVICE_TYPE, messageType=r.message_type,  # type: ignore[arg-type]
                           created_time=r.created, updated_time=r.updated, to=r.to_code, status=r.status,
                           status_desc=STATES[r.status], **{"from": r.from_code})
            for r in self.received.values()
            if r.to_system == auth.system_id and r.message_type == messagetype and r.status != "done"
        ]
        return p.ReceivedListAnswer(data=items)

    def _mine(self, auth: p.Authenticated, doc_id: str | None) -> Received | None:
        item = self.received.get(doc_id or "")
        return item if item is not None and item.to_system == auth.system_id else None

    def _op_getEdoc(self, auth: p.Authenticated, body: bytes, headers: list[tuple[str, str]],
                    query: dict[str, str]) -> p.Answer:
        item = self._mine(auth, auth.param("docId", "docid"))
        if item is None:
            return _fail(p.GetEdocAnswer, p.ErrorCode.NOT_FOUND, "Không tìm thấy gói tin / no such package")
        return p.GetEdocAnswer(data=base64.b64encode(item.body).decode("ascii"))

    def _op_downloadEdoc(self, auth: p.Authenticated, body: bytes, headers: list[tuple[str, str]],
                         query: dict[str, str]) -> p.Answer | tuple[int, bytes, str]:
        doc_id = auth.param("docId", "docid")
        if query.get("docId") not in (None, doc_id):
            return _fail(p.Answer, p.ErrorCode.BAD_PARAMETER, "docId trong URL khác phần được ký / "
                                                              "the query docId differs from the signed one")
        item = self._mine(auth, doc_id)
        if item is None:  # never a 200 with JSON: the SDK would store the JSON as the package
            refusal = p.Refusal(p.ErrorCode.NOT_FOUND, "Không tìm thấy gói tin / no such package")
            return 404, p.failure(refusal).to_bytes(), "application/json"
        return 200, item.body, "application/octet-stream"

    def _op_updateStatus(self, auth: p.Authenticated, body: bytes, headers: list[tuple[str, str]],
                         query: dict[str, str]) -> p.Answer:
        status = auth.param("status")
        if status not in ("done", "fail", "processing"):
            return _fail(p.Answer, p.ErrorCode.BAD_PARAMETER,
                         "status phải là done, fail hoặc processing / status must be done, fail or processing")
        item = self._mine(auth, auth.param("docid", "docId"))
        if item is None:
            return _fail(p.Answer, p.ErrorCode.NOT_FOUND, "Không tìm thấy gói tin / no such package")
        if item.status == "done" and status != "done":
            return _fail(p.Answer, p.ErrorCode.WRONG_STATE, "Gói tin đã nhận xong / the package was received already")
        item.status, item.updated = status, _now()
        return p.Answer()

    def _op_getSentEdocList(self, auth: p.Authenticated, body: bytes, headers: list[tuple[str, str]],
                            query: dict[str, str]) -> p.Answer:
        messagetype = auth.param("messagetype")
        wanted = auth.param("docId")
        items: list[p.SentEdoc] = []
        for s in self.sent.values():
            if s.system != auth.system_id or (messagetype and s.message_type != messagetype):
                continue
            if wanted and wanted != s.doc_id:
                continue
            for code, receiver_doc in s.items.items():
                item = self.received[receiver_doc]
                business = self._business_status(s, code)
                items.append(p.SentEdoc(
                    senderDocId=s.doc_id, receiverDocId=receiver_doc, fromCode=s.from_code, toCode=code,
                    title=s.title, notation=s.notation, sentTime=s.sent_time,
                    receivedTime=item.updated if item.status == "done" else "", sendStatus=item.status,
                    sendStatusDesc=STATES[item.status], receiveStatus=business,
                    receiveStatusDesc=f"Trạng thái {business} / status {business}" if business else "",
                    serviceType=SERVICE_TYPE, messageType=s.message_type,  # type: ignore[arg-type]
                ))
        return p.SentListAnswer(data=items)

    def _business_status(self, sent: Sent, recipient: str) -> str:
        """The last StatusCode `recipient` sent through the axis about this document."""
        code = ""
        for other in self.sent.values():
            if other.message_type != "status" or other.from_code != recipient or other.document_id != sent.document_id:
                continue
            root = etree.fromstring(self.received[next(iter(other.items.values()))].body)
            code = _text(root, "StatusCode", "MessageHeader") or _text(root, "StatusCode", "Status") or code
        return code

    def _op_getAgenciesList(self, auth: p.Authenticated, body: bytes, headers: list[tuple[str, str]],
                            query: dict[str, str]) -> p.Answer:
        return p.AgenciesAnswer(data=[
            p.Agency(id=str(i), pid="", code=code, name=self.names.get(code, code), mail="")
            for i, code in enumerate(sorted(self.agencies), 1)
        ])

    @contextmanager
    def serve(self) -> Iterator[FakeAxis]:
        """Listen on 127.0.0.1 on a free port (`self.url`) until the block ends."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="fake-axis", daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/XrdAdapter/adapter"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)


class Drop(Exception):
    """Close the connection without answering (a fault)."""


def _answer_type(operation: str) -> type[p.Answer]:
    return {"sendEdoc": p.SendEdocAnswer, "getEdoc": p.GetEdocAnswer, "getReceivedEdocList": p.ReceivedListAnswer,
            "getSentEdocList": p.SentListAnswer, "getAgenciesList": p.AgenciesAnswer}.get(operation, p.Answer)


def _fail(answer: type[p.Answer], code: p.ErrorCode, desc: str) -> p.Answer:
    return p.failure(p.Refusal(code, desc), answer)


def _text(root: etree._Element, name: str, parent: str) -> str:
    for el in root.iter(f"{NS}{name}"):
        up = el.getparent()
        if up is not None and etree.QName(up).localname == parent:
            return (el.text or "").strip()
    return ""


def _recipients(root: etree._Element, messagetype: str) -> tuple[str, ...]:
    if messagetype == "status":
        code = _text(root, "OrganId", "ResponseFor")
        return (code,) if code else ()
    return tuple((el.text or "").strip() for el in root.iter(f"{NS}OrganId")
                 if el.getparent() is not None and etree.QName(el.getparent()).localname == "To")


def _multipart_file(body: bytes, content_type: str) -> bytes | None:
    """The `file_doc` part of a multipart body (other clients than the SDK send this)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if m is None:
        return None
    for part in body.split(b"--" + m.group(1).encode("latin-1")):
        head, sep, rest = part.partition(b"\r\n\r\n")
        if sep and b'name="file_doc"' in head:
            return rest.removesuffix(b"\r\n")
    return None


def _handler(axis: FakeAxis) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, and `Expect: 100-continue` answered at once

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()  # headers and body go out as two writes: without this, Nagle and the
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # peer's delayed ACK add 40 ms

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                status, out, content_type = axis.handle(self.command, self.path, list(self.headers.items()), body)
            except Drop:
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_POST = _serve
        do_GET = _serve

    return Handler


@contextmanager
def fake_axis() -> Iterator[FakeAxis]:
    with FakeAxis().serve() as axis:
        yield axis
