"""XML signatures on edXML packages: verify what a sender put there, sign what the hub emits.

A package's `Signature` sits in `edXMLEnvelope/edXMLHeader`.  Real SDK output writes it without a
namespace declaration, so it lands in the edXML default namespace; we verify a *copy* in which that
one subtree is moved into the xmldsig namespace.  Trust consequence: the Signature element's own
namespace is covered by nothing (the enveloped transform removes it, SignedInfo is canonicalised
in the namespace we give it), so re-namespacing cannot make changed content verify — it only lets
a signature computed the usual way over SignedInfo pass although the sender serialised it sloppily.
We accept it as such and say so in the report (`detail`); strict xmldsig peers would not.

Only what signxml returns as signed is trusted: the reference must be `URI=""` with the enveloped
transform (the whole package but the signature), exactly one Signature in the package, and the
header fields read back from the *signed* XML must be the ones the router routes on.

The signer's chain (path, key usage, revocation) comes from the worker's certificate-path cache
(signing.chaincache, kind "xmldsig") when it holds it; the XML cryptography and the signed
content are checked for every package.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from dataclasses import dataclass

import structlog
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    RevokedError,
    ValidationError,
)
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidDigest, InvalidSignature, SignXMLException
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from signing.chaincache import ChainCache, XmlChainResult, chain_key, remember
from signing.classify import date_reason, key_usage_ok, signature_report
from signing.inputs import PackageFacts
from signing.trust import SIGNING_KEY_USAGE, TrustConfig
from signing.verdict import Reason, SignatureReport

log = structlog.get_logger()

DS = "http://www.w3.org/2000/09/xmldsig#"
EDXML = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_C14N = {m.value for m in CanonicalizationMethod}
_STRONG_SIG = frozenset(m for m in SignatureMethod if not m.name.startswith(("HMAC", "DSA")) and "SHA1" not in m.name)
_STRONG_DIGEST = frozenset(d for d in DigestAlgorithm if "SHA1" not in d.name)
_SHA1_SIG = frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.ECDSA_SHA1})
_SHA1_DIGEST = frozenset({DigestAlgorithm.SHA1})


def hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_blank_text=False
    )


@dataclass(frozen=True)
class XmlPolicy:
    allow_sha1: bool = False

    @property
    def signature_methods(self) -> frozenset[SignatureMethod]:
        return _STRONG_SIG | _SHA1_SIG if self.allow_sha1 else _STRONG_SIG

    @property
    def digest_algorithms(self) -> frozenset[DigestAlgorithm]:
        return _STRONG_DIGEST | _SHA1_DIGEST if self.allow_sha1 else _STRONG_DIGEST


class _Refused(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class XmlSignatureVerifier:
    def __init__(self, trust: TrustConfig, cache: ChainCache | None = None) -> None:
        self._trust = trust
        self._cache = cache if cache is not None else ChainCache()
        self._policy = XmlPolicy(allow_sha1=trust.allow_sha1)

    def verify(self, package: bytes, facts: PackageFacts) -> SignatureReport | None:
        """None when the package carries no Signature (it is optional, §1.5)."""
        try:
            root = etree.fromstring(package, hardened_parser())
        except etree.XMLSyntaxError as exc:
            return _report(None, Reason.MALFORMED, f"package is not well-formed XML: {exc}", facts)
        signatures = [*root.iter(f"{{{DS}}}Signature", f"{{{EDXML}}}Signature")]
        if not signatures:
            return None
        cert: asn1_x509.Certificate | None = None
        notes = ""
        try:
            signature = _single_signature(signatures)
            if signature.tag == f"{{{EDXML}}}Signature":
                notes = "Signature was in the edXML namespace; verified as xmldsig. "
                signature = _renamespace(signature)
            _check_signed_info(signature, self._policy)
            leaf, others = _certificates(signature)
            cert = asn1_x509.Certificate.load(leaf.public_bytes(Encoding.DER))
            signed_root = self._verify_crypto(root, leaf)
            _check_signed_content(signed_root, facts)
            self._check_chain(cert, others)
        except _Refused as refused:
            log.info("xml_signature_invalid", reason=refused.reason.value, detail=refused.detail)
            return _report(cert, refused.reason, notes + refused.detail, facts)
        return _report(cert, None, notes.strip(), facts)

    def _verify_crypto(self, root: etree._Element, leaf: x509.Certificate) -> etree._Element:
        """signxml checks the cryptography only: the certificate is checked by `_check_chain`
        against our roots and CRLs, so signxml's own clock check is pinned inside the validity."""
        config = SignatureConfiguration(
            location=f"./{{{EDXML}}}edXMLEnvelope/{{{EDXML}}}edXMLHeader/",
            expect_references=1,
            signature_methods=self._policy.signature_methods,
            digest_algorithms=self._policy.digest_algorithms,
            verification_time=leaf.not_valid_before_utc,
        )
        try:
            result = XMLVerifier().verify(
                etree.tostring(root), x509_cert=leaf, parser=hardened_parser(), expect_config=config
            )
        except (InvalidDigest, InvalidSignature) as exc:
            raise _Refused(Reason.INTEGRITY, f"signature does not verify: {exc}") from exc
        except (SignXMLException, etree.LxmlError, ValueError) as exc:
            raise _Refused(Reason.MALFORMED, f"unusable Signature: {exc}") from exc
        signed = result.signed_xml  # type: ignore[union-attr]
        if signed is None:
            raise _Refused(Reason.MALFORMED, "signed data is not XML")
        return signed

    def _check_chain(self, cert: asn1_x509.Certificate, others: list[x509.Certificate]) -> None:
        """The signer's path under our roots and CRLs, from the path cache when it holds it
        (signing.chaincache, kind "xmldsig")."""
        intermediates = [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in others]
        moment = dt.datetime.now(dt.UTC)
        key = chain_key("xmldsig", cert, intermediates, self._trust.snapshot, moment.date())
        result = self._cache.get(key, moment)
        if not isinstance(result, XmlChainResult):
            context = self._trust.validation_context()
            result = _validate_chain(cert, intermediates, context)
            remember(self._cache, key, result, self._trust, context.moment, (cert, *intermediates),
                     context.time_tolerance)
        if result.reason is not None:
            raise _Refused(result.reason, result.detail)


