"""Verdict values, aggregation rules and the policy decision: pure functions over frozen values."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from signing.aggregate import package_verdict, signatures_verdict
from signing.inputs import PackageFacts
from signing.policy import Action, Policy, decide
from signing.verdict import (
    AttachmentVerdict,
    PackageVerdict,
    Reason,
    SignatureReport,
    SignerKind,
    Verdict,
    most_severe,
    parse_header_value,
)

pytestmark = pytest.mark.unit

FACTS = PackageFacts("Nguyễn Văn Mẫu", "000.00.00.H41", "Ủy ban nhân dân tỉnh Nghệ An", ())
NO_FACTS = PackageFacts("", "", "", ())


def sig(kind: SignerKind, matches: bool | None = True, reason: Reason | None = None) -> SignatureReport:
    return SignatureReport(
        field="f",
        signer_subject="Nguyễn Văn Mẫu",
        organization="o",
        issuer="i",
        kind=kind,
        matches=matches,
        valid=reason is None,
        reason=reason,
        detail="",
        signing_time=dt.datetime(2025, 3, 14, tzinfo=dt.UTC),
    )


def att(name: str, verdict: Verdict, reason: Reason | None = None, applicable: bool = True) -> AttachmentVerdict:
    return AttachmentVerdict("cid:" + name, name, "application/pdf", "pdf", applicable, verdict, reason)


PER, ORG = SignerKind.PERSONAL, SignerKind.ORGANIZATIONAL


@pytest.mark.parametrize(
    ("reports", "facts", "expected"),
    [
        ((), FACTS, (Verdict.UNSIGNED, None)),
        ((sig(PER), sig(ORG)), FACTS, (Verdict.SIGNED, None)),
        ((sig(PER),), FACTS, (Verdict.PARTIALLY_SIGNED, None)),
        ((sig(ORG),), FACTS, (Verdict.PARTIALLY_SIGNED, None)),
        ((sig(PER, False), sig(ORG)), FACTS, (Verdict.INVALID, Reason.SIGNER_MISMATCH)),
        ((sig(PER), sig(ORG, False)), FACTS, (Verdict.INVALID, Reason.SIGNER_MISMATCH)),
        ((sig(PER), sig(PER, False), sig(ORG)), FACTS, (Verdict.SIGNED, None)),  # an extra co-signer is tolerated
        ((sig(PER, None), sig(ORG, None)), NO_FACTS, (Verdict.SIGNED, None)),
        (
            (sig(PER, reason=Reason.EXPIRED), sig(ORG, reason=Reason.INTEGRITY)),
            FACTS,
            (Verdict.INVALID, Reason.INTEGRITY),
        ),
    ],
)
def test_signatures_verdict(
    reports: tuple[SignatureReport, ...], facts: PackageFacts, expected: tuple[Verdict, Reason | None]
) -> None:
    assert signatures_verdict(reports, facts) == expected


def test_most_severe_follows_declaration_order() -> None:
    assert most_severe([Reason.SIGNER_MISMATCH, Reason.REVOKED, Reason.MODIFIED_AFTER_SIGNING]) is (
        Reason.MODIFIED_AFTER_SIGNING
    )
    assert most_severe([]) is None


def test_package_takes_the_best_applicable_attachment() -> None:
    v = package_verdict(
        (
            att("chinh.pdf", Verdict.SIGNED),
            att("phu-luc.pdf", Verdict.UNSIGNED),
            att("x.doc", Verdict.UNSIGNED, applicable=False),
        )
    )
    assert (v.verdict, v.reason, v.attachment) == (Verdict.SIGNED, None, None)


def test_package_is_invalid_when_any_attachment_is_and_names_the_worst() -> None:
    v = package_verdict(
        (
            att("a.pdf", Verdict.INVALID, Reason.EXPIRED),
            att("b.pdf", Verdict.SIGNED),
            att("c.pdf", Verdict.INVALID, Reason.MODIFIED_AFTER_SIGNING),
        )
    )
    assert (v.verdict, v.reason, v.attachment) == (Verdict.INVALID, Reason.MODIFIED_AFTER_SIGNING, "c.pdf")


def test_invalid_xml_signature_makes_the_package_invalid() -> None:
    xml = dataclasses.replace(sig(ORG, reason=Reason.INTEGRITY), field="edXML Signature")
    v = package_verdict((att("a.pdf", Verdict.SIGNED),), xml)
    assert (v.verdict, v.reason, v.attachment) == (Verdict.INVALID, Reason.INTEGRITY, None)


def test_no_pdf_at_all_is_unsigned() -> None:
    assert package_verdict((att("x.doc", Verdict.UNSIGNED, applicable=False),)).verdict is Verdict.UNSIGNED


def test_header_value_is_ascii_and_round_trips() -> None:
    v = PackageVerdict(Verdict.INVALID, Reason.MODIFIED_AFTER_SIGNING, "Công văn 1234;QĐ.pdf")
    header = v.header_value()
    assert header.isascii()
    assert header.startswith("INVALID;MODIFIED_AFTER_SIGNING;")
    assert parse_header_value(header) == (Verdict.INVALID, Reason.MODIFIED_AFTER_SIGNING, "Công văn 1234;QĐ.pdf")
    assert PackageVerdict(Verdict.SIGNED, None, None).header_value() == "SIGNED"
    assert parse_header_value("SIGNED") == (Verdict.SIGNED, None, None)


def test_json_keeps_vietnamese_and_dates_readable() -> None:
    v = PackageVerdict(
        Verdict.SIGNED, None, None, (dataclasses.replace(att("a.pdf", Verdict.SIGNED), signatures=(sig(PER),)),)
    )
    text = v.to_json()
    assert json.loads(text)["attachments"][0]["signatures"][0]["signing_time"] == "2025-03-14T00:00:00+00:00"
    assert "Nguyễn Văn Mẫu" in text  # UTF-8 as is, not \\u-escaped
    v2 = PackageVerdict(Verdict.INVALID, Reason.REVOKED, "Quyết định.pdf")
    assert "Quyết định.pdf" in v2.to_json()


def test_verdicts_are_frozen() -> None:
    v = PackageVerdict(Verdict.SIGNED, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.verdict = Verdict.INVALID  # type: ignore[misc]


# ---- policy -----------------------------------------------------------------------------------

INVALID = PackageVerdict(Verdict.INVALID, Reason.MODIFIED_AFTER_SIGNING, "1234-UBND-KGVX.pdf")
UNSIGNED = PackageVerdict(Verdict.UNSIGNED, None, None)
PARTIAL = PackageVerdict(Verdict.PARTIALLY_SIGNED, None, None)
SIGNED = PackageVerdict(Verdict.SIGNED, None, None)


@pytest.mark.parametrize(
    ("verdict", "policy", "action"),
    [
        (SIGNED, Policy.REQUIRE, Action.ACCEPT),
        (INVALID, Policy.REQUIRE, Action.REJECT),
        (UNSIGNED, Policy.REQUIRE, Action.REJECT),
        (PARTIAL, Policy.REQUIRE, Action.ACCEPT_WITH_WARNING),
        (INVALID, Policy.WARN, Action.ACCEPT_WITH_WARNING),
        (UNSIGNED, Policy.WARN, Action.ACCEPT_WITH_WARNING),
        (SIGNED, Policy.WARN, Action.ACCEPT),
        (INVALID, Policy.OFF, Action.ACCEPT),
        (UNSIGNED, Policy.OFF, Action.ACCEPT),
    ],
)
def test_decide(verdict: PackageVerdict, policy: Policy, action: Action) -> None:
    assert decide(verdict, policy).action is action


def test_rejection_message_names_attachment_and_sub_reason_in_both_languages() -> None:
    d = decide(INVALID, Policy.REQUIRE)
    assert "«1234-UBND-KGVX.pdf»" in d.message_vi and "sửa đổi sau khi ký" in d.message_vi
    assert '"1234-UBND-KGVX.pdf"' in d.message_en and "modified after signing" in d.message_en
    assert "MODIFIED_AFTER_SIGNING" in d.message_vi and "MODIFIED_AFTER_SIGNING" in d.message_en
    assert d.message.startswith("Từ chối tiếp nhận.")


def test_warning_text_for_unsigned() -> None:
    d = decide(UNSIGNED, Policy.WARN)
    assert "không có chữ ký số" in d.message_vi and "not digitally signed" in d.message_en


def test_every_reason_has_text() -> None:
    for reason in Reason:
        d = decide(PackageVerdict(Verdict.INVALID, reason, "a.pdf"), Policy.REQUIRE)
        assert reason.value in d.message_vi
