"""Rendering packages the hub itself creates, in the layout the official SDKs emit.

Peers have rejected namespace-equivalent XML with other prefixes (domain.md §1.2), so the
output reproduces the SDK text layout exactly: default namespace on `edXML`, `edXML:` prefix
declared on `edXMLEnvelope` and used inside it, unprefixed `AttachmentEncoded`, element order of
§1.7, base64 on one line. Packages the hub forwards are never rendered: they go byte for byte.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import date, datetime
from xml.sax.saxutils import escape

from schemas.layout import NS
from schemas.models import (
    Bussiness,
    EdocPackage,
    Organization,
    ResponseFor,
    StaffInfo,
    StatusPackage,
    TraceHeaderList,
)

P = "edXML:"
# Characters XML 1.0 cannot carry at all (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/F).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    """Escape for element content. CR becomes &#13; (parsers turn a raw CR into LF); characters
    XML forbids become U+FFFD: the hub's own packages must stay well-formed whatever a message
    quoted (an lxml error text, a clerk's paste), and the replacement stays visible."""
    return escape(_FORBIDDEN.sub("\ufffd", value)).replace("\r", "&#13;")


class _W:
    def __init__(self) -> None:
        self.parts: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']

    def open(self, tag: str, depth: int, attrs: str = "") -> None:
        self.parts.append(f"{'  ' * depth}<{tag}{attrs}>\n")

    def close(self, tag: str, depth: int) -> None:
        self.parts.append(f"{'  ' * depth}</{tag}>\n")

    def leaf(self, tag: str, value: object, depth: int) -> None:
        if value is None:
            return
        text = _text(_fmt(value))
        self.parts.append(f"{'  ' * depth}<{tag}>{text}</{tag}>\n")

    def raw(self, xml: str, depth: int) -> None:
        self.parts.append(f"{'  ' * depth}{xml}\n")

    def extras(self, extras: tuple[str, ...], depth: int) -> None:
        for x in extras:
            self.raw(x, depth)

    def result(self) -> bytes:
        return "".join(self.parts).encode("utf-8")


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y/%m/%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y/%m/%d")
    if hasattr(value, "value") and not isinstance(value, int):
        return str(value.value)
    return str(int(value)) if isinstance(value, int) else str(value)


def _organization(w: _W, tag: str, org: Organization, d: int) -> None:
    w.open(P + tag, d)
    for name, value in (
        ("OrganId", org.organ_id), ("OrganizationInCharge", org.organization_in_charge),
        ("OrganName", org.organ_name), ("OrganAdd", org.organ_add), ("Email", org.email),
        ("Telephone", org.telephone), ("Fax", org.fax), ("Website", org.website),
    ):
        w.leaf(P + name, value, d + 1)
    w.extras(org.extras, d + 1)
    w.close(P + tag, d)


def _response_for(w: _W, rf: ResponseFor, d: int) -> None:
    w.open(P + "ResponseFor", d)
    w.leaf(P + "OrganId", rf.organ_id, d + 1)
    w.leaf(P + "Code", rf.code, d + 1)
    w.leaf(P + "PromulgationDate", rf.promulgation_date, d + 1)
    w.leaf(P + "DocumentId", rf.document_id, d + 1)
    w.extras(rf.extras, d + 1)
    w.close(P + "ResponseFor", d)


def _staff(w: _W, s: StaffInfo | None, d: int) -> None:
    if s is None:
        return
    w.open(P + "StaffInfo", d)
    w.leaf(P + "Department", s.department, d + 1)
    w.leaf(P + "Staff", s.staff, d + 1)
    w.leaf(P + "Mobile", s.mobile, d + 1)
    w.leaf(P + "Email", s.email, d + 1)
    w.extras(s.extras, d + 1)
    w.close(P + "StaffInfo", d)


def _bussiness(w: _W, b: Bussiness, d: int) -> None:
    w.open(P + "Bussiness", d)
    w.leaf(P + "BussinessDocType", int(b.doc_type), d + 1)
    w.leaf(P + "BussinessDocReason", b.reason, d + 1)
    w.leaf(P + "DocumentId", b.document_id, d + 1)
    w.leaf(P + "Paper", b.paper, d + 1)
    _staff(w, b.staff_info, d + 1)
    if b.document_info is not None:
        info = b.document_info
        w.open(P + "BussinessDocumentInfo", d + 1)
        w.leaf(P + "DocumentInfo", info.document_info, d + 2)
        w.leaf(P + "DocumentReceiver", info.document_receiver, d + 2)
        if info.receivers is not None:
            w.open(P + "ReceiverList", d + 2)
            for r in info.receivers:
                w.open(P + "Receiver", d + 3)
                w.leaf(P + "OrganId", r.organ_id, d + 4)
                w.leaf(P + "ReceiverType", r.receiver_type, d + 4)
                w.extras(r.extras, d + 4)
                w.close(P + "Receiver", d + 3)
            w.close(P + "ReceiverList", d + 2)
        w.extras(info.extras, d + 2)
        w.close(P + "BussinessDocumentInfo", d + 1)
    if b.replacements is not None:
        w.open(P + "ReplacementInfoList", d + 1)
        for rep in b.replacements:
            w.open(P + "ReplacementInfo", d + 2)
            w.leaf(P + "DocumentId", rep.document_id, d + 3)
            w.open(P + "OrganIdList", d + 3)
            for oid in rep.organ_ids:
                w.leaf(P + "OrganId", oid, d + 4)
            w.close(P + "OrganIdList", d + 3)
            w.extras(rep.extras, d + 3)
            w.close(P + "ReplacementInfo", d + 2)
        w.close(P + "ReplacementInfoList", d + 1)
    w.extras(b.extras, d + 1)
    w.close(P + "Bussiness", d)


def _trace(w: _W, t: TraceHeaderList | None, d: int) -> None:
    if t is None:
        return
    w.open(P + "TraceHeaderList", d)
    for th in t.trace_headers:
        w.open(P + "TraceHeader", d + 1)
        w.leaf(P + "OrganId", th.organ_id, d + 2)
        w.leaf(P + "Timestamp", th.timestamp, d + 2)
        w.extras(th.extras, d + 2)
        w.close(P + "TraceHeader", d + 1)
    if t.bussiness is not None:
        _bussiness(w, t.bussiness, d + 1)
    w.extras(t.extras, d + 1)
    w.close(P + "TraceHeaderList", d)


def _envelope_open(w: _W) -> None:
    w.open("edXML", 0, f' xmlns="{NS}"')
    w.open(P + "edXMLEnvelope", 1, f' xmlns:edXML="{NS}"')
    w.open(P + "edXMLHeader", 2)


def render_edoc(pkg: EdocPackage, payloads: Mapping[str, bytes]) -> bytes:
    """`payloads` maps each attachment's ContentId (with or without `cid:`) to its bytes.

    An XML signature is never fabricated: sign the result (signing.xmlsig) if one is wanted.
    """
    w = _W()
    _envelope_open(w)
    h = pkg.header
    d = 3
    w.open(P + "MessageHeader", d)
    _organization(w, "From", h.from_, d + 1)
    for org in h.to:
        _organization(w, "To", org, d + 1)
    w.leaf(P + "DocumentId", h.document_id, d + 1)
    w.open(P + "Code", d + 1)
    w.leaf(P + "CodeNumber", h.code.code_number, d + 2)
    w.leaf(P + "CodeNotation", h.code.code_notation, d + 2)
    w.extras(h.code.extras, d + 2)
    w.close(P + "Code", d + 1)
    w.open(P + "PromulgationInfo", d + 1)
    w.leaf(P + "Place", h.promulgation_info.place, d + 2)
    w.leaf(P + "PromulgationDate", h.promulgation_info.promulgation_date, d + 2)
    w.extras(h.promulgation_info.extras, d + 2)
    w.close(P + "PromulgationInfo", d + 1)
    w.open(P + "DocumentType", d + 1)
    w.leaf(P + "Type", h.document_type.type, d + 2)
    w.leaf(P + "TypeDetail", h.document_type.type_detail, d + 2)
    w.leaf(P + "TypeName", h.document_type.type_name, d + 2)
    w.extras(h.document_type.extras, d + 2)
    w.close(P + "DocumentType", d + 1)
    w.leaf(P + "Subject", h.subject, d + 1)
    w.leaf(P + "Content", h.content, d + 1)
    w.open(P + "SignerInfo", d + 1)
    w.leaf(P + "Competence", h.signer_info.competence, d + 2)
    w.leaf(P + "Position", h.signer_info.position, d + 2)
    w.leaf(P + "FullName", h.signer_info.full_name, d + 2)
    w.extras(h.signer_info.extras, d + 2)
    w.close(P + "SignerInfo", d + 1)
    w.leaf(P + "DueDate", h.due_date, d + 1)
    o = h.other_info
    w.open(P + "OtherInfo", d + 1)
    w.leaf(P + "Priority", int(o.priority), d + 2)
    w.leaf(P + "SphereOfPromulgation", o.sphere_of_promulgation, d + 2)
    w.leaf(P + "TyperNotation", o.typer_notation, d + 2)
    w.leaf(P + "PromulgationAmount", o.promulgation_amount, d + 2)
    w.leaf(P + "PageAmount", o.page_amount, d + 2)
    w.leaf(P + "Direction", o.direction, d + 2)
    if o.appendixes is not None:
        w.open(P + "Appendixes", d + 2)
        for appendix in o.appendixes:
            w.leaf(P + "Appendix", appendix, d + 3)
        w.close(P + "Appendixes", d + 2)
    w.extras(o.extras, d + 2)
    w.close(P + "OtherInfo", d + 1)
    for rf in h.response_for:
        _response_for(w, rf, d + 1)
    w.leaf(P + "SteeringType", h.steering_type, d + 1)
    if h.to_places is not None:
        w.open(P + "ToPlaces", d + 1)
        for place in h.to_places:
            w.leaf(P + "Place", place, d + 2)
        w.close(P + "ToPlaces", d + 1)
    w.extras(h.extras, d + 1)
    w.close(P + "MessageHeader", d)
    _trace(w, pkg.trace, d)
    w.close(P + "edXMLHeader", 2)
    w.open(P + "edXMLBody", 2)
    w.open(P + "edXMLManifest", 3, ' version="1.0"')
    for r in pkg.references:
        w.open(P + "Reference", 4)
        w.leaf(P + "ContentId", r.content_id, 5)
        w.leaf(P + "ContentType", r.content_type, 5)
        w.leaf(P + "Description", r.description, 5)
        w.leaf(P + "AttachmentName", r.attachment_name, 5)
        w.extras(r.extras, 5)
        w.close(P + "Reference", 4)
    w.close(P + "edXMLManifest", 3)
    w.close(P + "edXMLBody", 2)
    w.close(P + "edXMLEnvelope", 1)
    if pkg.attachments:
        by_cid = {k.removeprefix("cid:"): v for k, v in payloads.items()}
        w.open("AttachmentEncoded", 1)
        for a in pkg.attachments:
            w.open("Attachment", 2)
            w.leaf("ContentId", a.content_id, 3)
            w.leaf("AttachmentName", a.attachment_name, 3)
            w.leaf("Description", a.description, 3)
            w.leaf("ContentType", a.content_type, 3)
            data = by_cid[a.cid]
            w.leaf("ContentTransferEncoded", base64.b64encode(data).decode("ascii"), 3)
            w.leaf("Format", a.format, 3)
            w.extras(a.extras, 3)
            w.close("Attachment", 2)
        w.close("AttachmentEncoded", 1)
    w.extras(pkg.extras, 1)
    w.close("edXML", 0)
    return w.result()


def render_status(pkg: StatusPackage) -> bytes:
    w = _W()
    _envelope_open(w)
    h = pkg.header
    d = 3
    w.open(P + "MessageHeader", d)
    _organization(w, "From", h.from_, d + 1)
    _response_for(w, h.response_for, d + 1)
    _staff(w, h.staff_info, d + 1)
    w.leaf(P + "StatusCode", h.status_code.value, d + 1)
    w.leaf(P + "Description", h.description, d + 1)
    w.leaf(P + "Timestamp", h.timestamp, d + 1)
    w.extras(h.extras, d + 1)
    w.close(P + "MessageHeader", d)
    _trace(w, pkg.trace, d)
    w.close(P + "edXMLHeader", 2)
    w.close(P + "edXMLEnvelope", 1)
    w.extras(pkg.extras, 1)
    w.close("edXML", 0)
    return w.result()
