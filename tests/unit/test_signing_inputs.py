"""ZIP unwrapping (bomb-safe), signer classification, trust configuration: in memory, no services."""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
import zipfile
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing.classify import classify_signer, date_reason, key_usage_ok, normalize, organ_code
from signing.inputs import PackageFacts
from signing.testing import pki as testpki
from signing.trust import TrustConfig, TrustConfigError
from signing.unwrap import ZipLimits, is_pdf, unwrap
from signing.verdict import Reason, SignerKind
from tests.support.pki import zip_bomb, zipped

pytestmark = pytest.mark.unit

PDF = testpki.minimal_pdf()


def test_pdf_detected_by_magic_not_by_name() -> None:
    assert unwrap("x.doc", PDF).pdfs == (("x.doc", PDF),)
    assert unwrap("x.pdf", b"not a pdf").detected_type == "other"
    assert is_pdf(b"\n\n%PDF-1.4")


def test_zip_yields_its_pdfs_and_notes_the_rest() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("uuid-1.pdf", PDF)
        z.writestr("phu-luc.docx", b"PK\x03\x04 docx body")
    result = unwrap("a.zip", buf.getvalue())
    assert result.detected_type == "zip" and result.error is None
    assert result.pdfs == (("uuid-1.pdf", PDF),)
    assert result.notes == ("phu-luc.docx: not a PDF, not inspected",)


def test_zip_bomb_hits_the_ratio_cap() -> None:
    bomb = zip_bomb(32 * 1024 * 1024)
    result = unwrap("bomb.zip", bomb, ZipLimits(max_total_bytes=1 << 40, max_ratio=200))
    assert result.error is not None and "limit" in result.error


def test_total_cap_holds_even_with_generous_ratio() -> None:
    result = unwrap("big.zip", zipped(PDF + b"%" * 200_000), ZipLimits(max_total_bytes=100_000, max_ratio=10_000))
    assert result.error is not None and "100000" in result.error


def test_stored_zip_is_not_mistaken_for_a_pdf() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("a.pdf", PDF)
    result = unwrap("a.zip", buf.getvalue())
    assert (result.detected_type, result.pdfs) == ("zip", (("a.pdf", PDF),))


def test_too_many_entries() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(5):
            z.writestr(f"{i}.pdf", PDF)
    assert "entries" in (unwrap("m.zip", buf.getvalue(), ZipLimits(max_entries=4)).error or "")


def test_corrupt_zip_is_an_error_value_not_an_exception() -> None:
    data = zipped(PDF)
    broken = data[:40] + b"\x00" * 40 + data[80:]
    assert unwrap("b.zip", broken).error is not None


# ---- classification ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki() -> testpki.TestPki:
    return testpki.generate()


def _asn1(pki: testpki.TestPki, name: str) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(pki[name].cert.public_bytes(Encoding.DER))


FACTS = PackageFacts("Nguyễn Văn Mẫu", "000.00.00.H41", "Ủy ban nhân dân tỉnh Nghệ An", ())


def test_normalize_ignores_unicode_form_case_and_spacing() -> None:
    assert normalize(unicodedata.normalize("NFD", "Nguyễn  Văn Mẫu")) == normalize("NGUYỄN VĂN MẪU")


@pytest.mark.parametrize(
    ("cert", "facts", "expected"),
    [
        ("nguyen-van-mau", FACTS, (SignerKind.PERSONAL, True)),
        ("hoang-van-vi-du", FACTS, (SignerKind.PERSONAL, False)),
        ("org-nghe-an", FACTS, (SignerKind.ORGANIZATIONAL, True)),
        ("org-so-tttt", FACTS, (SignerKind.ORGANIZATIONAL, False)),
        ("nguyen-van-mau", PackageFacts("", "", "", ()), (SignerKind.PERSONAL, None)),
        ("org-nghe-an", PackageFacts("Nguyễn Văn Mẫu", "", "", ()), (SignerKind.ORGANIZATIONAL, None)),
        # the organ code decides, even when the name matches
        (
            "org-so-tttt",
            PackageFacts("x", "000.00.13.H41", "Ủy ban nhân dân tỉnh Nghệ An", ()),
            (SignerKind.ORGANIZATIONAL, True),
        ),
    ],
)
def test_classify_signer(
    pki: testpki.TestPki, cert: str, facts: PackageFacts, expected: tuple[SignerKind, bool | None]
) -> None:
    assert classify_signer(_asn1(pki, cert), facts) == expected


def test_organ_code_read_from_ou(pki: testpki.TestPki) -> None:
    assert organ_code(_asn1(pki, "org-nghe-an")) == "000.00.00.H41"
    assert organ_code(_asn1(pki, "nguyen-van-mau")) is None


def test_date_reason_names_not_yet_valid_and_expired(pki: testpki.TestPki) -> None:
    now = dt.datetime.now(dt.UTC)
    assert date_reason([_asn1(pki, "not-yet-valid")], now) is Reason.NOT_YET_VALID
    assert date_reason([_asn1(pki, "expired")], now) is Reason.EXPIRED
    assert date_reason([_asn1(pki, "nguyen-van-mau")], now) is None


def test_key_usage_accepts_digital_signature_or_non_repudiation(pki: testpki.TestPki) -> None:
    assert key_usage_ok(_asn1(pki, "org-nghe-an"))  # digitalSignature only
    assert key_usage_ok(_asn1(pki, "nguyen-van-mau"))  # both
    assert not key_usage_ok(_asn1(pki, "wrong-key-usage"))  # keyEncipherment only


# ---- trust configuration ----------------------------------------------------------------------


def test_trust_config_refuses_no_roots_and_hard_fail_without_crls() -> None:
    with pytest.raises(TrustConfigError, match="no trust roots"):
        TrustConfig(roots=())
    with pytest.raises(TrustConfigError, match="hard-fail"):
        TrustConfig(roots=(b"x",), revocation="hard-fail")
    with pytest.raises(TrustConfigError, match="soft-fail or hard-fail"):
        TrustConfig(roots=(b"x",), revocation="maybe")  # type: ignore[arg-type]


def test_trust_dir_with_a_bad_certificate_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "roots").mkdir()
    (tmp_path / "roots" / "broken.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(TrustConfigError, match=r"broken\.pem"):
        TrustConfig.from_dir(tmp_path)


def test_trust_dir_reads_pem_bundles_and_der(tmp_path: Path, pki: testpki.TestPki) -> None:
    trust = TrustConfig.from_dir(pki.write(tmp_path))
    assert len(trust.roots) == 1 and len(trust.intermediates) == 1 and len(trust.crls) == 2
    assert trust.revocation == "soft-fail" and trust.allow_sha1 is False
    context = trust.validation_context()
    assert not context.fetching_allowed
