"""The `XroadVnpt-*` HMAC scheme of the national axis, exactly as the vendor SDK speaks it.

Why this module is picky (domain.md §7.6, verified on the wire against the SDK):

* every request parameter travels as a header `XroadVnpt-<key>`; the authoritative copy is the
  signed JSON in `XroadVnpt-sign-header` — read parameters from it with their exact key case,
  because an SDK object piles up parameters (a getEdoc may carry both `docId` and `docid`), and
  HTTP header names are case-insensitive so the plain headers cannot tell them apart;
* `XroadVnpt-hash-header` is the lowercase hex HMAC-SHA256 of the exact bytes of the sign-header
  value, keyed with the secret's UTF-8 bytes;
* the timestamp is set once per SDK object and never refreshed: it is never checked for age;
* `hash-file` is SHA-256 of the body without its trailing `\\r\\n`, in hex with no zero padding
  per byte (`0a` → `a`); other clients pad it, so both forms are accepted;
* answers always carry `status`, `ErrorCode` and `ErrorDesc` (the SDK crashes its callers
  otherwise), as ASCII-only JSON.

`Signer` is the client side (the national-axis client, the tests' SDK double), `verify` the
server side (the hub's axis-compatible API). Outcomes are values: `verify` returns either an
`Authenticated` or a `Refusal` carrying the axis error code and a bilingual description.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PREFIX = "XroadVnpt-"
VERSION = "3.0.201608"
USER_AGENT = "JAVASDKAgent/1.0.0 XRoad/VPCP"

SIGN_HEADER = PREFIX + "sign-header"
SIGN_HEADER_KEY = PREFIX + "sign-header-key"
HASH_HEADER = PREFIX + "hash-header"
SYSTEM_ID = "systemid"
TIMESTAMP = "timestamp"
CONTENT_TYPE = "Content-Type"
HASH_FILE = "hash-file"

#: the SDK appends this to every sendEdoc body (it starts a multipart request and never writes a boundary)
BODY_TRAILER = b"\r\n"

_HEX64 = frozenset("0123456789abcdef")


# ---------------------------------------------------------------------------------------------
# Primitives


def hash_file(data: bytes) -> str:
    """The SDK's `hash-file`: SHA-256 hex with each byte written without zero padding."""
    return "".join(format(b, "x") for b in hashlib.sha256(data).digest())


def hash_file_padded(data: bytes) -> str:
    """The ordinary SHA-256 hex other clients send as `hash-file`."""
    return hashlib.sha256(data).hexdigest()


def hash_header(secret: str, sign_header: bytes) -> str:
    """HMAC-SHA256 of the exact sign-header bytes, keyed with the secret's UTF-8 bytes, lowercase hex."""
    return hmac.new(secret.encode("utf-8"), sign_header, hashlib.sha256).hexdigest()


def sdk_timestamp(moment: datetime) -> str:
    """`ddMMyyyy'T'HHmmss+SSSS`: local time, no zone, milliseconds padded to four digits."""
    return moment.strftime("%d%m%YT%H%M%S") + f"+{moment.microsecond // 1000:04d}"


def sign_header_json(params: Sequence[tuple[str, str]]) -> bytes:
    """The compact JSON object `{"XroadVnpt-<key>":"<value>",…}` in parameter order, ASCII only
    (`/` is not escaped, as in the SDK's own output)."""
    body = ",".join(
        f"{json.dumps(PREFIX + key, ensure_ascii=True)}:{json.dumps(value, ensure_ascii=True)}" for key, value in params
    )
    return ("{" + body + "}").encode("ascii")


def package_from_body(body: bytes, declared: str) -> bytes | None:
    """The package a sendEdoc body carries, or None when `declared` (the signed `hash-file`)
    matches neither the body without its SDK trailer nor the whole body, in either hex form."""
    declared = declared.strip().lower()
    candidates = [body[: -len(BODY_TRAILER)], body] if body.endswith(BODY_TRAILER) else [body]
    for candidate in candidates:
        if declared in (hash_file(candidate), hash_file_padded(candidate)):
            return candidate
    return None


