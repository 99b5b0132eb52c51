"""Frozen models of edoc and status packages (domain.md §1–2).

Every element of the standard has a field; vendor elements the standard does not know are
kept verbatim in `extras` (serialised XML) so nothing the sender wrote is lost. Dates are
`datetime.date` whatever format they arrived in, so legacy variants compare equal to the
canonical form.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from schemas.codes import BussinessDocType, Priority, StatusCode
from schemas.organ import OrganId


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


M = TypeVar("M", bound=BaseModel)
_REQUIRED = object()
_TEMPLATES: dict[type[BaseModel], dict[str, Any]] = {}
_set = object.__setattr__
_new = object.__new__  # BaseModel has no __new__ of its own
# BaseModel's slots, set through their descriptors (object.__setattr__ would look them up by name)
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def made(cls: type[M], /, **values: Any) -> M:
    """A model of values the builder has already read, checked and typed, without pydantic-core
    validating them again: the same instance `cls(**values)` gives (fields in their order, the
    defaults filled in), at a third of the cost. Only for schemas/build.py, whose models the
    property tests compare with validated ones; everyone else uses the constructor."""
    template = _TEMPLATES.get(cls)
    if template is None:
        template = _TEMPLATES[cls] = {
            name: _REQUIRED if f.is_required() else f.get_default(call_default_factory=True)
            for name, f in cls.model_fields.items()
        }
    fields = template.copy()
    fields.update(values)  # existing keys keep their place: the field order stays
    assert len(fields) == len(template), (cls, values)  # a misspelt field; a missing one: the tests
    m = _new(cls)
    _set(m, "__dict__", fields)
    _set_fields_set(m, set(values))
    _set_extra(m, None)
    _set_private(m, None)
    return m


Extras = tuple[str, ...]


class Organization(Frozen):
    organ_id: str
    organization_in_charge: str = ""
    organ_name: str = ""
    organ_add: str = ""
    email: str = ""
    telephone: str = ""
    fax: str = ""
    website: str = ""
    extras: Extras = ()

    @property
    def organ(self) -> OrganId | None:
        return OrganId.parse(self.organ_id) if OrganId.is_valid(self.organ_id) else None


class DocumentCode(Frozen):
    code_number: str
    code_notation: str
    extras: Extras = ()

    def __str__(self) -> str:
        return f"{self.code_number}/{self.code_notation}"


class PromulgationInfo(Frozen):
    place: str = ""
    promulgation_date: date
    extras: Extras = ()


class DocumentType(Frozen):
    type: int
    type_detail: int | None = None
    type_name: str = ""
    extras: Extras = ()


class SignerInfo(Frozen):
    competence: str = ""
    position: str = ""
    full_name: str
    extras: Extras = ()


class OtherInfo(Frozen):
    priority: Priority = Priority.NORMAL
    sphere_of_promulgation: str | None = None
    typer_notation: str | None = None
    promulgation_amount: int | None = None
    page_amount: int | None = None
    direction: bool | None = None
    appendixes: tuple[str, ...] | None = None
    extras: Extras = ()


class ResponseFor(Frozen):
    organ_id: str
    code: str
    promulgation_date: date
    document_id: str
    extras: Extras = ()


class StaffInfo(Frozen):
    department: str | None = None
    staff: str | None = None
    mobile: str | None = None
    email: str | None = None
    extras: Extras = ()


class TraceHeader(Frozen):
    organ_id: str
    timestamp: datetime
    extras: Extras = ()


class Receiver(Frozen):
    organ_id: str
    receiver_type: int  # 0 removed from the recipients, 1 added
    extras: Extras = ()


class BussinessDocumentInfo(Frozen):
    document_info: str = "0"
    document_receiver: str = "0"
    receivers: tuple[Receiver, ...] | None = None
    extras: Extras = ()


class ReplacementInfo(Frozen):
    document_id: str
    organ_ids: tuple[str, ...] = ()
    extras: Extras = ()


class Bussiness(Frozen):
    doc_type: BussinessDocType = BussinessDocType.NEW
    reason: str = ""
    document_id: str | None = None
    paper: int | None = None
    staff_info: StaffInfo | None = None
    document_info: BussinessDocumentInfo | None = None
    replacements: tuple[ReplacementInfo, ...] | None = None
    extras: Extras = ()

    @property
    def target_document_id(self) -> str | None:
        """Only kinds 1–3 name a target; samples put junk here for kind 0, so ignore it."""
        return self.document_id if self.doc_type is not BussinessDocType.NEW else None


class TraceHeaderList(Frozen):
    trace_headers: tuple[TraceHeader, ...] = ()
    bussiness: Bussiness | None = None
    extras: Extras = ()


class MessageHeader(Frozen):
    from_: Organization
    to: tuple[Organization, ...]
    document_id: str
    code: DocumentCode
    promulgation_info: PromulgationInfo
    document_type: DocumentType
    subject: str
    content: str = ""
    signer_info: SignerInfo
    due_date: date | None = None
    other_info: OtherInfo = OtherInfo()
    response_for: tuple[ResponseFor, ...] = ()
    steering_type: int | None = None
    to_places: tuple[str, ...] | None = None
    extras: Extras = ()


class Reference(Frozen):
    content_id: str
    content_type: str = ""
    description: str = ""
    attachment_name: str = ""
    extras: Extras = ()

    @property
    def cid(self) -> str:
        return strip_cid(self.content_id)


class Digest:
    """The SHA-256 (hex) of an attachment's bytes: given, or measured when first asked for (the
    whole-bytes reader decodes an attachment on first use, schemas/payload.py). Compares and
    hashes as its value, so a parsed model equals one built from the same bytes."""

    __slots__ = ("_measure", "_value")

    def __init__(self, value: str | None = None, measure: Callable[[], str] | None = None) -> None:
        assert value is not None or measure is not None
        self._value = value
        self._measure = measure

    @property
    def value(self) -> str:
        if self._value is None:
            assert self._measure is not None
            self._value, self._measure = self._measure(), None
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Digest) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return repr(self.value)


class Attachment(Frozen):
    """Metadata plus what was measured while reading; the bytes live in the payload.

    `sha256` is a property over `digest` (a `Digest`, possibly measured on first use)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    content_id: str
    attachment_name: str = ""
    description: str = ""
    content_type: str = ""
    format: str | None = None
    size: int
    digest: Digest
    detected_type: str
    zip_entries: tuple[tuple[str, int], ...] | None = None
    extras: Extras = ()

    @property
    def sha256(self) -> str:
        return self.digest.value

    @property
    def cid(self) -> str:
        return strip_cid(self.content_id)


