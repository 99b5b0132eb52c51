"""What the verifiers need to know about a package, independent of how it was parsed.

The verifiers take these neutral values rather than the schemas models so the signing core can be
tested (and run in worker processes) without the router's parse step, and so a PDF checked from
the command line goes through the same code as one taken from a package.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.models import EdocPackage
from schemas.parse import ParsedPackage


@dataclass(frozen=True)
class AttachmentBlob:
    """One attachment as decoded from `AttachmentEncoded/Attachment` (still possibly zipped)."""

    content_id: str
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class PackageFacts:
    """The header fields the signatures are matched against, plus the attachments.

    `signer_full_name` is `MessageHeader/SignerInfo/FullName`; the organ fields are
    `MessageHeader/From/OrganId` and `From/OrganName`.  Empty strings mean "unknown" (a bare PDF
    checked from the command line): classification then falls back to the certificate alone.
    """

    signer_full_name: str
    from_organ_id: str
    from_organ_name: str
    attachments: tuple[AttachmentBlob, ...]

    @property
    def known(self) -> bool:
        return bool(self.signer_full_name or self.from_organ_id or self.from_organ_name)


def facts_for_file(name: str, data: bytes, content_type: str = "application/pdf") -> PackageFacts:
    """Facts for a lone file (no package): nothing to match the signers against."""
    return PackageFacts("", "", "", (AttachmentBlob("cid:file", name, content_type, data),))


def facts_from_parsed(parsed: ParsedPackage) -> PackageFacts:
    """Adapt `schemas.parse.parse_package(...)`'s result.  A status package has no SignerInfo
    and no attachments: its facts name only the sending organ."""
    package = parsed.package
    signer = package.header.signer_info.full_name if isinstance(package, EdocPackage) else ""
    return PackageFacts(
        signer_full_name=signer or "",
        from_organ_id=package.header.from_.organ_id or "",
        from_organ_name=package.header.from_.organ_name or "",
        attachments=tuple(AttachmentBlob(a.content_id, a.name, a.content_type, a.read()) for a in parsed.attachments),
    )