# ---------------------------------------------------------------------------------------------
# Client side


@dataclass(slots=True)
class Signer:
    """Signs requests the way one SDK object does (`VnptProperties(endpoint, systemId, secret)`).

    `pile_up=True` reproduces the SDK's never-cleared parameter map (each call repeats every
    parameter sent before on this object, later values replacing earlier ones in place); the
    timestamp is frozen at construction unless given per call. Our own national-axis client uses
    `pile_up=False`: the axis accepts both, and a clean map is easier to read in its logs.
    """

    system_id: str
    secret: str
    #: the SDK sends local time without a zone
    timestamp: str = field(default_factory=lambda: sdk_timestamp(datetime.now()))
    pile_up: bool = True
    _piled: dict[str, str] = field(default_factory=dict, repr=False)

    def params(
        self, params: Iterable[tuple[str, str]], content_type: str, late: Iterable[tuple[str, str]] = ()
    ) -> list[tuple[str, str]]:
        """The ordered parameter map of one call: systemid, (piled) caller parameters, timestamp,
        Content-Type, then `late` ones (the SDK adds updateStatus's `status` after the base)."""
        current: dict[str, str] = dict(self._piled) if self.pile_up else {}
        merged: dict[str, str] = {SYSTEM_ID: self.system_id}
        merged.update(current)
        for key, value in params:
            merged[key] = value
        merged[TIMESTAMP] = self.timestamp
        merged[CONTENT_TYPE] = content_type
        for key, value in late:
            merged[key] = value
        if self.pile_up:
            self._piled = {k: v for k, v in merged.items() if k not in (SYSTEM_ID, TIMESTAMP, CONTENT_TYPE)}
        return list(merged.items())

    def headers(
        self, params: Iterable[tuple[str, str]], content_type: str, late: Iterable[tuple[str, str]] = ()
    ) -> list[tuple[str, str]]:
        """The HTTP headers of one call, in the SDK's order (a list: piled-up `docId` and `docid`
        are two headers whose names differ only in case)."""
        ordered = self.params(params, content_type, late)
        signed = sign_header_json(ordered)
        out = [(PREFIX + key, value) for key, value in ordered]
        out.insert(0, (CONTENT_TYPE, content_type))
        out += [
            (SIGN_HEADER_KEY, ";".join(key for key, _ in ordered)),
            (SIGN_HEADER, signed.decode("ascii")),
            (HASH_HEADER, hash_header(self.secret, signed)),
            ("User-Agent", USER_AGENT),
            (PREFIX + "version", VERSION),
        ]
        return out

    def send_edoc(
        self, package: bytes, *, sender: str, messagetype: Literal["edoc", "status"], to: str | None = None
    ) -> tuple[list[tuple[str, str]], bytes]:
        """Headers and body of a sendEdoc as the SDK sends it: the raw package plus `\\r\\n`."""
        params = [
            ("servicetype", "eDoc"),
            ("messagetype", messagetype),
            (HASH_FILE, hash_file(package)),
            ("from", sender),
        ]
        if to is not None:
            params.append(("to", to))
        return self.headers(params, "application/octet-stream"), package + BODY_TRAILER


# ---------------------------------------------------------------------------------------------
# Server side