def _validate_chain(
    cert: asn1_x509.Certificate, intermediates: list[asn1_x509.Certificate], context: ValidationContext
) -> XmlChainResult:
    validator = CertificateValidator(cert, intermediate_certs=intermediates, validation_context=context)
    try:
        asyncio.run(validator.async_validate_path())
        SIGNING_KEY_USAGE.validate(cert)
    except RevokedError as exc:
        return XmlChainResult(Reason.REVOKED, exc.failure_msg)
    except ExpiredError as exc:
        return XmlChainResult(Reason.EXPIRED, exc.failure_msg)
    except NotYetValidError as exc:
        return XmlChainResult(Reason.NOT_YET_VALID, exc.failure_msg)
    except PathBuildingError:
        return XmlChainResult(Reason.UNTRUSTED_CHAIN, "no path to a configured root")
    except DisallowedAlgorithmError as exc:
        return XmlChainResult(Reason.MALFORMED, exc.failure_msg)
    except InvalidCertificateError as exc:
        return XmlChainResult(Reason.KEY_USAGE if not key_usage_ok(cert) else Reason.UNTRUSTED_CHAIN, exc.failure_msg)
    except ValidationError as exc:
        return XmlChainResult(date_reason([cert], context.moment) or Reason.UNTRUSTED_CHAIN, exc.failure_msg)
    return XmlChainResult(None, "")


def _single_signature(signatures: list[etree._Element]) -> etree._Element:
    if len(signatures) > 1:
        raise _Refused(Reason.MALFORMED, f"{len(signatures)} Signature elements: exactly one is allowed")
    signature = signatures[0]
    header = signature.getparent()
    envelope = header.getparent() if header is not None else None
    if (
        header is None
        or envelope is None
        or etree.QName(header).localname != "edXMLHeader"
        or etree.QName(envelope).localname != "edXMLEnvelope"
        or envelope.getparent() is None
        or envelope.getparent().getparent() is not None  # type: ignore[union-attr]
    ):
        raise _Refused(Reason.MALFORMED, "Signature must be a child of edXMLEnvelope/edXMLHeader")
    return signature


def _renamespace(signature: etree._Element) -> etree._Element:
    """Replace, in the (already copied) tree, the edXML-namespace Signature subtree by the same
    subtree in the xmldsig default namespace, as a signing library would have produced it."""

    def copy(src: etree._Element, parent: etree._Element | None) -> etree._Element:
        qname = etree.QName(src)
        tag = f"{{{DS}}}{qname.localname}" if qname.namespace in (EDXML, None) else src.tag
        default_ds: dict[str | None, str] = {None: DS}
        el = etree.Element(tag, nsmap=default_ds) if parent is None else etree.SubElement(parent, tag)  # type: ignore[arg-type]
        for key, value in src.attrib.items():
            el.set(key, value)
        el.text, el.tail = src.text, src.tail
        for child in src:
            if isinstance(child.tag, str):
                copy(child, el)
        return el

    replacement = copy(signature, None)
    parent = signature.getparent()
    assert parent is not None  # checked by _single_signature
    parent.replace(signature, replacement)
    return replacement


