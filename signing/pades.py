"""PAdES verification of one PDF with pyhanko, offline, every signature of the file.

Each signature is judged on its own — integrity, then what changed after it, then the chain —
because a change slipped in between the person's and the organization's signature shows only on
the earlier one.  Everything pyhanko can raise on hostile input (PdfReadError, asn1crypto's plain
ValueError while listing signatures, SignatureValidationError …) becomes a MALFORMED value here.

The steps are pyhanko's own (`async_validate_pdf_signature` → `cms_basic_validation`), called one
by one so the certificate-path step can come from the chain cache (signing.chaincache): per
document, the integrity (digest of the signed bytes against the signed attributes), the algorithm
policy, the signature value, the signing-certificate binding, coverage, the diff analysis, seed
values and signer attributes; per (certificate, trust snapshot, day, quiet window), the path.
A signature that carries a timestamp token goes through `validate_pdf_signature` whole and
uncached: pyhanko validates the token in the signer's context first, so its certificates can join
the signer's path building.  tests/integration/test_signing_cache.py holds both ways to the same
verdicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import CMSStructuralError
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import DisallowedAlgorithmError, SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import (
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    report_seed_value_validation,
)
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko.sign.validation.utils import CMSAlgorithmUsagePolicy
from pyhanko_certvalidator import ValidationContext

from signing.chaincache import ChainCache, ChainResult, chain_key, remember
from signing.classify import chain_reason, signature_report, subject_fields
from signing.inputs import PackageFacts
from signing.speedups import speedups
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
_SUBFILTERS = (SigSeedSubFilter.ADOBE_PKCS7_DETACHED, SigSeedSubFilter.PADES, SigSeedSubFilter.PBAD_PADES)


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
    """PAdES checks under one trust configuration, with certificate paths from `cache` (shared
    by the verifiers of one worker process, across trust reloads: the key names the snapshot).
    `speedups` False leaves pyhanko's and asn1crypto's own hot loops in place (signing.speedups),
    to measure what the cache alone gives."""

    def __init__(self, trust: TrustConfig, cache: ChainCache | None = None, *, speedups: bool = True) -> None:
        self._trust = trust
        self.cache = cache if cache is not None else ChainCache()
        self._speedups = speedups
        context = trust.validation_context()
        self._algorithms = CMSAlgorithmUsagePolicy.lift_policy(context.algorithm_policy)
        self._sig_validator = context.sig_validator
        quiet_library_logs()

    def check(self, data: bytes, facts: PackageFacts) -> DocumentCheck:
        with speedups() if self._speedups else contextlib.nullcontext():
            try:
                reader = PdfFileReader(io.BytesIO(data), strict=False)
                embedded = list(reader.embedded_signatures)
            except PARSE_ERRORS as exc:
                return DocumentCheck((), Reason.MALFORMED, _describe(exc))
            reports = asyncio.run(self._check_all(embedded, facts)) if embedded else ()
        return DocumentCheck(reports)

    async def _check_all(
        self, embedded: list[EmbeddedPdfSignature], facts: PackageFacts
    ) -> tuple[SignatureReport, ...]:
        """All signatures of one document in one event loop (a loop per signature cost more
        than the warm path step)."""
        return tuple([await self._check_one(sig, facts) for sig in embedded])

    async def _check_one(self, sig: EmbeddedPdfSignature, facts: PackageFacts) -> SignatureReport:
        try:
            cert = sig.signer_cert
        except PARSE_ERRORS as exc:
            return _unreadable(sig, exc)
        try:
            status, moment = await self._validate(sig)
        except PARSE_ERRORS as exc:
            reason: Reason | None = Reason.MALFORMED
            detail = _describe(exc)
            signing_time = None
        else:
            reason, detail = judge(status, cert, moment)
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

    async def _validate(self, sig: EmbeddedPdfSignature) -> tuple[PdfSignatureStatus, dt.datetime]:
        """pyhanko's `async_validate_pdf_signature`, step by step, the path from the cache."""
        if _has_timestamp(sig):
            context = self._trust.validation_context()
            whole = await async_validate_pdf_signature(
                sig, signer_validation_context=context, key_usage_settings=SIGNING_KEY_USAGE
            )
            return whole, context.moment
        if sig.sig_object_type != "/Sig":
            raise SignatureValidationError("Signature object type must be /Sig")
        _check_subfilter(sig.sig_object.get("/SubFilter", None))
        sig.compute_integrity_info()  # type: ignore[no-untyped-call]
        kwargs: dict[str, Any] = sig.summarise_integrity_info()
        reported = generic_cms.extract_self_reported_ts(sig.signer_info) or sig.self_reported_timestamp
        if reported is not None:
            kwargs["signer_reported_dt"] = reported
        moment = await self._cms(sig, kwargs)
        kwargs.update(report_seed_value_validation(sig, kwargs["validation_path"], timestamp_found=False))
        kwargs.update(
            await generic_cms.collect_signer_attr_status(
                sd_attr_certificates=sig.embedded_attr_certs,
                signer_cert=sig.signer_cert,
                validation_context=None,
                sd_signed_attrs=sig.signer_info["signed_attrs"],
            )
        )
        return PdfSignatureStatus(**kwargs), moment

    async def _cms(self, sig: EmbeddedPdfSignature, kwargs: dict[str, Any]) -> dt.datetime:
        """`generic_cms.cms_basic_validation` for one PDF signature: fills `kwargs`, returns the
        validation moment.  The signer's certificate and the embedded ones come from the
        signature's own extraction (which already checked the signing-certificate attribute)."""
        signer_info, cert, others = sig.signer_info, sig.signer_cert, sig.other_embedded_certs
        eci = sig.signed_data["encap_content_info"]
        raw_digest = sig.compute_digest()
        if eci["content"] is not core.VOID:
            raise SignatureValidationError(
                "CMS structural error: detached signatures should not have encapsulated data",
                ades_subindication=AdESFailure.FORMAT_FAILURE,
            )
        moment = dt.datetime.now(dt.UTC)
        indication: Any = None
        horizon: dt.datetime | None = None
        try:
            generic_cms._enforce_algorithm_usage(  # pyhanko's own step, no public name
                signer_info, cert, algorithm_usage_policy=self._algorithms, time_indic=moment
            )
        except DisallowedAlgorithmError as e:
            indication, horizon = e.ades_subindication, e.time_horizon
        try:
            intact, valid = generic_cms.validate_sig_integrity(
                signer_info,
                cert,
                expected_content_type=eci["content_type"].native,
                actual_digest=raw_digest,
                sig_validator=self._sig_validator,
            )
        except CMSStructuralError as e:
            raise SignatureValidationError(
                "CMS structural error: " + e.failure_message, ades_subindication=AdESFailure.FORMAT_FAILURE
            ) from e
        path = revocation = None
        if valid and indication is None:
            chain, moment = await self._chain(cert, others, moment)
            indication, revocation, path, horizon = chain.indication, chain.revocation, chain.path, chain.time_horizon
        kwargs.update(
            qualification_result=None,
            validation_time=moment,
            intact=intact,
            valid=valid,
            signing_cert=cert,
            md_algorithm=signer_info["digest_algorithm"]["algorithm"].native,
            pkcs7_signature_mechanism=signer_info["signature_algorithm"]["algorithm"].native,
            trust_problem_indic=indication,
            validation_path=path,
            revocation_details=revocation,
            error_time_horizon=horizon,
        )
        return moment

    async def _chain(
        self, cert: asn1_x509.Certificate, others: list[asn1_x509.Certificate], moment: dt.datetime
    ) -> tuple[ChainResult, dt.datetime]:
        """The path of `cert` at `moment`: cached, or validated now in a fresh context (which
        pins its own moment: the one the result and its window belong to)."""
        key = chain_key("pades", cert, others, self._trust.snapshot, moment.date())
        cached = self.cache.get(key, moment)
        if isinstance(cached, ChainResult):
            return cached, moment
        context = self._trust.validation_context()
        result = await _validate_path(cert, others, context)
        remember(self.cache, key, result, self._trust, context.moment, (cert, *others), context.time_tolerance)
        return result, context.moment