class ErrorCode(StrEnum):
    """Axis error codes. The national axis's own list is not public; the numbers follow the one
    provincial list known (domain.md §5.8: 10 file, 15 credentials, 18 recipient, 19 sender,
    20 internal, 22 edXML) and extend it where that list has no word."""

    OK = "0"
    INVALID_FILE = "10"
    MISSING_PARAMETER = "11"
    HASH_FILE_MISMATCH = "12"
    BAD_PARAMETER = "13"
    MALFORMED_SIGNATURE = "14"
    WRONG_CREDENTIALS = "15"
    NOT_FOUND = "17"
    RECIPIENT_UNKNOWN = "18"
    SENDER_NOT_ALLOWED = "19"
    INTERNAL = "20"
    NOT_CONFORMING = "22"
    HUB_UNAVAILABLE = "24"
    UNKNOWN_OPERATION = "25"
    WRONG_STATE = "26"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the hub will not serve; `desc` is the bilingual ErrorDesc (no internals)."""

    code: ErrorCode
    desc: str


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A request whose signature verified: who sent it and its parameters exactly as signed.

    `params` keeps exact key case (`docId` and `docid` are different keys); `fingerprint` is
    the HMAC of the signed parameters, the idempotency key of a byte-identical SDK re-send."""

    system_id: str
    params: Mapping[str, str]
    fingerprint: str
    timestamp: str

    def param(self, *names: str) -> str | None:
        """The first of `names` present (in that order of preference), exact case."""
        for name in names:
            value = self.params.get(name)
            if value is not None:
                return value
        return None


def _refuse(code: ErrorCode, vi: str, en: str) -> Refusal:
    return Refusal(code, f"{vi} / {en}")


def _header_values(headers: Iterable[tuple[bytes | str, bytes | str]], name: str) -> list[bytes]:
    wanted = name.lower()
    out: list[bytes] = []
    for key, value in headers:
        k = key.decode("latin-1") if isinstance(key, bytes) else key
        if k.lower() == wanted:
            out.append(value if isinstance(value, bytes) else value.encode("latin-1"))
    return out


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(key)
        seen[key] = value
    return seen


def verify(
    headers: Iterable[tuple[bytes | str, bytes | str]], secret_of: Callable[[str], str | None]
) -> Authenticated | Refusal:
    """Check the signed headers of one request; `secret_of(system_id)` gives the system's secret
    (None: no such system). Reads nothing but the signed JSON, so a forged plain header cannot
    change a parameter; a plain `XroadVnpt-systemid` that disagrees with the signed one is refused."""
    headers = list(headers)
    signed = _header_values(headers, SIGN_HEADER)
    given = _header_values(headers, HASH_HEADER)
    if len(signed) != 1 or len(given) != 1:
        return _refuse(
            ErrorCode.MALFORMED_SIGNATURE,
            "Thiếu hoặc lặp tiêu đề XroadVnpt-sign-header / XroadVnpt-hash-header",
            "XroadVnpt-sign-header and XroadVnpt-hash-header must each be present exactly once",
        )
    try:
        parsed = json.loads(signed[0].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError):
        return _refuse(
            ErrorCode.MALFORMED_SIGNATURE,
            "XroadVnpt-sign-header không phải một đối tượng JSON hợp lệ",
            "XroadVnpt-sign-header is not a valid JSON object (or repeats a key)",
        )
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        return _refuse(
            ErrorCode.MALFORMED_SIGNATURE,
            "XroadVnpt-sign-header phải là đối tượng JSON các chuỗi",
            "XroadVnpt-sign-header must be a JSON object of strings",
        )
    params = {k[len(PREFIX) :]: v for k, v in parsed.items() if k.startswith(PREFIX)}
    if len(params) != len(parsed):
        return _refuse(
            ErrorCode.MALFORMED_SIGNATURE,
            "Mọi khóa trong XroadVnpt-sign-header phải bắt đầu bằng XroadVnpt-",
            "every key of XroadVnpt-sign-header must start with XroadVnpt-",
        )
    system_id = params.get(SYSTEM_ID, "")
    if not system_id:
        return _refuse(
            ErrorCode.MISSING_PARAMETER,
            "Thiếu XroadVnpt-systemid trong phần được ký",
            "XroadVnpt-systemid is missing from the signed headers",
        )
    plain = _header_values(headers, PREFIX + SYSTEM_ID)
    if any(value.decode("latin-1") != system_id for value in plain):
        return _refuse(
            ErrorCode.WRONG_CREDENTIALS,
            "XroadVnpt-systemid không khớp với phần được ký",
            "XroadVnpt-systemid differs from the signed one",
        )
    secret = secret_of(system_id)
    mac = given[0].decode("latin-1").strip().lower()
    if secret is None or len(mac) != 64 or not set(mac) <= _HEX64:
        return _wrong_credentials(system_id)
    expected = hash_header(secret, signed[0])
    if not hmac.compare_digest(expected, mac):
        return _wrong_credentials(system_id)
    return Authenticated(system_id, params, expected, params.get(TIMESTAMP, ""))


