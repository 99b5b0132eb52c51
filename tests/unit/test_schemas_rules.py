"""Each reason code, provoked by a minimal change to a valid sample, with its path and line.

Under the `strict` profile (full QCVN): the default profile's grading of the same findings is
held by tests/unit/test_schemas_profiles.py."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.findings import Code, Severity
from schemas.limits import ParseLimits
from schemas.parse import ValidationReport, validate_package
from schemas.policy import SecretPolicy, ValidationOptions
from schemas.profiles import Profile
from tests.support.samples import EDOC_1, EDOC_3, STATUS_1, replace_once, sample_text

pytestmark = pytest.mark.unit

MH = "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader"


STRICT = Profile.STRICT


def _check(text: str, options: ValidationOptions | None = None) -> ValidationReport:
    return validate_package(text.encode("utf-8"), options or ValidationOptions(profile=STRICT))


def _only(report: ValidationReport, code: Code) -> None:
    codes = [f.code for f in report.errors]
    assert code in codes, report.findings
    assert not report.valid


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    pos = -1
    for _ in range(nth):
        pos = text.index(needle, pos + 1)
    return text.count("\n", 0, pos) + 1


def test_messages_are_vietnamese_then_english() -> None:
    text = replace_once(sample_text(EDOC_1), "<edXML:Priority>0</edXML:Priority>", "<edXML:Priority>7</edXML:Priority>")
    f = _check(text).errors[0]
    vi, en = f.message.split(" / ", 1)
    assert "bảng mã" in vi and "code list" in en


def test_not_edxml_wrong_namespace() -> None:
    text = sample_text(EDOC_1).replace("http://www.mic.gov.vn/TBT/QCVN_102_2016", "urn:other")
    r = _check(text)
    assert [f.code for f in r.errors] == [Code.NOT_EDXML]
    assert "urn:other" in r.errors[0].message


def test_not_edxml_other_root() -> None:
    r = validate_package(b"<html><body/></html>")
    assert [f.code for f in r.errors] == [Code.NOT_EDXML]


def test_schema_violation_names_element_and_line() -> None:
    text = sample_text(EDOC_1)
    text = replace_once(text, "<edXML:Subject>", "<edXML:Subjct>").replace("</edXML:Subject>", "</edXML:Subjct>", 1)
    r = _check(text)
    _only(r, Code.SCHEMA_VIOLATION)
    f = r.errors[0]
    assert f.path.startswith(MH)
    assert "Subject" in f.message
    assert f.line is not None and f.line > 1


def test_organ_id_invalid_points_at_the_recipient() -> None:
    text = sample_text(EDOC_1)
    text = replace_once(text, "<edXML:OrganId>000.00.13.H41</edXML:OrganId>", "<edXML:OrganId>13.H41</edXML:OrganId>")
    r = _check(text)
    _only(r, Code.ORGAN_ID_INVALID)
    f = r.errors[0]
    assert f.path == f"{MH}/To[1]/OrganId"
    assert f.line == _line_of(text, "<edXML:OrganId>13.H41")


def test_second_recipient_path_is_indexed() -> None:
    text = sample_text(EDOC_1)
    start = text.index("<edXML:To>")
    end = text.index("</edXML:To>") + len("</edXML:To>")
    second = text[start:end].replace("000.00.13.H41", "000.00.14.H41X")
    text = text[:end] + second + text[end:]
    r = _check(text)
    assert [f.path for f in r.errors] == [f"{MH}/To[2]/OrganId"]


def test_recipient_missing_and_duplicate() -> None:
    text = sample_text(EDOC_1)
    start = text.index("<edXML:To>")
    end = text.index("</edXML:To>") + len("</edXML:To>")
    _only(_check(text[:start] + text[end:]), Code.RECIPIENT_MISSING)
    dup = _check(text[:end] + text[start:end] + text[end:])
    _only(dup, Code.RECIPIENT_DUPLICATE)
    assert dup.errors[0].path == f"{MH}/To[2]/OrganId"


def test_document_id_inconsistent_names_the_part() -> None:
    text = sample_text(EDOC_1).replace(
        "<edXML:DocumentId>000.00.00.H41,2025/03/14,1234/UBND-KGVX</edXML:DocumentId>",
        "<edXML:DocumentId>000.00.00.H41,2025/03/15,1234/UBND-KGVX</edXML:DocumentId>",
    )
    r = _check(text)
    _only(r, Code.DOCUMENT_ID_INCONSISTENT)
    assert "PromulgationDate" in r.errors[0].message
    assert r.errors[0].path == f"{MH}/DocumentId"


@pytest.mark.parametrize(
    ("old", "new", "path_end"),
    [
        ("<edXML:PromulgationDate>2025/03/14</edXML:PromulgationDate>", "<edXML:PromulgationDate>2025/02/30</edXML:PromulgationDate>", "/PromulgationInfo/PromulgationDate"),
        ("<edXML:DueDate>2025/03/28</edXML:DueDate>", "<edXML:DueDate>2025/03/01</edXML:DueDate>", "/DueDate"),
        ("<edXML:DueDate>2025/03/28</edXML:DueDate>", "<edXML:DueDate>tomorrow</edXML:DueDate>", "/DueDate"),
    ],
)
def test_date_invalid(old: str, new: str, path_end: str) -> None:
    r = _check(replace_once(sample_text(EDOC_1), old, new))
    _only(r, Code.DATE_INVALID)
    assert r.errors[0].path.endswith(path_end)


def test_promulgation_date_in_the_future() -> None:
    r = _check(sample_text(EDOC_1), ValidationOptions(today=date(2025, 3, 13), profile=STRICT))
    _only(r, Code.DATE_INVALID)
    assert "future" in r.errors[0].message


def test_code_list_values() -> None:
    text = replace_once(sample_text(EDOC_1), "<edXML:Priority>0</edXML:Priority>", "<edXML:Priority>7</edXML:Priority>")
    r = _check(text)
    _only(r, Code.CODE_LIST_VALUE)
    assert r.errors[0].path == f"{MH}/OtherInfo/Priority"
    text = replace_once(sample_text(EDOC_1), "<edXML:BussinessDocType>0<", "<edXML:BussinessDocType>9<")
    _only(_check(text), Code.CODE_LIST_VALUE)


def test_unknown_status_code_is_kept_with_a_warning() -> None:
    text = replace_once(sample_text(STATUS_1), "<edXML:StatusCode>03<", "<edXML:StatusCode>14<")
    r = _check(text)
    assert r.valid
    assert [w.code for w in r.warnings] == [Code.CODE_LIST_VALUE]
    assert r.parsed is not None
    assert r.parsed.package.header.status_code.value == "14"  # type: ignore[union-attr]


def test_attachment_mismatch_both_directions() -> None:
    text = replace_once(
        sample_text(EDOC_1),
        "<edXML:ContentId>cid:9886bc59-c2a8-47a6-bf99-6fe0233d2ac3</edXML:ContentId>",
        "<edXML:ContentId>cid:other</edXML:ContentId>",
    )
    r = _check(text)
    assert [f.code for f in r.errors] == [Code.ATTACHMENT_MISMATCH, Code.ATTACHMENT_MISMATCH]
    assert r.errors[0].path.endswith("/edXMLManifest/Reference[1]/ContentId")
    assert r.errors[1].path == "/edXML/AttachmentEncoded/Attachment[1]/ContentId"


def test_attachment_encoding_names_the_attachment() -> None:
    text = sample_text(EDOC_1)
    text = replace_once(text, "<ContentTransferEncoded>JVBER", "<ContentTransferEncoded>JV*BER")
    r = _check(text)
    assert [f.code for f in r.errors] == [Code.ATTACHMENT_ENCODING]
    assert r.errors[0].path == "/edXML/AttachmentEncoded/Attachment[1]/ContentTransferEncoded"


def test_attachment_too_large_by_configured_limit() -> None:
    r = _check(sample_text(EDOC_1), ValidationOptions(limits=ParseLimits(max_attachment_bytes=10_000), profile=STRICT))
    assert [f.code for f in r.errors] == [Code.ATTACHMENT_TOO_LARGE]


def test_target_missing_for_revoke() -> None:
    text = replace_once(sample_text(EDOC_1), "<edXML:BussinessDocType>0<", "<edXML:BussinessDocType>1<")
    r = _check(text)
    _only(r, Code.TARGET_MISSING)
    assert r.errors[0].path.endswith("/TraceHeaderList/Bussiness/DocumentId")
    ok = replace_once(
        text, "<edXML:BussinessDocReason>",
        "<edXML:DocumentId>000.00.00.H41,2025/03/01,1000/UBND-KGVX</edXML:DocumentId><edXML:BussinessDocReason>",
    )
    assert _check(ok).valid


def test_response_for_incomplete() -> None:
    text = replace_once(
        sample_text(EDOC_3),
        "<edXML:Code>1234/UBND-KGVX</edXML:Code>",
        "",
    )
    r = _check(text)
    _only(r, Code.RESPONSE_FOR_INCOMPLETE)
    assert r.errors[0].path == f"{MH}/ResponseFor[1]/Code"


def test_field_too_long_is_a_warning() -> None:
    long_subject = "Về việc " + "rất dài " * 80
    text = sample_text(EDOC_1)
    start = text.index("<edXML:Subject>") + len("<edXML:Subject>")
    end = text.index("</edXML:Subject>")
    r = _check(text[:start] + long_subject + text[end:])
    assert r.valid
    assert [(w.code, w.severity) for w in r.warnings] == [(Code.FIELD_TOO_LONG, Severity.WARNING)]


@pytest.mark.parametrize(
    ("field_old", "field_new"),
    [
        ("<edXML:SphereOfPromulgation>Liên thông văn bản<", "<edXML:SphereOfPromulgation>MẬT<"),
        ("<edXML:SphereOfPromulgation>Liên thông văn bản<", "<edXML:SphereOfPromulgation>Tài liệu TUYỆT MẬT<"),
        ("<edXML:Subject>V/v", "<edXML:Subject>TỐI MẬT - V/v"),
    ],
)
def test_secret_documents_are_refused(field_old: str, field_new: str) -> None:
    r = _check(replace_once(sample_text(EDOC_1), field_old, field_new))
    _only(r, Code.SECRET_DOCUMENT)


def test_secret_markers_do_not_catch_ordinary_words() -> None:
    text = replace_once(sample_text(EDOC_1), "<edXML:Subject>V/v", "<edXML:Subject>V/v bảo mật thông tin và")
    assert _check(text).valid


def test_secret_policy_is_configurable_and_nfd_safe() -> None:
    import unicodedata

    nfd = unicodedata.normalize("NFD", "MẬT")
    text = replace_once(sample_text(EDOC_1), "<edXML:SphereOfPromulgation>Liên thông văn bản<", f"<edXML:SphereOfPromulgation>{nfd}<")
    _only(_check(text), Code.SECRET_DOCUMENT)
    off = ValidationOptions(secret=SecretPolicy(enabled=False), profile=STRICT)
    assert _check(text, off).valid


def test_every_code_is_documented_in_the_readme() -> None:
    from pathlib import Path

    from schemas.findings import CODE_DESCRIPTIONS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert set(CODE_DESCRIPTIONS) == set(Code)
    missing = [c.value for c in Code if f"`{c.value}`" not in readme]
    assert not missing, f"README lacks reason codes: {missing}"