class EdocPackage(Frozen):
    kind: Literal["edoc"] = "edoc"
    header: MessageHeader
    trace: TraceHeaderList | None = None
    signature_present: bool = False
    references: tuple[Reference, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    extras: Extras = ()

    @property
    def document_id(self) -> str:
        return self.header.document_id

    @property
    def doc_type(self) -> BussinessDocType:
        b = self.trace.bussiness if self.trace else None
        return b.doc_type if b else BussinessDocType.NEW

    @property
    def target_document_id(self) -> str | None:
        """The document a revoke/update/replace changes: `Bussiness/DocumentId` when present,
        otherwise the package's own DocumentId (the vendor SDK's samples carry the original's
        DocumentId as their own, domain.md §1.8, §2.4). None for a new document."""
        b = self.trace.bussiness if self.trace else None
        if b is None or b.doc_type is BussinessDocType.NEW:
            return None
        return b.target_document_id or self.header.document_id or None

    @property
    def priority(self) -> Priority:
        return self.header.other_info.priority

    @property
    def sender(self) -> str:
        return self.header.from_.organ_id

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(o.organ_id for o in self.header.to)


class StatusHeader(Frozen):
    from_: Organization
    response_for: ResponseFor
    staff_info: StaffInfo | None = None
    status_code: StatusCode
    description: str = ""
    timestamp: datetime
    extras: Extras = ()


class StatusPackage(Frozen):
    kind: Literal["status"] = "status"
    header: StatusHeader
    trace: TraceHeaderList | None = None
    signature_present: bool = False
    extras: Extras = ()

    @property
    def document_id(self) -> str:
        """The document the status is about (a status has no DocumentId of its own)."""
        return self.header.response_for.document_id

    @property
    def sender(self) -> str:
        return self.header.from_.organ_id

    @property
    def recipients(self) -> tuple[str, ...]:
        """A status travels to the sender of the original document."""
        return (self.header.response_for.organ_id,)

    @property
    def priority(self) -> Priority:
        return Priority.NORMAL


Package = EdocPackage | StatusPackage


def strip_cid(value: str) -> str:
    v = value.strip()
    return v[4:] if v.lower().startswith("cid:") else v
