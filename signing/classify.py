"""Who signed (person or organization, the one the header names?) and why a signature fails.

Matching rule (documented in signing/README.md):
* **personal** — the certificate's CN equals `SignerInfo/FullName` (Unicode NFC, case- and
  whitespace-insensitive).  A certificate that names neither an organ code nor itself as its
  organization is also personal, but then does not *match*.
* **organizational** — the certificate carries an organ code (`LLL.KK.JJ.XNN`) in OU,
  serialNumber or UID, or its CN equals its O (the certificate names the organization itself).
  It matches when the code equals `From/OrganId`; without a code, when CN equals `From/OrganName`.
  A code, when present, decides: a certificate of another organ with a similar name never matches.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from asn1crypto import x509 as asn1_x509
from pyhanko.sign.ades.report import AdESIndeterminate

from signing.inputs import PackageFacts
from signing.verdict import Reason, SignatureReport, SignerKind

ORGAN_CODE = re.compile(r"\b\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}\b")
_CODE_ATTRS = ("organizational_unit_name", "serial_number", "user_id")


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _attr(name: asn1_x509.Name, key: str) -> list[str]:
    value = name.native.get(key)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def subject_fields(cert: asn1_x509.Certificate) -> tuple[str, str]:
    """(CN, O) of the subject, empty strings when absent."""
    cn = _attr(cert.subject, "common_name")
    org = _attr(cert.subject, "organization_name")
    return (cn[0] if cn else "", org[0] if org else "")


def organ_code(cert: asn1_x509.Certificate) -> str | None:
    for key in _CODE_ATTRS:
        for value in _attr(cert.subject, key):
            if m := ORGAN_CODE.search(value):
                return m.group(0)
    return None


def classify_signer(cert: asn1_x509.Certificate, facts: PackageFacts) -> tuple[SignerKind, bool | None]:
    """(kind, matches); `matches` is None when the facts name nobody to compare with."""
    cn, org = subject_fields(cert)
    if not cn:
        return SignerKind.UNKNOWN, None
    if facts.signer_full_name and normalize(cn) == normalize(facts.signer_full_name):
        return SignerKind.PERSONAL, True
    code = organ_code(cert)
    if code or (org and normalize(cn) == normalize(org)):
        if code and facts.from_organ_id:
            return SignerKind.ORGANIZATIONAL, code == facts.from_organ_id
        if facts.from_organ_name:
            return SignerKind.ORGANIZATIONAL, normalize(cn) == normalize(facts.from_organ_name)
        return SignerKind.ORGANIZATIONAL, None  # the facts name no organ to compare with
    return SignerKind.PERSONAL, (False if facts.signer_full_name else None)


def date_reason(path_certs: list[asn1_x509.Certificate], moment: dt.datetime) -> Reason | None:
    """pyhanko files a not-yet-valid certificate under a general chain failure: look ourselves."""
    for cert in path_certs:
        validity = cert["tbs_certificate"]["validity"]
        if validity["not_before"].native > moment:
            return Reason.NOT_YET_VALID
        if validity["not_after"].native < moment:
            return Reason.EXPIRED
    return None


def key_usage_ok(cert: asn1_x509.Certificate) -> bool:
    usage = cert.key_usage_value
    if usage is None:
        return True  # no extension: no restriction
    return bool({"digital_signature", "non_repudiation"} & set(usage.native))


_INDIC_REASONS: dict[AdESIndeterminate, Reason] = {
    AdESIndeterminate.REVOKED_NO_POE: Reason.REVOKED,
    AdESIndeterminate.REVOKED_CA_NO_POE: Reason.REVOKED,
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE: Reason.EXPIRED,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED: Reason.EXPIRED,
    AdESIndeterminate.EXPIRED: Reason.EXPIRED,
    AdESIndeterminate.NOT_YET_VALID: Reason.NOT_YET_VALID,
    AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND: Reason.UNTRUSTED_CHAIN,
    AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE: Reason.MALFORMED,
    AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE: Reason.MALFORMED,
}


def chain_reason(
    indic: AdESIndeterminate,
    signer: asn1_x509.Certificate,
    path_certs: list[asn1_x509.Certificate],
    moment: dt.datetime,
) -> Reason:
    """Map pyhanko's AdES sub-indication to our closed set, naming what pyhanko lumps together."""
    if indic in _INDIC_REASONS:
        return _INDIC_REASONS[indic]
    if indic is AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE and not key_usage_ok(signer):
        return Reason.KEY_USAGE
    return date_reason([signer, *path_certs], moment) or Reason.UNTRUSTED_CHAIN


def signature_report(
    field: str,
    cert: asn1_x509.Certificate | None,
    facts: PackageFacts,
    reason: Reason | None,
    detail: str,
    *,
    signing_time: dt.datetime | None = None,
) -> SignatureReport:
    """The report for one signature; `cert` None when the signature could not even be read."""
    if cert is None:
        kind, matches, cn, org, issuer = SignerKind.UNKNOWN, None, "", "", ""
    else:
        kind, matches = classify_signer(cert, facts)
        cn, org = subject_fields(cert)
        issuer = cert.issuer.human_friendly
    return SignatureReport(
        field=field,
        signer_subject=cn,
        organization=org,
        issuer=issuer,
        kind=kind,
        matches=matches,
        valid=reason is None,
        reason=reason,
        detail=detail,
        signing_time=signing_time,
    )
