"""Packages for router tests: the canonical sample re-addressed, rendered in the SDK layout."""

from __future__ import annotations

from datetime import date, datetime

from schemas.codes import BussinessDocType, Priority, StatusCode
from schemas.models import (
    Bussiness,
    DocumentCode,
    EdocPackage,
    Organization,
    ResponseFor,
    StaffInfo,
    StatusHeader,
    StatusPackage,
    TraceHeader,
    TraceHeaderList,
)
from schemas.parse import parse_package
from schemas.render import render_edoc, render_status
from tests.support.samples import EDOC_1, sample

_TEMPLATE = parse_package(sample(EDOC_1))
_PDF = _TEMPLATE.attachments[0].read()
DAY = date(2025, 3, 14)


def make_edoc(
    sender: str,
    recipients: list[str],
    number: int,
    *,
    notation: str = "UBND-VP",
    doc_type: BussinessDocType = BussinessDocType.NEW,
    target: str | None = None,
    priority: Priority = Priority.NORMAL,
    subject: str = "V/v thử nghiệm liên thông văn bản",
    day: date = DAY,
    doc_id: str | None = None,
    attachment_name: str | None = None,
) -> bytes:
    """`doc_id` replaces the DocumentId built from sender, day and code (e.g. an opaque one)."""
    base = _TEMPLATE.package
    assert isinstance(base, EdocPackage)
    h = base.header
    code = DocumentCode(code_number=str(number), code_notation=notation)
    header = h.model_copy(update={
        "from_": Organization(organ_id=sender, organ_name=f"Cơ quan {sender}"),
        "to": tuple(Organization(organ_id=r, organ_name=f"Cơ quan {r}") for r in recipients),
        "document_id": doc_id if doc_id is not None else f"{sender},{day:%Y/%m/%d},{code}",
        "code": code,
        "promulgation_info": h.promulgation_info.model_copy(update={"promulgation_date": day}),
        "due_date": None,
        "subject": subject,
        "other_info": h.other_info.model_copy(update={"priority": priority}),
    })
    trace = TraceHeaderList(
        trace_headers=(TraceHeader(organ_id=sender, timestamp=datetime(day.year, day.month, day.day, 9, 0, 0)),),
        bussiness=Bussiness(doc_type=doc_type, reason=doc_type.vi, document_id=target),
    )
    attachments = base.attachments
    if attachment_name is not None:
        attachments = (attachments[0].model_copy(update={"attachment_name": attachment_name}), *attachments[1:])
    pkg = base.model_copy(update={"header": header, "trace": trace, "signature_present": False,
                                  "attachments": attachments})
    return render_edoc(pkg, {pkg.attachments[0].content_id: _PDF})


def document_id(sender: str, number: int, notation: str = "UBND-VP", day: date = DAY) -> str:
    return f"{sender},{day:%Y/%m/%d},{number}/{notation}"


def make_status(
    reporter: str, about_sender: str, about_number: int, code: StatusCode, *, notation: str = "UBND-VP",
    minute: int = 0,
    about_document_id: str | None = None,
    description: str | None = None,
    staff: str = "Nguyễn Thị Văn Thư",
) -> bytes:
    pkg = StatusPackage(
        header=StatusHeader(
            from_=Organization(organ_id=reporter, organ_name=f"Cơ quan {reporter}"),
            response_for=ResponseFor(
                organ_id=about_sender, code=f"{about_number}/{notation}", promulgation_date=DAY,
                document_id=about_document_id or document_id(about_sender, about_number, notation),
            ),
            staff_info=StaffInfo(department="Văn thư", staff=staff),
            status_code=code,
            description=f"Trạng thái {code.value}: {code.vi}" if description is None else description,
            timestamp=datetime(2025, 3, 15, 8, minute, 0),
        )
    )
    return render_status(pkg)
