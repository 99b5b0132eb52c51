"""Limits: the parser's (configurable), the hard bounds of the values the hub carries out of a
package (fixed: headers and ledger columns are sized from them), and the advisory lengths of
domain.md §1.10. Defaults fit real traffic with a wide margin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field

MiB = 1024 * 1024


class ParseLimits(BaseModel):
    """Bounds that keep one hostile package from taking the hub's memory or time.

    Markup (everything except attachment payloads) is small in every real package; bounding
    it separately lets attachments be large while a 20 MB text node in a header is refused
    before libxml2 ever builds it.
    """

    model_config = ConfigDict(frozen=True)

    max_package_bytes: int = Field(160 * MiB, gt=0)
    max_markup_bytes: int = Field(4 * MiB, gt=0)
    max_depth: int = Field(32, gt=0, le=255)
    max_elements: int = Field(20_000, gt=0)
    max_attachments: int = Field(200, gt=0)
    max_attachment_bytes: int = Field(100 * MiB, gt=0)
    max_unzipped_bytes: int = Field(200 * MiB, gt=0)
    max_zip_ratio: int = Field(200, gt=0)
    memory_spool_bytes: int = Field(1 * MiB, ge=0)
    #: recipients per package (LIENTHONG_MAX_RECIPIENTS); never above FIELD_BOUNDS' 300, which
    #: keeps every To of a copy inside one lt-recipients header
    max_recipients: int = Field(300, gt=0, le=300)


class Bounded(StrEnum):
    """The values the hub carries *out* of a package: into an AMQP header of every copy, into a
    ledger column, or both. Each has one hard bound in `FIELD_BOUNDS`."""

    DOCUMENT_ID = "DocumentId"
    ORGAN_ID = "OrganId"
    SUBJECT = "Subject"
    DESCRIPTION = "Description"
    STAFF = "Staff"
    ATTACHMENT_NAME = "AttachmentName"
    RECIPIENTS = "To"


@dataclass(frozen=True, slots=True)
class FieldBound:
    """`limit` characters (for RECIPIENTS: elements); `carried` says where the value travels, so
    whoever widens a bound knows which header budget and which column must follow."""

    limit: int
    elements: str
    carried: str


#: The one table of hard bounds. A value past its bound is refused at validation
#: (FIELD_TOO_LONG, error): no published copy can then outgrow the broker's frame (the header
#: budget test adds every header up at these bounds) and no value a ledger column (the ledger's
#: column widths are taken from here, and a test checks them on SQLite and PostgreSQL).
#: Real traffic sits far below: DocumentIds of 36-76 characters, 13-character organ codes,
#: subjects of a few hundred characters, a few dozen recipients.
FIELD_BOUNDS: Mapping[Bounded, FieldBound] = MappingProxyType({
    Bounded.DOCUMENT_ID: FieldBound(
        255, "MessageHeader/DocumentId, Bussiness/DocumentId, ResponseFor/DocumentId (status)",
        "headers lt-document-id, lt-target; ledger document_id, target_document_id"),
    Bounded.ORGAN_ID: FieldBound(
        32, "From/OrganId, To/OrganId, ResponseFor/OrganId (status)",
        "headers lt-sender, lt-recipients, lt-forwarded; ledger from_organ, recipient_organ, …"),
    Bounded.SUBJECT: FieldBound(2000, "MessageHeader/Subject", "ledger subject (text)"),
    Bounded.DESCRIPTION: FieldBound(2000, "Description (status)", "ledger description (text)"),
    Bounded.STAFF: FieldBound(500, "StaffInfo/Staff (status)", "ledger staff (text)"),
    Bounded.ATTACHMENT_NAME: FieldBound(
        500, "Attachment/AttachmentName", "header lt-verdict (percent-encoded); ledger verdict attachment"),
    Bounded.RECIPIENTS: FieldBound(300, "MessageHeader/To (count)", "header lt-recipients (one copy may carry all)"),
})


def bound(field: Bounded) -> int:
    return FIELD_BOUNDS[field].limit


def within(field: Bounded, value: str | None) -> str | None:
    """`value` if it is non-empty and within its bound, else None: for echoing what a refused
    package claimed (its DocumentId, its From) without carrying an oversized value further."""
    if not value or len(value) > bound(field):
        return None
    return value


# domain.md §1.10 (one hub's validator): advisory lengths, warnings until the QCVN text is checked.
ADVISORY_LENGTHS: Mapping[str, int] = MappingProxyType({
    "OrganName": 200, "OrganAdd": 500, "OrganizationInCharge": 500, "Email": 100,
    "Telephone": 20, "Fax": 20, "CodeNumber": 11, "CodeNotation": 30, "Place": 50,
    "Subject": 500, "Content": 500, "TypeName": 100, "SphereOfPromulgation": 100,
    "TyperNotation": 10, "AttachmentName": 500, "ToPlaces/Place": 150,
})
