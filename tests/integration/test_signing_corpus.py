"""The acceptance corpus: real signatures from a generated test PKI, trust read from real files.

Each case is built at test time (sign, then tamper) and must get its expected verdict and
sub-reason through the same `PackageVerifier` the router's worker processes run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas.findings import PackageError
from schemas.parse import parse_package
from signing.inputs import facts_from_parsed
from signing.trust import TrustConfig, TrustConfigError
from signing.verdict import Reason, SignerKind, Verdict
from signing.verifier import PackageVerifier
from tests.support import pki as S
from tests.support.pki import Corpus, new_corpus

pytestmark = pytest.mark.integration

PdfCase = Callable[[Corpus], tuple[bytes, str]]


def _pdf(build: Callable[[Corpus], bytes], content_type: str = "application/pdf") -> PdfCase:
    return lambda c: (build(c), content_type)


def _between_signatures(c: Corpus) -> bytes:
    """Person signs, text is slipped in, then the organization signs over the changed file:
    only the earlier signature can tell."""
    from signing.testing.pdfsign import sign_pdf

    person = c.signed(org=None)
    changed = S.append_text_update(person)
    return sign_pdf(changed, *c.ident("org-nghe-an"), field_name="ChuKyToChuc")


PDF_CORPUS: dict[str, tuple[PdfCase, Verdict, Reason | None]] = {
    "person+organization": (_pdf(lambda c: c.both), Verdict.SIGNED, None),
    "person only": (_pdf(lambda c: c.signed(org=None)), Verdict.PARTIALLY_SIGNED, None),
    "organization only": (_pdf(lambda c: c.signed(person=None)), Verdict.PARTIALLY_SIGNED, None),
    "unsigned": (_pdf(lambda c: c.plain_pdf), Verdict.UNSIGNED, None),
    "byte flipped in signed range": (_pdf(lambda c: S.flip_signed_byte(c.both)), Verdict.INVALID, Reason.INTEGRITY),
    "text appended by incremental update": (
        _pdf(lambda c: S.append_text_update(c.both)),
        Verdict.INVALID,
        Reason.MODIFIED_AFTER_SIGNING,
    ),
    "annotation added after signing": (
        _pdf(lambda c: S.add_annotation(c.both)),
        Verdict.INVALID,
        Reason.MODIFIED_AFTER_SIGNING,
    ),
    "change between the two signatures": (_pdf(_between_signatures), Verdict.INVALID, Reason.MODIFIED_AFTER_SIGNING),
    "corrupted signature blob": (
        _pdf(lambda c: S.corrupt_signature_blob(c.both)),
        Verdict.INVALID,
        Reason.MALFORMED,
    ),
    "truncated PDF": (_pdf(lambda c: S.truncate(c.both)), Verdict.INVALID, Reason.MALFORMED),
    "expired certificate": (_pdf(lambda c: c.signed("expired", None)), Verdict.INVALID, Reason.EXPIRED),
    "not-yet-valid certificate": (
        _pdf(lambda c: c.signed("not-yet-valid", None)),
        Verdict.INVALID,
        Reason.NOT_YET_VALID,
    ),
    "revoked certificate (CRL)": (_pdf(lambda c: c.signed("revoked", None)), Verdict.INVALID, Reason.REVOKED),
    "untrusted root": (_pdf(lambda c: c.signed("untrusted", None)), Verdict.INVALID, Reason.UNTRUSTED_CHAIN),
    "wrong key usage": (_pdf(lambda c: c.signed("wrong-key-usage", None)), Verdict.INVALID, Reason.KEY_USAGE),
    "another person signed": (
        _pdf(lambda c: c.signed("hoang-van-vi-du", "org-nghe-an")),
        Verdict.INVALID,
        Reason.SIGNER_MISMATCH,
    ),
    "another organ signed": (
        _pdf(lambda c: c.signed("nguyen-van-mau", "org-so-tttt")),
        Verdict.INVALID,
        Reason.SIGNER_MISMATCH,
    ),
    "zipped PDF (SDK style)": (_pdf(lambda c: S.zipped(c.both), "application/zip"), Verdict.SIGNED, None),
    "signed PDF declared application/msword": (_pdf(lambda c: c.both, "application/msword"), Verdict.SIGNED, None),
    "zip bomb": (_pdf(lambda c: S.zip_bomb(), "application/zip"), Verdict.INVALID, Reason.MALFORMED),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return new_corpus(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def verifier(corpus: Corpus) -> PackageVerifier:
    return PackageVerifier(TrustConfig.from_dir(corpus.trust_dir))


@pytest.mark.parametrize("case", list(PDF_CORPUS))
def test_pdf_corpus_verdict(case: str, corpus: Corpus, verifier: PackageVerifier) -> None:
    build, expected, reason = PDF_CORPUS[case]
    data, content_type = build(corpus)
    result = verifier.verify(None, S.facts(S.blob(data, content_type=content_type)))
    assert (result.verdict, result.reason) == (expected, reason)
    if expected is Verdict.INVALID:
        assert result.attachment == "1234-UBND-KGVX.pdf"


@pytest.mark.parametrize("case", list(PDF_CORPUS))
def test_pdf_corpus_through_a_parsed_edxml_package(case: str, corpus: Corpus, verifier: PackageVerifier) -> None:
    """Same verdicts when the PDF travels base64 in a package parsed by `schemas`."""
    build, expected, reason = PDF_CORPUS[case]
    data, content_type = build(corpus)
    raw = S.package(S.blob(data, content_type=content_type))
    if case == "zip bomb":  # schemas refuses it at parse time, before signing ever runs
        with pytest.raises(PackageError):
            parse_package(raw)
        return
    result = verifier.verify(raw, facts_from_parsed(parse_package(raw)))
    assert (result.verdict, result.reason) == (expected, reason)


def test_every_signature_is_checked_not_only_the_last(corpus: Corpus, verifier: PackageVerifier) -> None:
    result = verifier.verify(None, S.facts(S.blob(_between_signatures(corpus))))
    person, org = result.attachments[0].signatures
    assert (person.kind, person.valid, person.reason) == (SignerKind.PERSONAL, False, Reason.MODIFIED_AFTER_SIGNING)
    assert (org.kind, org.valid) == (SignerKind.ORGANIZATIONAL, True)


def test_signed_report_names_person_and_organization(corpus: Corpus, verifier: PackageVerifier) -> None:
    result = verifier.verify(None, S.facts(S.blob(corpus.both)))
    person, org = result.attachments[0].signatures
    assert (person.signer_subject, person.kind, person.matches) == ("Nguyễn Văn Mẫu", SignerKind.PERSONAL, True)
    assert (org.organization, org.kind, org.matches) == (
        "Ủy ban nhân dân tỉnh Nghệ An",
        SignerKind.ORGANIZATIONAL,
        True,
    )
    assert person.signing_time is not None
    assert "Nguyễn Văn Mẫu" in result.to_json()


def test_wrong_content_type_is_noted(corpus: Corpus, verifier: PackageVerifier) -> None:
    result = verifier.verify(None, S.facts(S.blob(corpus.both, content_type="application/msword")))
    assert any("content is a PDF" in n for n in result.attachments[0].notes)


def test_non_pdf_attachment_does_not_count(corpus: Corpus, verifier: PackageVerifier) -> None:
    appendix = S.blob(S.zipped(b"PK not a pdf", "phu-luc.docx"), name="phu-luc.zip", content_type="application/zip")
    result = verifier.verify(None, S.facts(S.blob(corpus.both), appendix))
    assert result.verdict is Verdict.SIGNED
    assert [a.applicable for a in result.attachments] == [True, False]


def test_pyhanko_tracebacks_do_not_reach_the_logs(
    corpus: Corpus, verifier: PackageVerifier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    verifier.verify(None, S.facts(S.blob(corpus.signed("untrusted", None))))
    noisy = [r for r in caplog.records if r.name.startswith("pyhanko") and r.exc_info]
    assert noisy == []


# ---- XML signatures ---------------------------------------------------------------------------

XmlCase = Callable[[bytes, Corpus], bytes]
XML_CORPUS: dict[str, tuple[XmlCase, Reason | None]] = {
    "valid (xmldsig namespace)": (S.xml_signed, None),
    "valid, unprefixed xmldsig": (lambda p, c: S.xml_signed_with(p, c, default_namespace=True), None),
    "valid, Signature in the edXML namespace (SDK style)": (
        lambda p, c: S.strip_xmldsig_namespace(S.xml_signed_with(p, c, default_namespace=True)),
        None,
    ),
    "wrapping: signed MessageHeader moved into ds:Object": (
        lambda p, c: S.wrap_move_signed_header(S.xml_signed(p, c)),
        Reason.INTEGRITY,
    ),
    "wrapping: Signature duplicated": (lambda p, c: S.wrap_duplicate_signature(S.xml_signed(p, c)), Reason.MALFORMED),
    "wrapping: second unsigned MessageHeader": (
        lambda p, c: S.wrap_second_message_header(S.xml_signed(p, c)),
        Reason.INTEGRITY,
    ),
    "wrapping: ID reference to one element": (S.wrap_id_reference, Reason.MALFORMED),
    "SHA-1 under the default policy": (lambda p, c: S.xml_signed_with(p, c, sha1=True), Reason.MALFORMED),
    "revoked signer": (lambda p, c: S.xml_signed(p, c, who="revoked"), Reason.REVOKED),
    "untrusted signer": (lambda p, c: S.xml_signed(p, c, who="untrusted"), Reason.UNTRUSTED_CHAIN),
    "expired signer": (lambda p, c: S.xml_signed(p, c, who="expired"), Reason.EXPIRED),
}


@pytest.mark.parametrize("case", list(XML_CORPUS))
def test_xml_signature_corpus(case: str, corpus: Corpus, verifier: PackageVerifier) -> None:
    build, reason = XML_CORPUS[case]
    raw = build(S.package(S.blob(corpus.both)), corpus)
    facts = S.facts(S.blob(corpus.both))
    result = verifier.verify(raw, facts)
    assert result.xml_signature is not None
    assert (result.xml_signature.valid, result.xml_signature.reason) == (reason is None, reason)
    assert result.verdict is (Verdict.SIGNED if reason is None else Verdict.INVALID)


def test_edxml_namespace_signature_is_reported_as_such(corpus: Corpus, verifier: PackageVerifier) -> None:
    raw = S.strip_xmldsig_namespace(S.xml_signed_with(S.package(S.blob(corpus.both)), corpus, default_namespace=True))
    result = verifier.verify(raw, S.facts(S.blob(corpus.both)))
    assert result.xml_signature is not None
    assert "edXML namespace" in result.xml_signature.detail


def test_sha1_accepted_when_configured(corpus: Corpus) -> None:
    trust = dataclasses.replace(TrustConfig.from_dir(corpus.trust_dir), allow_sha1=True)
    raw = S.xml_signed_with(S.package(S.blob(corpus.both)), corpus, sha1=True)
    result = PackageVerifier(trust).verify(raw, S.facts(S.blob(corpus.both)))
    assert result.xml_signature is not None and result.xml_signature.valid


def test_hub_signed_package_still_parses_and_verifies(corpus: Corpus, verifier: PackageVerifier) -> None:
    raw = S.xml_signed(S.package(S.blob(corpus.both)), corpus)
    result = verifier.verify(raw, facts_from_parsed(parse_package(raw)))
    assert result.verdict is Verdict.SIGNED
    assert result.xml_signature is not None and result.xml_signature.kind is SignerKind.ORGANIZATIONAL


def test_package_without_xml_signature_has_none(corpus: Corpus, verifier: PackageVerifier) -> None:
    raw = S.package(S.blob(corpus.both))
    assert verifier.verify(raw, S.facts(S.blob(corpus.both))).xml_signature is None


# ---- revocation modes -------------------------------------------------------------------------


def _trust_copy(src: Path, dst: Path, toml: str, crls: bool = True) -> Path:
    for sub in ("roots", "intermediates") + (("crls",) if crls else ()):
        (dst / sub).mkdir(parents=True)
        for f in (src / sub).iterdir():
            (dst / sub / f.name).write_bytes(f.read_bytes())
    (dst / "trust.toml").write_text(toml, encoding="utf-8")
    return dst


def test_hard_fail_with_crls(corpus: Corpus, tmp_path: Path) -> None:
    trust = TrustConfig.from_dir(_trust_copy(corpus.trust_dir, tmp_path / "t", 'revocation = "hard-fail"\n'))
    v = PackageVerifier(trust)
    assert v.verify(None, S.facts(S.blob(corpus.both))).verdict is Verdict.SIGNED
    assert v.verify(None, S.facts(S.blob(corpus.signed("revoked", None)))).reason is Reason.REVOKED


def test_hard_fail_without_crls_is_a_startup_error(corpus: Corpus, tmp_path: Path) -> None:
    with pytest.raises(TrustConfigError, match="hard-fail"):
        TrustConfig.from_dir(_trust_copy(corpus.trust_dir, tmp_path / "t", 'revocation = "hard-fail"\n', crls=False))


def test_soft_fail_without_crls_accepts_valid_signatures(corpus: Corpus, tmp_path: Path) -> None:
    trust = TrustConfig.from_dir(
        _trust_copy(corpus.trust_dir, tmp_path / "t", 'revocation = "soft-fail"\n', crls=False)
    )
    assert PackageVerifier(trust).verify(None, S.facts(S.blob(corpus.both))).verdict is Verdict.SIGNED


def test_only_configured_roots_are_trusted(corpus: Corpus, tmp_path: Path) -> None:
    """A trust directory holding only the foreign root trusts none of the Government-CA chain."""
    d = tmp_path / "foreign"
    (d / "roots").mkdir(parents=True)
    (d / "roots" / "foreign.pem").write_bytes(corpus.pki.foreign_root.cert_pem)
    result = PackageVerifier(TrustConfig.from_dir(d)).verify(None, S.facts(S.blob(corpus.both)))
    assert (result.verdict, result.reason) == (Verdict.INVALID, Reason.UNTRUSTED_CHAIN)
