"""Entry points: `validate_package` (a report, never raises) and `parse_package` (raises
`PackageError` when the package has errors). Both read bytes, a file or chunks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Literal

from lxml import etree

from schemas.build import Builder, line_of, local, namespace
from schemas.findings import Code, Finding, PackageError, Severity, finding
from schemas.layout import NS
from schemas.limits import Bounded, within
from schemas.models import Attachment, EdocPackage, StatusPackage
from schemas.payload import AttachmentSink, Payload
from schemas.policy import ValidationOptions
from schemas.profiles import grade
from schemas.reader import RawDocument
from schemas.rules import check_edoc, check_status
from schemas.wholeread import read
from schemas.xsdcheck import validate_tree

Kind = Literal["edoc", "status"]
Source = bytes | IO[bytes] | Iterable[bytes]


@dataclass(frozen=True)
class AttachmentView:
    """An attachment's metadata with access to its decoded bytes (for signing, inspect)."""

    meta: Attachment
    payload: Payload

    @property
    def content_id(self) -> str:
        return self.meta.content_id

    @property
    def name(self) -> str:
        return self.meta.attachment_name

    @property
    def content_type(self) -> str:
        return self.meta.content_type

    def read(self) -> bytes:
        return self.payload.read()


@dataclass
class ParsedPackage:
    package: EdocPackage | StatusPackage
    document: RawDocument
    warnings: tuple[Finding, ...] = ()

    @property
    def kind(self) -> Kind:
        return self.package.kind

    @property
    def digest(self) -> str:
        return self.document.digest

    @property
    def size(self) -> int:
        return self.document.size

    def close(self) -> None:
        """Release the attachment spools (temporary files for big attachments)."""
        self.close_payloads(self.document)

    @staticmethod
    def close_payloads(document: RawDocument) -> None:
        for payload in document.payloads:
            payload.close()

    @property
    def attachments(self) -> list[AttachmentView]:
        if not isinstance(self.package, EdocPackage):
            return []
        return [AttachmentView(m, p) for m, p in zip(self.package.attachments, self.document.payloads, strict=False)]


@dataclass
class ValidationReport:
    """`document_id` and `sender` (From/OrganId) are what the package claims, read best-effort
    even when it is invalid (so a refusal can be recorded and traced by them), and only when
    within their bounds (schemas.limits): an oversized value is never carried further."""

    valid: bool
    kind: Kind | None
    document_id: str | None
    findings: list[Finding] = field(default_factory=list)
    parsed: ParsedPackage | None = None
    sender: str | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]


_ENVELOPE, _HEADER, _STATUS_CODE = (f"{{{NS}}}{n}" for n in ("edXMLEnvelope", "edXMLHeader", "StatusCode"))
_EDXML = f"{{{NS}}}edXML"
_CONTAINERS = tuple(f"{{{NS}}}{n}" for n in ("MessageHeader", "Status"))


def _kind(root: etree._Element) -> Kind:
    """edoc or status, from the shape; anything else is NOT_EDXML with the reason."""
    if root.tag != _EDXML:
        got = f"{{{namespace(root)}}}{local(root)}" if namespace(root) else local(root)
        raise PackageError([
            finding(
                Code.NOT_EDXML, "/" + (local(root) or "?"),
                f"Phần tử gốc phải là edXML trong không gian tên {NS}, nhận được {got}",
                f"root element must be edXML in namespace {NS}, got {got}",
                line=line_of(root),
            )
        ])
    header = None
    for env in root.iterchildren(_ENVELOPE):  # tag-filtered in C: no proxy for the others
        for h in env.iterchildren(_HEADER):
            header = h
    if header is None:
        raise PackageError([
            finding(
                Code.NOT_EDXML, "/edXML/edXMLEnvelope/edXMLHeader",
                "Không có edXMLEnvelope/edXMLHeader", "no edXMLEnvelope/edXMLHeader element",
                line=line_of(root),
            )
        ])
    for mh in header.iterchildren(*_CONTAINERS):
        return "status" if next(mh.iterchildren(_STATUS_CODE), None) is not None else "edoc"
    raise PackageError([
        finding(
            Code.NOT_EDXML, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader",
            "Không có MessageHeader (hoặc Status)", "no MessageHeader (or Status) element",
            line=line_of(header),
        )
    ])


def validate_package(
    source: Source, options: ValidationOptions | None = None, sink: AttachmentSink | None = None,
    *, digest: str | None = None,
) -> ValidationReport:
    """`digest`: the body's SHA-256 when the caller has it already (then it is not hashed again)."""
    options = options or ValidationOptions()
    try:
        doc = read(source, options.limits, sink, digest)
        kind = _kind(doc.root)
    except PackageError as exc:
        return ValidationReport(False, None, None, list(exc.findings))
    findings = validate_tree(doc.root, kind, options.profile)
    if any(f.is_error for f in findings):
        ParsedPackage.close_payloads(doc)
        return ValidationReport(False, kind, _raw_document_id(doc.root, kind), findings,
                                sender=_raw_sender(doc.root))
    builder = Builder(doc, tolerant_organ_ids=options.tolerant_organ_ids)
    builder.limits_unzipped = options.limits.max_unzipped_bytes
    builder.limits_ratio = options.limits.max_zip_ratio
    package: EdocPackage | StatusPackage = builder.edoc() if kind == "edoc" else builder.status()
    findings += grade(builder.findings, options.profile)
    if not any(f.is_error for f in findings):
        if isinstance(package, EdocPackage):
            findings += grade(check_edoc(package, builder.lines, options), options.profile)
        else:
            findings += grade(check_status(package, builder.lines, options), options.profile)
    valid = not any(f.is_error for f in findings)
    parsed = ParsedPackage(package, doc, tuple(f for f in findings if not f.is_error))
    if not valid:
        parsed.close()
    return ValidationReport(valid, kind, within(Bounded.DOCUMENT_ID, package.document_id), findings,
                            parsed if valid else None, sender=within(Bounded.ORGAN_ID, package.sender))


def parse_package(
    source: Source, options: ValidationOptions | None = None, sink: AttachmentSink | None = None
) -> ParsedPackage:
    report = validate_package(source, options, sink)
    if report.parsed is None:
        raise PackageError(report.errors or report.findings)
    return report.parsed


def _raw_document_id(root: etree._Element, kind: Kind) -> str | None:
    """Best effort for reports of packages that failed the XSD."""
    want = "ResponseFor" if kind == "status" else "MessageHeader"
    return within(Bounded.DOCUMENT_ID, _raw_text(root, "DocumentId", want))


def _raw_sender(root: etree._Element) -> str | None:
    """Best effort: From/OrganId, for the record of a package that failed the XSD."""
    return within(Bounded.ORGAN_ID, _raw_text(root, "OrganId", "From"))


def _raw_text(root: etree._Element, name: str, parent_name: str) -> str | None:
    for el in root.iter(f"{{{NS}}}{name}"):
        parent = el.getparent()
        if parent is not None and local(parent) == parent_name:
            return (el.text or "").strip()
    return None