def _wrong_credentials(system_id: str) -> Refusal:
    # One answer for an unknown system and a wrong secret: a caller learns nothing about which.
    return _refuse(
        ErrorCode.WRONG_CREDENTIALS,
        f"Sai systemid hoặc khóa bí mật (chữ ký XroadVnpt-hash-header không đúng cho {system_id})",
        f"wrong systemid or secret (the XroadVnpt-hash-header signature does not verify for {system_id})",
    )


# ---------------------------------------------------------------------------------------------
# Answers


class Answer(BaseModel):
    """Every axis answer: `status`, `ErrorCode` and `ErrorDesc` always present and non-null.
    Unknown fields are ignored when parsing (a tolerant reader of the real axis's answers)."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["OK", "FAIL"] = "OK"
    ErrorCode: str = "0"
    ErrorDesc: str = "Thành công / Success"

    def to_bytes(self) -> bytes:
        """ASCII-only JSON (non-ASCII as `\\u` escapes), as the SDK expects."""
        data = self.model_dump(mode="json", by_alias=True)
        return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")

    @property
    def ok(self) -> bool:
        return self.ErrorCode == ErrorCode.OK


class SendEdocAnswer(Answer):
    DocId: str = ""


class GetEdocAnswer(Answer):
    data: str = ""


class CountAnswer(Answer):
    count: int = 0


class ReceivedEdoc(BaseModel):
    """One item of getReceivedEdocList (`from` is a Python keyword: the field is `from_`)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    docId: str
    serviceType: str = "eDoc"
    messageType: Literal["edoc", "status"]
    created_time: str
    updated_time: str
    from_: str = Field(default="", alias="from")
    to: str = ""
    status: str
    status_desc: str


class SentEdoc(BaseModel):
    """One item of getSentEdocList: the transport (`sendStatus`) and business (`receiveStatus`) state."""

    model_config = ConfigDict(extra="ignore")

    senderDocId: str
    receiverDocId: str
    fromCode: str
    toCode: str
    title: str
    notation: str
    sentTime: str
    receivedTime: str
    sendStatus: str
    sendStatusDesc: str
    receiveStatus: str
    receiveStatusDesc: str
    serviceType: str = "eDoc"
    messageType: Literal["edoc", "status"] = "edoc"


class Agency(BaseModel):
    """One item of getAgenciesList."""

    model_config = ConfigDict(extra="ignore")

    id: str
    pid: str
    code: str
    name: str
    mail: str


class SyncUnit(Agency):
    """One item of getSynchronizeUnit: an agency with its sync fields."""

    version: int = 1
    centerCode: str = ""
    deleted: bool = False
    modifyDate: str = ""
    isAgency: bool = True


class SyncUnitsAnswer(Answer):
    data: list[SyncUnit] = Field(default_factory=list)


class ReceivedListAnswer(Answer):
    data: list[ReceivedEdoc] = Field(default_factory=list)


class SentListAnswer(Answer):
    data: list[SentEdoc] = Field(default_factory=list)


class AgenciesAnswer(Answer):
    data: list[Agency] = Field(default_factory=list)


def failure(refusal: Refusal, answer: type[Answer] = Answer) -> Answer:
    """The axis failure shape of `refusal`, in the answer type of the operation (so sendEdoc
    still carries `DocId: ""` and getEdoc `data: ""`)."""
    return answer(status="FAIL", ErrorCode=refusal.code.value, ErrorDesc=refusal.desc)