async def _validate_path(
    cert: asn1_x509.Certificate, others: list[asn1_x509.Certificate], context: ValidationContext
) -> ChainResult:
    """The trust step of `cms_basic_validation`, as pyhanko runs it."""
    try:
        context.certificate_registry.register_multiple(others)
        op = await generic_cms.validate_cert_usage(
            cert,
            context,
            key_usage_settings=SIGNING_KEY_USAGE,
            paths=context.path_builder.async_build_paths_lazy(cert),
        )
    except ValueError:
        return ChainResult(AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE, None, None, None)
    return ChainResult(op.error_subindic, op.revo_details, op.success_result or op.error_path, op.error_time_horizon)


def _check_subfilter(subfilter: object) -> None:
    try:
        ok = SigSeedSubFilter(subfilter) in _SUBFILTERS
    except ValueError:
        ok = False
    if not ok:
        raise SignatureValidationError(f"{subfilter} is not a recognized SubFilter type in signatures.")


def _has_timestamp(sig: EmbeddedPdfSignature) -> bool:
    """A signature or content timestamp token in the signer info."""
    signed = generic_cms.extract_tst_data_iter(sig.signer_info, signed=True)
    unsigned = generic_cms.extract_tst_data_iter(sig.signer_info, signed=False)
    return any(True for _ in signed) or any(True for _ in unsigned)


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