def _check_signed_info(signature: etree._Element, policy: XmlPolicy) -> None:
    ns = {"ds": DS}
    c14n = signature.findall("ds:SignedInfo/ds:CanonicalizationMethod", ns)
    if len(c14n) != 1 or c14n[0].get("Algorithm") not in _C14N:
        raise _Refused(Reason.MALFORMED, "SignedInfo/CanonicalizationMethod missing or not allowed")
    methods = signature.findall("ds:SignedInfo/ds:SignatureMethod", ns)
    allowed_sig = {m.value for m in policy.signature_methods}
    if len(methods) != 1 or methods[0].get("Algorithm") not in allowed_sig:
        alg = methods[0].get("Algorithm") if methods else None
        raise _Refused(Reason.MALFORMED, f"SignatureMethod {alg} not allowed (SHA-1 needs allow_sha1)")
    refs = signature.findall("ds:SignedInfo/ds:Reference", ns)
    if len(refs) != 1 or refs[0].get("URI") != "":
        raise _Refused(Reason.MALFORMED, 'exactly one Reference URI="" (the whole package) is required')
    transforms = [t.get("Algorithm") for t in refs[0].findall("ds:Transforms/ds:Transform", ns)]
    if ENVELOPED not in transforms or any(t != ENVELOPED and t not in _C14N for t in transforms):
        raise _Refused(Reason.MALFORMED, "Reference transforms must be enveloped-signature [+ c14n] only")
    digests = refs[0].findall("ds:DigestMethod", ns)
    allowed_digest = {d.value for d in policy.digest_algorithms}
    if len(digests) != 1 or digests[0].get("Algorithm") not in allowed_digest:
        alg = digests[0].get("Algorithm") if digests else None
        raise _Refused(Reason.MALFORMED, f"DigestMethod {alg} not allowed (SHA-1 needs allow_sha1)")


def _certificates(signature: etree._Element) -> tuple[x509.Certificate, list[x509.Certificate]]:
    texts = signature.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if not texts:
        raise _Refused(Reason.MALFORMED, "KeyInfo/X509Data/X509Certificate missing")
    try:
        certs = [x509.load_der_x509_certificate(base64.b64decode("".join((t.text or "").split()))) for t in texts]
    except ValueError as exc:
        raise _Refused(Reason.MALFORMED, f"X509Certificate unreadable: {exc}") from exc
    return certs[0], certs[1:]


def _check_signed_content(signed: etree._Element, facts: PackageFacts) -> None:
    """Read the routing facts back from what was signed, never from the raw tree."""
    headers = signed.findall(f".//{{{EDXML}}}MessageHeader")
    if len(headers) != 1:
        raise _Refused(Reason.INTEGRITY, f"signed content holds {len(headers)} MessageHeader elements")
    organ = headers[0].findtext(f"{{{EDXML}}}From/{{{EDXML}}}OrganId")
    if facts.from_organ_id and (organ or "").strip() != facts.from_organ_id:
        raise _Refused(Reason.INTEGRITY, f"signed From/OrganId {organ!r} is not the routed {facts.from_organ_id!r}")


def _report(
    cert: asn1_x509.Certificate | None, reason: Reason | None, detail: str, facts: PackageFacts
) -> SignatureReport:
    return signature_report("edXML Signature", cert, facts, reason, detail)


def sign_package(xml_bytes: bytes, key_pem: bytes, cert_pem: bytes) -> bytes:
    """Enveloped, exclusive c14n, RSA-SHA256, in the xmldsig namespace, placed where §1.5 puts
    it (last child of edXMLEnvelope/edXMLHeader).  For packages the hub itself creates."""
    root = etree.fromstring(xml_bytes, hardened_parser())
    header = root.find(f"{{{EDXML}}}edXMLEnvelope/{{{EDXML}}}edXMLHeader")
    if header is None:
        raise ValueError("not an edXML package: edXMLEnvelope/edXMLHeader missing")
    placeholder = etree.SubElement(header, f"{{{DS}}}Signature", nsmap={"ds": DS})
    placeholder.set("Id", "placeholder")
    certs = [c.decode() for c in _split_pem(cert_pem)]
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signed = signer.sign(root, key=key_pem, cert=certs)  # enveloped, no URI given: URI=""
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def _split_pem(data: bytes) -> list[bytes]:
    marker = b"-----END CERTIFICATE-----"
    parts = data.split(marker)
    return [part.strip() + b"\n" + marker + b"\n" for part in parts if b"BEGIN CERTIFICATE" in part]
