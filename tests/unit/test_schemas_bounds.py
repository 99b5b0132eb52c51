"""Hard bounds (schemas.limits.FIELD_BOUNDS): every value the hub carries into a header or a ledger
column is admitted up to its bound and refused one past it, with FIELD_TOO_LONG naming the field
and never quoting the value."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.codes import BussinessDocType, StatusCode
from schemas.findings import Code, finding
from schemas.limits import FIELD_BOUNDS, Bounded, ParseLimits, bound
from schemas.organ import OrganId
from schemas.parse import ValidationReport, validate_package
from schemas.policy import ValidationOptions
from tests.support.packages import make_edoc, make_status

pytestmark = pytest.mark.unit

H41 = "000.00.00.H41"
DEPT = "000.00.13.H41"
MH = "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader"


def organs(n: int) -> list[str]:
    return [f"{i // 100:03d}.{i % 100:02d}.00.H41" for i in range(1, n + 1)]


# field → (package with that value `n` long, the path a refusal names, the value's fill character)
CASES: dict[str, tuple[Callable[[int], bytes], str]] = {
    "DocumentId": (lambda n: make_edoc(H41, [DEPT], 1, doc_id="Đ" * n), f"{MH}/DocumentId"),
    "Bussiness/DocumentId": (
        lambda n: make_edoc(H41, [DEPT], 2, doc_type=BussinessDocType.REVOKE, target="Đ" * n),
        "/edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList/Bussiness/DocumentId",
    ),
    "Subject": (lambda n: make_edoc(H41, [DEPT], 3, subject="ữ" * n), f"{MH}/Subject"),
    "AttachmentName": (
        lambda n: make_edoc(H41, [DEPT], 4, attachment_name="ệ" * (n - 4) + ".pdf"),
        "/edXML/AttachmentEncoded/Attachment[1]/AttachmentName",
    ),
    "To (count)": (lambda n: make_edoc(H41, organs(n), 5), f"{MH}/To"),
    "ResponseFor/DocumentId (status)": (
        lambda n: make_status(DEPT, H41, 6, StatusCode.ACCEPTED, about_document_id="Đ" * n),
        f"{MH}/ResponseFor/DocumentId",
    ),
    "Description (status)": (
        lambda n: make_status(DEPT, H41, 7, StatusCode.REJECTED, description="ẩ" * n), f"{MH}/Description",
    ),
    "StaffInfo/Staff (status)": (
        lambda n: make_status(DEPT, H41, 8, StatusCode.ACCEPTED, staff="ễ" * n), f"{MH}/StaffInfo/Staff",
    ),
}
LIMITS = {
    "DocumentId": Bounded.DOCUMENT_ID, "Bussiness/DocumentId": Bounded.DOCUMENT_ID,
    "Subject": Bounded.SUBJECT, "AttachmentName": Bounded.ATTACHMENT_NAME, "To (count)": Bounded.RECIPIENTS,
    "ResponseFor/DocumentId (status)": Bounded.DOCUMENT_ID, "Description (status)": Bounded.DESCRIPTION,
    "StaffInfo/Staff (status)": Bounded.STAFF,
}


def errors(report: ValidationReport) -> list[tuple[Code, str]]:
    return [(f.code, f.path) for f in report.errors]


@pytest.mark.parametrize("field", list(CASES))
def test_admitted_up_to_the_bound(field: str) -> None:
    make, _ = CASES[field]
    report = validate_package(make(bound(LIMITS[field])))
    assert report.valid, errors(report)


@pytest.mark.parametrize("field", list(CASES))
def test_refused_one_past_the_bound_without_quoting_the_value(field: str) -> None:
    make, path = CASES[field]
    n = bound(LIMITS[field]) + 1
    report = validate_package(make(n))
    assert not report.valid
    expected = Code.TOO_MANY_RECIPIENTS if LIMITS[field] is Bounded.RECIPIENTS else Code.FIELD_TOO_LONG
    assert errors(report) == [(expected, path)]
    message = report.errors[0].message
    assert str(n) in message and str(n - 1) in message  # how long, and the bound
    assert len(message) < 300  # the value itself is never echoed


def test_a_refused_package_still_says_who_sent_it_but_not_an_oversized_document_id() -> None:
    over = validate_package(make_edoc(H41, [DEPT], 9, doc_id="Đ" * 200_000))
    assert [f.code for f in over.errors] == [Code.FIELD_TOO_LONG]
    assert over.document_id is None and over.sender == H41 and over.kind == "edoc"
    fits = validate_package(make_edoc(H41, organs(bound(Bounded.RECIPIENTS) + 1), 10))
    assert fits.document_id == f"{H41},2025/03/14,10/UBND-VP" and fits.sender == H41


def test_the_recipient_cap_is_the_operators_and_never_above_the_hard_bound() -> None:
    hard = bound(Bounded.RECIPIENTS)
    over = validate_package(make_edoc(H41, organs(hard + 1), 12))
    assert [f.code for f in over.errors] == [Code.TOO_MANY_RECIPIENTS]
    assert str(hard + 1) in over.errors[0].message and str(hard) in over.errors[0].message
    assert validate_package(make_edoc(H41, organs(hard), 13)).valid
    capped = ValidationOptions(limits=ParseLimits(max_recipients=5))
    assert validate_package(make_edoc(H41, organs(5), 14), capped).valid
    six = validate_package(make_edoc(H41, organs(6), 15), capped)
    assert [(f.code, f.path) for f in six.errors] == [(Code.TOO_MANY_RECIPIENTS, f"{MH}/To")]
    with pytest.raises(ValueError):
        ParseLimits(max_recipients=hard + 1)


def test_an_overlong_organ_id_is_refused_by_its_shape() -> None:
    too_long = "0" * (bound(Bounded.ORGAN_ID) + 1)
    report = validate_package(make_edoc(too_long, [DEPT], 11))
    assert (Code.ORGAN_ID_INVALID, f"{MH}/From/OrganId") in errors(report)
    assert report.sender is None


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.from_regex(r"[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9A-Z]{2}", fullmatch=True))
def test_every_organ_id_the_shape_admits_is_short_ascii(text: str) -> None:
    """The header budget counts an organ code as `bound(ORGAN_ID)` bytes: the shape makes it so."""
    if OrganId.is_valid(text):
        assert text.isascii() and len(text) <= bound(Bounded.ORGAN_ID)


def test_messages_quoting_a_hostile_value_are_clipped() -> None:
    f = finding(Code.ORGAN_ID_INVALID, "/x", "mã '" + "x" * 100_000 + "'", "code '" + "x" * 100_000 + "'")
    vi, _, en = f.message.partition(" / ")
    assert len(vi) <= 600 and len(en) <= 600 and vi.endswith("…")


def test_every_bound_is_exercised_here() -> None:
    assert set(LIMITS.values()) | {Bounded.ORGAN_ID} == set(FIELD_BOUNDS)
