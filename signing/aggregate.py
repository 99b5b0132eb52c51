"""From signature reports to the attachment verdict, and from attachments to the package verdict.

Rules (signing/README.md has the table):
* an attachment with any failing signature is INVALID with the most severe sub-reason;
* every kind of signer present must include the one the header names, otherwise SIGNER_MISMATCH
  (a PDF signed by someone other than `SignerInfo/FullName` is not this document's signature);
* the competent person and the organization → SIGNED, one of them → PARTIALLY_SIGNED;
* the package is INVALID if its XML signature or any PDF attachment is; otherwise it takes the
  best attachment verdict: appendices are routinely unsigned, the main document must be signed.
"""

from __future__ import annotations

from signing.inputs import AttachmentBlob, PackageFacts
from signing.pades import DocumentCheck
from signing.unwrap import Unwrapped
from signing.verdict import (
    AttachmentVerdict,
    PackageVerdict,
    Reason,
    SignatureReport,
    SignerKind,
    Verdict,
    most_severe,
)

_RANK = {Verdict.UNSIGNED: 0, Verdict.PARTIALLY_SIGNED: 1, Verdict.SIGNED: 2}


def signatures_verdict(reports: tuple[SignatureReport, ...], facts: PackageFacts) -> tuple[Verdict, Reason | None]:
    if not reports:
        return Verdict.UNSIGNED, None
    failing = [r.reason for r in reports if r.reason is not None]
    if failing:
        return Verdict.INVALID, most_severe(failing)
    kinds_present = {r.kind for r in reports}
    matching = {r.kind for r in reports if r.matches is not False}
    if kinds_present - matching:
        return Verdict.INVALID, Reason.SIGNER_MISMATCH
    person = SignerKind.PERSONAL in matching
    org = SignerKind.ORGANIZATIONAL in matching
    if person and org:
        return Verdict.SIGNED, None
    return Verdict.PARTIALLY_SIGNED, None


def attachment_verdict(
    blob: AttachmentBlob, unwrapped: Unwrapped, checks: list[DocumentCheck], facts: PackageFacts
) -> AttachmentVerdict:
    notes = list(unwrapped.notes)
    declared = blob.content_type.lower()
    if unwrapped.detected_type == "pdf" and declared != "application/pdf":
        notes.append(f"declared {blob.content_type or '(none)'}, content is a PDF")
    ident = (blob.content_id, blob.name, blob.content_type, unwrapped.detected_type)
    if unwrapped.error is not None:
        return AttachmentVerdict(
            *ident,
            applicable=True,
            verdict=Verdict.INVALID,
            reason=Reason.MALFORMED,
            notes=(*notes, unwrapped.error),
        )
    if not unwrapped.pdfs:
        return AttachmentVerdict(*ident, applicable=False, verdict=Verdict.UNSIGNED, reason=None, notes=tuple(notes))
    reports = tuple(r for c in checks for r in c.signatures)
    errors = [c.error for c in checks if c.error is not None]
    notes += [c.detail for c in checks if c.error is not None and c.detail]
    if errors:
        verdict, reason = Verdict.INVALID, most_severe(errors + [r.reason for r in reports if r.reason])
    else:
        verdict, reason = signatures_verdict(reports, facts)
    return AttachmentVerdict(
        *ident, applicable=True, verdict=verdict, reason=reason, signatures=reports, notes=tuple(notes)
    )


def package_verdict(
    attachments: tuple[AttachmentVerdict, ...], xml_signature: SignatureReport | None = None
) -> PackageVerdict:
    if xml_signature is not None and not xml_signature.valid:
        return PackageVerdict(
            Verdict.INVALID,
            xml_signature.reason,
            None,
            attachments,
            xml_signature,
            notes=("edXML Signature: " + xml_signature.detail,),
        )
    invalid = [a for a in attachments if a.verdict is Verdict.INVALID]
    if invalid:
        worst = most_severe([a.reason for a in invalid if a.reason is not None])
        culprit = next(a for a in invalid if a.reason is worst)
        return PackageVerdict(Verdict.INVALID, worst, culprit.name, attachments, xml_signature)
    applicable = [a for a in attachments if a.applicable]
    best = max((a.verdict for a in applicable), key=_RANK.__getitem__, default=Verdict.UNSIGNED)
    return PackageVerdict(best, None, None, attachments, xml_signature)
