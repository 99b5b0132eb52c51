"""Every shared sample is valid, and each real-traffic variant parses to the canonical model."""

from __future__ import annotations

import io
import zipfile

import pytest

from schemas.codes import BussinessDocType, Priority, StatusCode
from schemas.findings import Code
from schemas.models import EdocPackage, StatusPackage
from schemas.parse import parse_package, validate_package
from tests.support.samples import ALL, EDOC_1, EDOC_2, EDOC_3, STATUS_1, replace_once, sample, sample_text

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ALL)
def test_every_sample_is_valid_without_errors(name: str) -> None:
    report = validate_package(sample(name))
    assert report.valid, report.findings
    assert report.errors == []


def test_sample_1_model_fields() -> None:
    pkg = parse_package(sample(EDOC_1)).package
    assert isinstance(pkg, EdocPackage)
    h = pkg.header
    assert h.from_.organ_id == "000.00.00.H41"
    assert h.from_.organ_name == "Ủy ban nhân dân tỉnh Nghệ An"
    assert [o.organ_id for o in h.to] == ["000.00.13.H41"]
    assert h.document_id == "000.00.00.H41,2025/03/14,1234/UBND-KGVX"
    assert str(h.code) == "1234/UBND-KGVX"
    assert h.document_type.type_name == "Công văn"
    assert h.signer_info.full_name == "Nguyễn Văn Mẫu"
    assert h.due_date is not None and h.due_date.isoformat() == "2025-03-28"
    assert h.other_info.priority is Priority.NORMAL
    assert h.other_info.appendixes == ("Danh sách đơn vị cần rà soát",)
    assert h.to_places == ("Như trên", "Lưu: VT, KGVX")
    assert pkg.doc_type is BussinessDocType.NEW
    assert pkg.signature_present
    assert [a.detected_type for a in pkg.attachments] == ["pdf"]
    assert pkg.references[0].cid == pkg.attachments[0].cid


def test_reply_and_priority_samples() -> None:
    reply = parse_package(sample(EDOC_3)).package
    assert isinstance(reply, EdocPackage)
    assert [r.document_id for r in reply.header.response_for] == ["000.00.00.H41,2025/03/14,1234/UBND-KGVX"]
    urgent = parse_package(sample(EDOC_2)).package
    assert isinstance(urgent, EdocPackage)
    assert urgent.priority is Priority.URGENT


def test_status_sample_routes_to_response_for() -> None:
    pkg = parse_package(sample(STATUS_1)).package
    assert isinstance(pkg, StatusPackage)
    assert pkg.header.status_code is StatusCode.ACCEPTED
    assert pkg.recipients == ("000.00.00.H41",)
    assert pkg.document_id == "000.00.00.H41,2025/03/14,1234/UBND-KGVX"


# --- variants seen in real traffic ------------------------------------------------------------

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"


def _model(data: str | bytes) -> EdocPackage | StatusPackage:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return parse_package(raw).package


def test_prefix_declared_on_root_and_other_prefix_name() -> None:
    text = sample_text(EDOC_1)
    variant = text.replace(f'<edXML xmlns="{NS}">', f'<edXML xmlns="{NS}" xmlns:q="{NS}">', 1)
    variant = variant.replace(f' xmlns:edXML="{NS}"', "", 1).replace("edXML:", "q:")
    assert _model(variant) == _model(text)


def test_no_prefixes_at_all() -> None:
    text = sample_text(EDOC_1)
    variant = text.replace(f' xmlns:edXML="{NS}"', "", 1).replace("edXML:", "")
    assert _model(variant) == _model(text)


def test_status_container_variant() -> None:
    text = sample_text(STATUS_1)
    variant = text.replace("<edXML:MessageHeader>", "<edXML:Status>").replace("</edXML:MessageHeader>", "</edXML:Status>")
    assert _model(variant) == _model(text)


def test_business_spelling_variant() -> None:
    text = sample_text(EDOC_1)
    variant = text.replace("<edXML:Bussiness>", "<edXML:Business>").replace("</edXML:Bussiness>", "</edXML:Business>")
    assert _model(variant) == _model(text)


def test_signature_without_xmldsig_namespace() -> None:
    text = sample_text(EDOC_1)
    variant = replace_once(text, '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">', "<Signature>")
    assert _model(variant) == _model(text)


