"""The certificate-path cache is never wrong: the same verdicts as pyhanko alone, warm or cold;
new trust material is never answered from old entries; a certificate's end is never cached past.

Real signatures from a generated test PKI, trust read from real files, worker processes where
the router has them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import time
from pathlib import Path

import pytest
from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature

from signing.chaincache import CacheCounts, ChainCache
from signing.classify import signature_report
from signing.inputs import PackageFacts
from signing.pades import PARSE_ERRORS, DocumentCheck, PadesVerifier, judge
from signing.stage import VerificationStage
from signing.testing import pki as testpki
from signing.testing.pdfsign import sign_pdf, sign_person_then_org
from signing.trust import SIGNING_KEY_USAGE, TrustConfig, TrustSource
from signing.verdict import Reason, Verdict
from signing.verifier import PackageVerifier
from tests.integration.test_signing_corpus import PDF_CORPUS, XML_CORPUS
from tests.support import pki as S
from tests.support.pki import Corpus, new_corpus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return new_corpus(tmp_path_factory.mktemp("pki"))


class PyhankoAlone:
    """The reference: every signature through pyhanko's `validate_pdf_signature` whole, a fresh
    context each time, judged by the same `judge` (what PadesVerifier did before the cache)."""

    def __init__(self, trust: TrustConfig) -> None:
        self.trust = trust

    def check(self, data: bytes, facts: PackageFacts) -> DocumentCheck:
        try:
            embedded = list(PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures)
        except PARSE_ERRORS as exc:
            return DocumentCheck((), Reason.MALFORMED, type(exc).__name__)
        reports = []
        for sig in embedded:
            cert = sig.signer_cert
            context = self.trust.validation_context()
            try:
                status = validate_pdf_signature(
                    sig, signer_validation_context=context, key_usage_settings=SIGNING_KEY_USAGE
                )
            except PARSE_ERRORS:
                reason: Reason | None = Reason.MALFORMED
                detail, when = "", None
            else:
                (reason, detail), when = judge(status, cert, context.moment), status.signer_reported_dt
            reports.append(signature_report(str(sig.field_name), cert, facts, reason, detail, signing_time=when))
        return DocumentCheck(tuple(reports))


def _key(result: object) -> object:
    """A verdict without the free-text details (pyhanko's exception texts may differ in wording)."""
    from signing.verdict import PackageVerdict

    assert isinstance(result, PackageVerdict)
    return (
        result.verdict,
        result.reason,
        result.attachment,
        [[(s.field, s.kind, s.matches, s.valid, s.reason, s.signing_time) for s in a.signatures]
         for a in result.attachments],
    )


def test_every_corpus_case_with_the_cache_warm_matches_pyhanko_alone(corpus: Corpus) -> None:
    """Warm the cache with every signer of the corpus, then each tamper case must get the verdict
    pyhanko alone gives — and the expected one — while its paths come from the cache."""
    trust = corpus.trust
    cached = PadesVerifier(trust)
    ours, reference = PackageVerifier(trust, documents=cached), PackageVerifier(trust, documents=PyhankoAlone(trust))
    cases = {name: build(corpus) for name, (build, _v, _r) in PDF_CORPUS.items()}
    for data, content_type in cases.values():  # warm: every case once
        ours.verify(None, S.facts(S.blob(data, content_type=content_type)))
    warm = cached.cache.counts
    for name, (_build, expected, reason) in PDF_CORPUS.items():
        data, content_type = cases[name]
        facts = S.facts(S.blob(data, content_type=content_type))
        before = cached.cache.counts
        got = ours.verify(None, facts)
        assert (got.verdict, got.reason) == (expected, reason), name
        assert _key(got) == _key(reference.verify(None, facts)), name
        if name not in ("zip bomb", "truncated PDF", "corrupted signature blob", "unsigned", "byte flipped in signed range"):
            # intact signatures reach the path step; it is answered warm
            assert (cached.cache.counts - before).hits >= 1, name
    assert cached.cache.counts.hits > warm.hits


def test_xml_signature_corpus_with_the_cache_warm(corpus: Corpus) -> None:
    """Each XML signature case twice through one verifier: the second time the chain comes from
    the cache, the verdicts stay those of a cold verifier."""
    cache = ChainCache()
    warm = PackageVerifier(corpus.trust, cache=cache)
    facts = S.facts(S.blob(corpus.both))
    cases = {name: build(S.package(S.blob(corpus.both)), corpus) for name, (build, _r) in XML_CORPUS.items()}
    first = {name: warm.verify(raw, facts).xml_signature for name, raw in cases.items()}
    before = cache.counts
    for name, raw in cases.items():
        again = warm.verify(raw, facts).xml_signature
        cold = PackageVerifier(corpus.trust).verify(raw, facts).xml_signature
        assert again is not None and cold is not None
        assert (again.valid, again.reason) == (cold.valid, cold.reason) == (first[name].valid,  # type: ignore[union-attr]
                                                                            XML_CORPUS[name][1]), name
    assert (cache.counts - before).hits >= 6  # every case that reaches the chain step


def test_integrity_is_checked_for_every_document_even_when_the_path_is_cached(corpus: Corpus) -> None:
    v = PackageVerifier(corpus.trust)
    assert v.verify(None, S.facts(S.blob(corpus.both))).verdict is Verdict.SIGNED
    flipped = v.verify(None, S.facts(S.blob(S.flip_signed_byte(corpus.both))))
    appended = v.verify(None, S.facts(S.blob(S.append_text_update(corpus.both))))
    assert (flipped.reason, appended.reason) == (Reason.INTEGRITY, Reason.MODIFIED_AFTER_SIGNING)


def test_another_trust_snapshot_never_hits(corpus: Corpus) -> None:
    """Same certificate, same day: an entry made under other roots/CRLs/settings is not used."""
    cache = ChainCache()
    trust = corpus.trust
    facts = S.facts(S.blob(corpus.both))
    PackageVerifier(trust, cache=cache).verify(None, facts)
    assert cache.counts == CacheCounts(0, 2)
    PackageVerifier(trust, cache=cache).verify(None, facts)
    assert cache.counts == CacheCounts(2, 2)
    for other in (
        dataclasses.replace(trust, allow_sha1=True),
        dataclasses.replace(trust, crls=(corpus.pki.crl_revoking(), *trust.crls[1:])),
        dataclasses.replace(trust, crls=()),
        dataclasses.replace(trust, intermediates=()),
    ):
        assert other.snapshot != trust.snapshot
        before = cache.counts
        PackageVerifier(other, cache=cache).verify(None, facts)
        assert (cache.counts - before) == CacheCounts(0, 2)
    only_foreign = TrustConfig(roots=(_der(corpus.pki.foreign_root.cert_pem),))
    result = PackageVerifier(only_foreign, cache=cache).verify(None, facts)
    assert (result.verdict, result.reason) == (Verdict.INVALID, Reason.UNTRUSTED_CHAIN)


def _der(pem_bytes: bytes) -> bytes:
    from asn1crypto import pem

    return bytes(pem.unarmor(pem_bytes)[2])


def _copy_trust(src: Path, dst: Path) -> Path:
    for sub in ("roots", "intermediates", "crls"):
        (dst / sub).mkdir(parents=True)
        for f in (src / sub).iterdir():
            (dst / sub / f.name).write_bytes(f.read_bytes())
    (dst / "trust.toml").write_bytes((src / "trust.toml").read_bytes())
    return dst


def _publish(path: Path, data: bytes) -> None:
    """How a CA's CRL lands in the trust directory: written beside, renamed over."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def test_a_new_crl_revokes_the_next_document_in_the_worker(corpus: Corpus, tmp_path: Path) -> None:
    """The hub's set-up: a worker process with the trust directory as its source.  The signer's
    path is cached (hits), the CA publishes a CRL revoking the signer, and the next document that
    signer signed is REVOKED — without restarting anything."""
    trust_dir = _copy_trust(corpus.trust_dir, tmp_path / "trust")
    signer = corpus.pki.issue("to-be-revoked", S.SIGNER, S.ORGAN_NAME)
    ident = (signer.key_pem, signer.cert_pem + signer.chain_pem)
    docs = [sign_person_then_org(testpki.minimal_pdf(f"Cong van {i}"), ident, None) for i in range(3)]
    with VerificationStage(TrustSource.from_dir(trust_dir), workers=1) as stage:
        first = stage.submit(None, S.facts(S.blob(docs[0]))).result(timeout=60)
        second = stage.submit(None, S.facts(S.blob(docs[1]))).result(timeout=60)
        assert (first.verdict.verdict, second.verdict.verdict) == (Verdict.PARTIALLY_SIGNED,) * 2
        assert (first.cache, second.cache) == (CacheCounts(0, 1), CacheCounts(1, 0))

        _publish(trust_dir / "crls" / "intermediate.crl", corpus.pki.crl_revoking("to-be-revoked"))
        third = stage.submit(None, S.facts(S.blob(docs[2]))).result(timeout=60)
        assert (third.verdict.verdict, third.verdict.reason) == (Verdict.INVALID, Reason.REVOKED)
        assert third.cache == CacheCounts(0, 1)
        again = stage.submit(None, S.facts(S.blob(docs[0]))).result(timeout=60)
        assert (again.verdict.reason, again.cache) == (Reason.REVOKED, CacheCounts(1, 0))


def test_a_trust_directory_that_no_longer_reads_is_an_error_not_a_verdict(corpus: Corpus, tmp_path: Path) -> None:
    trust_dir = _copy_trust(corpus.trust_dir, tmp_path / "trust")
    source = TrustSource.from_dir(trust_dir)
    first = source.current()
    (trust_dir / "crls" / "intermediate.crl").write_bytes(b"half a CRL")
    with pytest.raises(ValueError, match="not a CRL"):
        source.current()
    _publish(trust_dir / "crls" / "intermediate.crl", corpus.pki.crl_revoking())
    assert source.current().snapshot != first.snapshot


def test_a_certificate_that_expires_is_not_answered_from_the_cache_afterwards(corpus: Corpus) -> None:
    """The entry's window ends before the certificate's notAfter: the validation after it is a
    miss and says EXPIRED, the same day, same snapshot."""
    now = dt.datetime.now(dt.UTC)
    signer = corpus.pki.issue("short-lived", S.SIGNER, S.ORGAN_NAME, valid=(now - dt.timedelta(days=1),
                                                                            now + dt.timedelta(seconds=12)))
    data = sign_person_then_org(corpus.plain_pdf, (signer.key_pem, signer.cert_pem + signer.chain_pem), None)
    cached = PadesVerifier(corpus.trust)
    v = PackageVerifier(corpus.trust, documents=cached)
    facts = S.facts(S.blob(data))
    assert v.verify(None, facts).verdict is Verdict.PARTIALLY_SIGNED
    assert v.verify(None, facts).verdict is Verdict.PARTIALLY_SIGNED
    assert cached.cache.counts == CacheCounts(1, 1)
    time.sleep(max(0.0, (now + dt.timedelta(seconds=13) - dt.datetime.now(dt.UTC)).total_seconds()))
    expired = v.verify(None, facts)
    assert (expired.verdict, expired.reason) == (Verdict.INVALID, Reason.EXPIRED)
    assert cached.cache.counts == CacheCounts(1, 2)


def _tsa(corpus: Corpus) -> tuple[asn1_x509.Certificate, keys.PrivateKeyInfo]:
    """A time-stamping authority under the test intermediate (pyhanko's DummyTimeStamper signs)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter = corpus.pki.intermediate
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test TSA")]))
        .issuer_name(inter.cert.subject)
        .public_key(key.public_key())
        .serial_number(7777)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(inter.key, hashes.SHA256())
    )
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return (asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            keys.PrivateKeyInfo.load(der_key))


def test_a_timestamped_signature_goes_through_pyhanko_whole(corpus: Corpus) -> None:
    """pyhanko validates a signature timestamp in the signer's own context first, so such a
    signature is not split: no path lookup, pyHanko alone's verdict."""

    tsa_cert, tsa_key = _tsa(corpus)
    signed = sign_pdf(corpus.plain_pdf, *corpus.ident("nguyen-van-mau"), field_name="ChuKyCaNhan",
                      timestamper=DummyTimeStamper(tsa_cert, tsa_key))
    facts = S.facts(S.blob(signed))
    cached = PadesVerifier(corpus.trust)
    ours = PackageVerifier(corpus.trust, documents=cached).verify(None, facts)
    reference = PackageVerifier(corpus.trust, documents=PyhankoAlone(corpus.trust)).verify(None, facts)
    assert _key(ours) == _key(reference)
    assert ours.verdict is Verdict.PARTIALLY_SIGNED
    assert cached.cache.counts == CacheCounts(0, 0)
