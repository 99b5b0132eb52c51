"""Identifiers without look-alikes (issue 8 item 5): routing-relevant fields take ASCII digits
only, and the secret-document policy matches what a reader sees, however it was spelled."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.confusables import fold
from schemas.findings import Code
from schemas.organ import OrganId
from schemas.parse import validate_package
from schemas.policy import ValidationOptions
from schemas.profiles import Profile
from tests.support.samples import EDOC_1, replace_once, sample_text

pytestmark = pytest.mark.unit

TO = "<edXML:OrganId>000.00.13.H41</edXML:OrganId>"
SPHERE = "<edXML:SphereOfPromulgation>Liên thông văn bản<"


@pytest.mark.parametrize(
    "code",
    [
        "000.00.00.H４１",  # full-width digits
        "000.00.00.H٤١",  # Arabic-Indic digits
        "০০০.00.00.H41",  # Bengali digits
        "000.00.00.H41\n",  # a final newline that `$` would admit
        "000.00.00.Ｈ41",  # full-width capital
    ],
)
def test_organ_codes_take_ascii_only(code: str) -> None:
    assert not OrganId.is_valid(code)
    assert not OrganId.is_valid(code, tolerant=True)


def test_real_codes_still_parse() -> None:
    assert OrganId.parse("000.00.00.H41").shape == "strict"
    assert OrganId.parse("000.00.00.G09").level == 1
    assert OrganId.is_valid("vxp.sa.03.G01") is False  # lower case is not the tolerant alphabet either


@pytest.mark.parametrize("lookalike", ["000.00.13.H４１", "000.00.13.H٤١"])
def test_a_lookalike_recipient_is_refused_as_invalid(lookalike: str) -> None:
    text = replace_once(sample_text(EDOC_1), TO, f"<edXML:OrganId>{lookalike}</edXML:OrganId>")
    report = validate_package(text.encode("utf-8"))
    assert not report.valid
    assert Code.ORGAN_ID_INVALID in {f.code for f in report.errors}, report.findings


def test_full_width_digits_in_a_date_are_not_read_as_a_date() -> None:
    """Refused under strict; under the default profile a date is not a routing value: warned."""
    text = replace_once(sample_text(EDOC_1), "<edXML:PromulgationDate>2025/03/14<",
                        "<edXML:PromulgationDate>2025/0３/14<")
    assert not validate_package(text.encode("utf-8"), ValidationOptions(profile=Profile.STRICT)).valid
    report = validate_package(text.encode("utf-8"))
    assert report.valid
    assert Code.DATE_INVALID in {w.code for w in report.warnings}
    assert report.parsed is not None and report.parsed.package.header.promulgation_info.promulgation_date == date.min  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "marker",
    [
        "\u041cẬT",  # Cyrillic capital М
        "M\u200bẬT",  # zero-width space inside
        "ＭẬＴ",  # full-width letters
        "TỐI M\u00adẬT",  # soft hyphen
        "\u041c\u0410\u0302\u0323\u0422",  # Cyrillic М, А + circumflex + dot below, Т
        "TUYỆT \u039cẬT",  # Greek capital Mu
    ],
)
def test_disguised_secret_markers_are_caught(marker: str) -> None:
    text = replace_once(sample_text(EDOC_1), SPHERE, f"<edXML:SphereOfPromulgation>{marker}<")
    report = validate_package(text.encode("utf-8"))
    assert Code.SECRET_DOCUMENT in {f.code for f in report.errors}, report.findings


def test_the_case_rule_is_kept() -> None:
    assert fold("bảo mật") == "bảo mật"
    text = replace_once(sample_text(EDOC_1), SPHERE, "<edXML:SphereOfPromulgation>bảo mật thông tin<")
    assert validate_package(text.encode("utf-8")).valid


def test_fold_leaves_vietnamese_alone() -> None:
    s = "Ủy ban nhân dân tỉnh Nghệ An — Sở Thông tin và Truyền thông"
    assert fold(s) == s