def test_element_order_variant() -> None:
    text = sample_text(EDOC_1)
    subject = "<edXML:Subject>V/v triển khai gửi, nhận văn bản điện tử qua hệ thống quản lý văn bản và điều hành</edXML:Subject>"
    moved = replace_once(text, subject, "")
    moved = replace_once(moved, "<edXML:SteeringType>1</edXML:SteeringType>", subject + "<edXML:SteeringType>1</edXML:SteeringType>")
    assert validate_package(moved.encode()).valid
    assert _model(moved) == _model(text)


def test_legacy_date_is_same_model_with_a_warning() -> None:
    text = sample_text(EDOC_1)
    variant = replace_once(text, "<edXML:DueDate>2025/03/28</edXML:DueDate>", "<edXML:DueDate>28/03/2025</edXML:DueDate>")
    report = validate_package(variant.encode())
    assert report.valid
    assert [w.code for w in report.warnings] == [Code.DATE_LEGACY_FORMAT]
    assert report.warnings[0].path.endswith("/MessageHeader/DueDate")
    assert report.parsed is not None and report.parsed.package == _model(text)


def test_opaque_document_id_is_a_warning() -> None:
    text = sample_text(EDOC_1)
    variant = text.replace("000.00.00.H41,2025/03/14,1234/UBND-KGVX", "6f1c2e0a-8d3b-4f7e-9a51-2c4d8e9b0a11")
    report = validate_package(variant.encode())
    assert report.valid
    assert Code.DOCUMENT_ID_OPAQUE in [w.code for w in report.warnings]


def test_vendor_extension_passes_through_untouched() -> None:
    text = sample_text(EDOC_1)
    variant = replace_once(text, "<edXML:SteeringType>", "<edXML:ApplicationType>iNet</edXML:ApplicationType><edXML:SteeringType>")
    pkg = _model(variant)
    assert isinstance(pkg, EdocPackage)
    assert len(pkg.header.extras) == 1 and "ApplicationType" in pkg.header.extras[0] and "iNet" in pkg.header.extras[0]
    assert pkg.model_copy(update={"header": pkg.header.model_copy(update={"extras": ()})}) == _model(text)


def test_zipped_attachment_like_the_java_sdk() -> None:
    canonical = parse_package(sample(EDOC_1))
    pdf = canonical.attachments[0].read()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a3f0c2d1-0000-4000-8000-000000000001.pdf", pdf)
    import base64

    text = sample_text(EDOC_1)
    start = text.index("<ContentTransferEncoded>") + len("<ContentTransferEncoded>")
    end = text.index("</ContentTransferEncoded>")
    variant = text[:start] + base64.b64encode(buf.getvalue()).decode() + text[end:]
    variant = variant.replace("<ContentType>application/pdf</ContentType>", "<ContentType>application/zip</ContentType>")
    variant = variant.replace("<edXML:ContentType>application/pdf</edXML:ContentType>", "<edXML:ContentType>application/zip</edXML:ContentType>")
    parsed = parse_package(variant.encode())
    pkg = parsed.package
    assert isinstance(pkg, EdocPackage) and isinstance(canonical.package, EdocPackage)
    att = pkg.attachments[0]
    assert att.detected_type == "zip"
    assert att.zip_entries == (("a3f0c2d1-0000-4000-8000-000000000001.pdf", len(pdf)),)
    assert pkg.header == canonical.package.header
    assert pkg.trace == canonical.package.trace


def test_cid_prefix_is_optional_on_attachments() -> None:
    text = sample_text(EDOC_1)
    variant = replace_once(
        text,
        "<ContentId>cid:9886bc59-c2a8-47a6-bf99-6fe0233d2ac3</ContentId>",
        "<ContentId>9886bc59-c2a8-47a6-bf99-6fe0233d2ac3</ContentId>",
    )
    assert validate_package(variant.encode()).valid


def test_streamed_file_and_chunks_give_the_same_result() -> None:
    data = sample(EDOC_1)
    whole = parse_package(data)
    chunked = parse_package(data[i : i + 7] for i in range(0, len(data), 7))
    assert chunked.package == whole.package
    assert chunked.digest == whole.digest
    assert chunked.attachments[0].read() == whole.attachments[0].read()
