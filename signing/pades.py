"""PAdES verification of one PDF with pyhanko, offline, every signature of the file.

Each signature is judged on its own — integrity, then what changed after it, then the chain —
because a change slipped in between the person's and the organization's signature shows only on
the earlier one.  Everything pyhanko can raise on hostile input (PdfReadError, asn1crypto's plain
ValueError while listing signatures, SignatureValidationError …) becomes a MALFORMED value here.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass
from typing import Protocol

import structlog
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel

from signing.classify import chain_reason, signature_report, subject_fields
from signing.inputs import PackageFacts
from signing.trust import SIGNING_KEY_USAGE, TrustConfig
from signing.verdict import Reason, SignatureReport

log = structlog.get_logger()

# What hostile bytes make pyhanko/asn1crypto raise.  Anything else is a bug and propagates.
PARSE_ERRORS: tuple[type[Exception], ...] = (
    PdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    NotImplementedError,
    EOFError,
    OverflowError,
)
ALLOWED_AFTER_SIGNING = ModificationLevel.FORM_FILLING  # later signatures, form filling; not annotations


@dataclass(frozen=True)
class DocumentCheck:
    """The signatures found in one document; `error` when the document could not be examined."""

    signatures: tuple[SignatureReport, ...]
    error: Reason | None = None
    detail: str = ""


class DocumentVerifier(Protocol):
    """Checks the signatures embedded in one document (PDF today)."""

    def check(self, data: bytes, facts: PackageFacts) -> DocumentCheck: ...


def quiet_library_logs() -> None:
    """pyhanko logs a WARNING with a full traceback for every failed chain: one bad package would
    flood the logs.  We report each failure once, as a value and one structured line."""
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class PadesVerifier:
    def __init__(self, trust: TrustConfig) -> None:
        self._trust = trust
        quiet_library_logs()

    def check(self, data: bytes, facts: PackageFacts) -> DocumentCheck:
        try:
            reader = PdfFileReader(io.BytesIO(data), strict=False)
            embedded = list(reader.embedded_signatures)
        except PARSE_ERRORS as exc:
            return DocumentCheck((), Reason.MALFORMED, _describe(exc))
        reports = tuple(self._check_one(sig, facts) for sig in embedded)
        return DocumentCheck(reports)

    def _check_one(self, sig: EmbeddedPdfSignature, facts: PackageFacts) -> SignatureReport:
        try:
            cert = sig.signer_cert
        except PARSE_ERRORS as exc:
            return _unreadable(sig, exc)
        context = self._trust.validation_context()
        try:
            status = validate_pdf_signature(
                sig, signer_validation_context=context, key_usage_settings=SIGNING_KEY_USAGE
            )
        except PARSE_ERRORS as exc:
            reason: Reason | None = Reason.MALFORMED
            detail = _describe(exc)
            signing_time = None
        else:
            reason, detail = judge(status, cert, context.moment)
            signing_time = status.signer_reported_dt
        if reason is not None:
            log.info(
                "pdf_signature_invalid",
                field=sig.field_name,
                signer=subject_fields(cert)[0],
                reason=reason.value,
                detail=detail,
            )
        return signature_report(str(sig.field_name), cert, facts, reason, detail, signing_time=signing_time)


def judge(status: PdfSignatureStatus, cert: asn1_x509.Certificate, moment: dt.datetime) -> tuple[Reason | None, str]:
    """Integrity first, then what changed after signing, then trust: the most telling fault."""
    if not status.intact:
        return Reason.INTEGRITY, "signed bytes do not match the signed digest"
    if not status.valid:
        return Reason.INTEGRITY, "signature value does not verify with the signer's key"
    coverage = status.coverage
    level = status.modification_level
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return Reason.MODIFIED_AFTER_SIGNING, f"signature covers {coverage.name if coverage else 'nothing'}"
    if level is None or level > ALLOWED_AFTER_SIGNING or status.docmdp_ok is False:
        return Reason.MODIFIED_AFTER_SIGNING, f"changed after signing: {level.name if level else 'unknown'}"
    indic = status.trust_problem_indic
    if indic is not None:
        path = status.validation_path
        path_certs = list(path.iter_certs(include_root=True)) if path is not None else []
        name = getattr(indic, "name", str(indic))
        if not isinstance(indic, AdESIndeterminate):
            return Reason.UNTRUSTED_CHAIN, name
        return chain_reason(indic, cert, path_certs, moment), name
    if status.revoked:
        return Reason.REVOKED, "certificate revoked"
    if not status.bottom_line:
        return Reason.UNTRUSTED_CHAIN, "signature not trusted under the configured roots"
    return None, ""


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _unreadable(sig: EmbeddedPdfSignature, exc: BaseException) -> SignatureReport:
    return signature_report(str(sig.field_name), None, PackageFacts("", "", "", ()), Reason.MALFORMED, _describe(exc))
