"""Tree → model, tolerant of order, prefixes and spelling variants; value problems become findings.

Works on the tree exactly as received (no copy), looking children up by local name, so a
package in SDK order and one in any other order produce the same model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from lxml import etree

from schemas.codes import BussinessDocType, Priority, StatusCode
from schemas.findings import Code, Finding, Severity, finding
from schemas.layout import (
    EDOC,
    NS,
    STATUS,
    Node,
)
from schemas.models import (
    Attachment,
    Bussiness,
    BussinessDocumentInfo,
    DocumentCode,
    DocumentType,
    EdocPackage,
    MessageHeader,
    Organization,
    OtherInfo,
    PromulgationInfo,
    Receiver,
    Reference,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusHeader,
    StatusPackage,
    TraceHeader,
    TraceHeaderList,
)
from schemas.organ import shape_of
from schemas.payload import PayloadProblem, detect_type, inspect_zip
from schemas.reader import RawDocument

T = TypeVar("T")

_DATE = re.compile(r"^([0-9]{4})/([0-9]{2})/([0-9]{2})\Z")
_DATE_LEGACY = re.compile(r"^([0-9]{2})/([0-9]{2})/([0-9]{4})\Z")
_DATE_DASH = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
_TS = re.compile(r"^([0-9]{4})/([0-9]{2})/([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")
_TS_LEGACY = re.compile(r"^([0-9]{2})/([0-9]{2})/([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")
_TS_ISO = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})")


def line_of(el: etree._Element) -> int | None:
    """lxml-stubs type sourceline loosely; the value is an int or None."""
    line = el.sourceline
    return line if isinstance(line, int) else None


def local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def namespace(el: etree._Element) -> str:
    tag = el.tag
    return tag[1:].partition("}")[0] if isinstance(tag, str) and tag[:1] == "{" else ""


_Index = tuple[dict[str, str], dict[str, str]]
_INDEXES: dict[int, _Index] = {}


def _index(node: Node) -> _Index:
    """Clark tag → canonical child name, and local name → name for any-namespace children.

    Keyed by identity: layout nodes are module constants, and hashing a frozen Node would walk
    its whole subtree on every lookup.
    """
    found = _INDEXES.get(id(node))
    if found is None:
        by_tag: dict[str, str] = {}
        any_ns: dict[str, str] = {}
        for spec in node.children:
            for name in (spec.name, *spec.aliases):
                if spec.any_namespace:
                    any_ns[name] = spec.name
                else:
                    by_tag[f"{{{NS}}}{name}"] = spec.name
        found = _INDEXES[id(node)] = (by_tag, any_ns)
    return found


class Kids:
    """Children of one element grouped by (canonical) local name; the rest are extras."""

    __slots__ = ("by_name", "extras", "path")

    def __init__(self, el: etree._Element, node: Node, path: str) -> None:
        self.path = path
        self.by_name: dict[str, list[etree._Element]] = {}
        self.extras: list[etree._Element] = []
        by_tag, any_ns = _index(node)
        for c in el:
            tag = c.tag
            if not isinstance(tag, str):
                continue
            name = by_tag.get(tag)
            if name is None and any_ns:
                name = any_ns.get(tag.rpartition("}")[2])
            if name is not None:
                self.by_name.setdefault(name, []).append(c)
            else:
                self.extras.append(c)

    def get(self, name: str) -> etree._Element | None:
        found = self.by_name.get(name)
        return found[0] if found else None

    def all(self, name: str) -> list[etree._Element]:
        return self.by_name.get(name, [])


_STEP = re.compile(r"^([^\[\]]+)(?:\[([0-9]+)\])?\Z")


class PathLines(dict[str, int]):
    """Source line of the element a finding's path names, found when a finding asks for it.

    Findings are rare and values are many: recording a path and a line for every value read
    cost more than building the model. `get` walks the tree along the path with the layout's
    names and aliases, exactly as the builder grouped children, so `To[2]` is the second To.
    """

    def __init__(self, root: etree._Element) -> None:
        super().__init__()
        self.root = root
        self.layout = EDOC

    def get(self, path: str, default: int | None = None) -> int | None:  # type: ignore[override]
        el = self.element(path)
        return line_of(el) if el is not None else default

    def element(self, path: str) -> etree._Element | None:
        steps = [s for s in path.split("/") if s]
        if not steps or steps[0] != "edXML":
            return None
        el, node = self.root, self.layout
        for step in steps[1:]:
            m = _STEP.match(step)
            spec = node.child(m[1]) if m else None
            if m is None or spec is None:
                return None
            matches = Kids(el, node, "").all(spec.name)
            index = int(m[2] or 1)
            if not 0 < index <= len(matches):
                return None
            el, node = matches[index - 1], spec
        return el


class Builder:
    """Builds models and collects value-level findings; `lines` finds an element path's line."""

    def __init__(self, doc: RawDocument, *, tolerant_organ_ids: bool = True) -> None:
        self.doc = doc
        self.findings: list[Finding] = []
        self.lines = PathLines(doc.root)
        self.tolerant = tolerant_organ_ids

    # -- helpers --------------------------------------------------------------------------
    def add(self, code: Code, path: str, vi: str, en: str, *, severity: Severity = Severity.ERROR) -> None:
        self.findings.append(finding(code, path, vi, en, line=self.lines.get(path), severity=severity))

    def kids(self, el: etree._Element, node: Node, path: str) -> Kids:
        return Kids(el, node, path)

    def child_path(self, k: Kids, name: str, index: int | None = None) -> str:
        return f"{k.path}/{name}" + (f"[{index}]" if index is not None else "")

    def text(self, k: Kids, name: str, default: str = "") -> str:
        el = k.get(name)
        if el is None:
            return default
        return (el.text or "").strip()

    def opt_text(self, k: Kids, name: str) -> str | None:
        return self.text(k, name) if k.get(name) is not None else None

    def extras(self, k: Kids) -> tuple[str, ...]:
        if not k.extras:
            return ()
        return tuple(etree.tostring(e, encoding="unicode", with_tail=False) for e in k.extras)

    def each(
        self, k: Kids, name: str, node: Node, build: Callable[[Kids], T]
    ) -> tuple[T, ...]:
        out = []
        for i, el in enumerate(k.all(name), start=1):
            out.append(build(self.kids(el, node, self.child_path(k, name, i))))
        return tuple(out)

    def sub(self, k: Kids, name: str, parent: Node, build: Callable[[Kids], T]) -> T | None:
        el = k.get(name)
        if el is None:
            return None
        node = parent.child(name)
        assert node is not None
        return build(self.kids(el, node, self.child_path(k, name)))

    def integer(self, k: Kids, name: str, default: int | None = None) -> int | None:
        raw = self.text(k, name) if k.get(name) is not None else None
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            path = self.child_path(k, name)
            self.add(
                Code.SCHEMA_VIOLATION, path,
                f"Trường {name} phải là số nguyên, nhận được '{raw}'",
                f"{name} must be an integer, got '{raw}'",
            )
            return default

    def code_list(self, k: Kids, name: str, enum: Callable[[int], T], default: T) -> T:
        value = self.integer(k, name)
        if value is None:
            return default
        try:
            return enum(value)
        except ValueError:
            path = self.child_path(k, name)
            self.add(
                Code.CODE_LIST_VALUE, path,
                f"Giá trị {value} của {name} không thuộc bảng mã",
                f"{name} value {value} is not in its code list",
            )
            return default

    def organ_id(self, k: Kids, name: str = "OrganId", *, allow_empty: bool = False) -> str:
        """The value, with a finding unless it is a strict code. An absent element is the XSD's
        to report; an empty one, where `allow_empty`, the rule that wants it (ResponseFor)."""
        if k.get(name) is None:
            return ""
        value = self.text(k, name)
        if value == "" and allow_empty:
            return value
        path = self.child_path(k, name)
        shape = shape_of(value)
        if shape == "strict":
            return value
        if shape == "tolerant" and self.tolerant:
            self.add(
                Code.ORGAN_ID_NONSTANDARD, path,
                f"Mã định danh '{value}' không đúng dạng chuẩn (chỉ khớp dạng mở rộng)",
                f"organ code '{value}' matches only the tolerant shape",
                severity=Severity.WARNING,
            )
        elif shape == "legacy":
            self.add(
                Code.ORGAN_ID_LEGACY, path,
                f"Mã định danh '{value}' theo quy cách cũ (trước 2020), không phải dạng LLL.KK.JJ.XNN",
                f"organ code '{value}' is of the pre-2020 three-group scheme, not LLL.KK.JJ.XNN",
            )
        elif shape == "connector":
            self.add(
                Code.ORGAN_ID_CONNECTOR, path,
                f"'{value}' là mã kết nối dùng chung (SaaS) của trục quốc gia, không phải mã định danh LLL.KK.JJ.XNN",
                f"'{value}' is a national-axis SaaS connector id, not an organ code LLL.KK.JJ.XNN",
            )
        else:
            self.add(
                Code.ORGAN_ID_INVALID, path,
                f"Mã định danh '{value}' không đúng dạng LLL.KK.JJ.XNN",
                f"organ code '{value}' is not of the shape LLL.KK.JJ.XNN",
            )
        return value

    def date_value(self, k: Kids, name: str, *, required: bool = True) -> date | None:
        el = k.get(name)
        if el is None:
            return None
        raw = self.text(k, name)
        path = self.child_path(k, name)
        if raw == "" and not required:
            return None
        parsed: date | None = None
        legacy = False
        if m := _DATE.match(raw):
            parsed = _mkdate(int(m[1]), int(m[2]), int(m[3]))
        elif m := _DATE_LEGACY.match(raw):
            parsed, legacy = _mkdate(int(m[3]), int(m[2]), int(m[1])), True
        elif m := _DATE_DASH.match(raw):
            parsed, legacy = _mkdate(int(m[1]), int(m[2]), int(m[3])), True
        self._report_time(path, name, raw, parsed is not None, legacy, ("Ngày", "date"), "yyyy/MM/dd")
        return parsed

    def timestamp(self, k: Kids, name: str) -> datetime | None:
        if k.get(name) is None:
            return None  # absent: the XSD's to report
        raw = self.text(k, name)
        path = self.child_path(k, name)
        value: datetime | None = None
        legacy = False
        if m := _TS.match(raw):
            value = _mkts(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))
        elif m := _TS_LEGACY.match(raw):
            value, legacy = _mkts(int(m[3]), int(m[2]), int(m[1]), int(m[4]), int(m[5]), int(m[6])), True
        elif m := _TS_ISO.match(raw):
            value, legacy = _mkts(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6])), True
        self._report_time(path, name, raw, value is not None, legacy, ("Thời điểm", "timestamp"),
                          "yyyy/MM/dd HH:mm:ss")
        return value

    def _report_time(
        self, path: str, name: str, raw: str, ok: bool, legacy: bool, noun: tuple[str, str], fmt: str
    ) -> None:
        """Dates and timestamps fail or fall back to a legacy format the same way."""
        if not ok:
            self.add(
                Code.DATE_INVALID, path,
                f"{noun[0]} '{raw}' của {name} không hợp lệ (định dạng {fmt})",
                f"{name} '{raw}' is not a valid {noun[1]} (format {fmt})",
            )
        elif legacy:
            self.add(
                Code.DATE_LEGACY_FORMAT, path,
                f"{noun[0]} '{raw}' của {name} theo định dạng cũ; nên dùng {fmt}",
                f"{name} '{raw}' uses a legacy format; use {fmt}",
                severity=Severity.WARNING,
            )

    # -- models ---------------------------------------------------------------------------
    def organization(self, k: Kids) -> Organization:
        return Organization(
            organ_id=self.organ_id(k),
            organization_in_charge=self.text(k, "OrganizationInCharge"),
            organ_name=self.text(k, "OrganName"),
            organ_add=self.text(k, "OrganAdd"),
            email=self.text(k, "Email"),
            telephone=self.text(k, "Telephone"),
            fax=self.text(k, "Fax"),
            website=self.text(k, "Website"),
            extras=self.extras(k),
        )

    def staff(self, k: Kids) -> StaffInfo:
        return StaffInfo(
            department=self.opt_text(k, "Department"),
            staff=self.opt_text(k, "Staff"),
            mobile=self.opt_text(k, "Mobile"),
            email=self.opt_text(k, "Email"),
            extras=self.extras(k),
        )

    def response_for(self, k: Kids) -> ResponseFor:
        return ResponseFor(
            organ_id=self.organ_id(k, allow_empty=True),
            code=self.text(k, "Code"),
            promulgation_date=self.date_value(k, "PromulgationDate", required=False) or date.min,
            document_id=self.text(k, "DocumentId"),
            extras=self.extras(k),
        )

    def trace_list(self, k: Kids, node: Node) -> TraceHeaderList:
        th_node = node.child("TraceHeader")
        assert th_node is not None
        headers = self.each(
            k, "TraceHeader", th_node,
            lambda t: TraceHeader(
                organ_id=self.organ_id(t), timestamp=self.timestamp(t, "Timestamp") or datetime.min,
                extras=self.extras(t),
            ),
        )
        return TraceHeaderList(
            trace_headers=headers,
            bussiness=self.sub(k, "Bussiness", node, self.bussiness),
            extras=self.extras(k),
        )

    def bussiness(self, k: Kids) -> Bussiness:
        node = TRACE_NODE.child("Bussiness")
        assert node is not None
        doc_type = self.code_list(k, "BussinessDocType", BussinessDocType, BussinessDocType.NEW)
        info = self.sub(k, "BussinessDocumentInfo", node, self.document_info)
        repl_node = node.child("ReplacementInfoList")
        assert repl_node is not None
        replacements = self.sub(
            k, "ReplacementInfoList", node,
            lambda rl: self.each(rl, "ReplacementInfo", repl_node.children[0], self.replacement),
        )
        return Bussiness(
            doc_type=doc_type,
            reason=self.text(k, "BussinessDocReason"),
            document_id=self.opt_text(k, "DocumentId"),
            paper=self.integer(k, "Paper"),
            staff_info=self.sub(k, "StaffInfo", node, self.staff),
            document_info=info,
            replacements=replacements,
            extras=self.extras(k),
        )

    def document_info(self, k: Kids) -> BussinessDocumentInfo:
        node = TRACE_NODE.child("Bussiness")
        assert node is not None
        info_node = node.child("BussinessDocumentInfo")
        assert info_node is not None
        rl_node = info_node.child("ReceiverList")
        assert rl_node is not None
        receivers = self.sub(
            k, "ReceiverList", info_node,
            lambda rl: self.each(
                rl, "Receiver", rl_node.children[0],
                lambda r: Receiver(
                    organ_id=self.organ_id(r), receiver_type=self.integer(r, "ReceiverType", 0) or 0,
                    extras=self.extras(r),
                ),
            ),
        )
        return BussinessDocumentInfo(
            document_info=self.text(k, "DocumentInfo", "0"),
            document_receiver=self.text(k, "DocumentReceiver", "0"),
            receivers=receivers,
            extras=self.extras(k),
        )

    def replacement(self, k: Kids) -> ReplacementInfo:
        ids: tuple[str, ...] = ()
        lst = k.get("OrganIdList")
        if lst is not None:
            sub = self.kids(lst, REPLACEMENT_NODE.children[1], self.child_path(k, "OrganIdList"))
            ids = tuple((e.text or "").strip() for e in sub.all("OrganId"))
        return ReplacementInfo(document_id=self.text(k, "DocumentId"), organ_ids=ids, extras=self.extras(k))

    def message_header(self, k: Kids, node: Node) -> MessageHeader:
        def child(name: str) -> Node:
            c = node.child(name)
            assert c is not None
            return c

        frm = self.sub(k, "From", node, self.organization)
        code = self.sub(
            k, "Code", node,
            lambda c: DocumentCode(
                code_number=self.text(c, "CodeNumber"), code_notation=self.text(c, "CodeNotation"),
                extras=self.extras(c),
            ),
        )
        prom = self.sub(
            k, "PromulgationInfo", node,
            lambda p: PromulgationInfo(
                place=self.text(p, "Place"),
                promulgation_date=self.date_value(p, "PromulgationDate") or date.min,
                extras=self.extras(p),
            ),
        )
        dtype = self.sub(
            k, "DocumentType", node,
            lambda d: DocumentType(
                type=self.integer(d, "Type", 0) or 0,
                type_detail=self.integer(d, "TypeDetail"),
                type_name=self.text(d, "TypeName"),
                extras=self.extras(d),
            ),
        )
        signer = self.sub(
            k, "SignerInfo", node,
            lambda s: SignerInfo(
                competence=self.text(s, "Competence"), position=self.text(s, "Position"),
                full_name=self.text(s, "FullName"), extras=self.extras(s),
            ),
        )
        other = self.sub(k, "OtherInfo", node, self.other_info)
        to_places = self.sub(
            k, "ToPlaces", node,
            lambda tp: tuple((e.text or "").strip() for e in tp.all("Place")),
        )
        return MessageHeader(
            from_=frm or Organization(organ_id=""),
            to=self.each(k, "To", child("To"), self.organization),
            document_id=self.text(k, "DocumentId"),
            code=code or DocumentCode(code_number="", code_notation=""),
            promulgation_info=prom or PromulgationInfo(promulgation_date=date.min),
            document_type=dtype or DocumentType(type=0),
            subject=self.text(k, "Subject"),
            content=self.text(k, "Content"),
            signer_info=signer or SignerInfo(full_name=""),
            due_date=self.date_value(k, "DueDate", required=False),
            other_info=other or OtherInfo(),
            response_for=self.each(k, "ResponseFor", child("ResponseFor"), self.response_for),
            steering_type=self.integer(k, "SteeringType"),
            to_places=to_places,
            extras=self.extras(k),
        )

    def other_info(self, k: Kids) -> OtherInfo:
        direction = self.opt_text(k, "Direction")
        appendixes = None
        app = k.get("Appendixes")
        if app is not None:
            appendixes = tuple((e.text or "").strip() for e in app if local(e) == "Appendix")
        return OtherInfo(
            priority=self.code_list(k, "Priority", Priority, Priority.NORMAL),
            sphere_of_promulgation=self.opt_text(k, "SphereOfPromulgation"),
            typer_notation=self.opt_text(k, "TyperNotation"),
            promulgation_amount=self.integer(k, "PromulgationAmount"),
            page_amount=self.integer(k, "PageAmount"),
            direction=None if direction is None else direction.lower() in ("true", "1"),
            appendixes=appendixes,
            extras=self.extras(k),
        )

    def attachment(self, k: Kids, el: etree._Element) -> Attachment:
        ct = k.get("ContentTransferEncoded")
        payload = self.doc.payload_of(ct) if ct is not None else None
        size, digest, head = (payload.size, payload.sha256, payload.head) if payload else (0, "", b"")
        zip_entries = None
        if payload is not None and payload.is_zip and payload.handle is not None:
            try:
                entries = inspect_zip(payload.open(), self.limits_unzipped, self.limits_ratio)
                zip_entries = tuple((e.name, e.size) for e in entries)
            except PayloadProblem as p:
                self.add(p.code, self.child_path(k, "ContentTransferEncoded"), p.vi, p.en)
        return Attachment(
            content_id=self.text(k, "ContentId"),
            attachment_name=self.text(k, "AttachmentName"),
            description=self.text(k, "Description"),
            content_type=self.text(k, "ContentType"),
            format=self.opt_text(k, "Format"),
            size=size,
            sha256=digest,
            detected_type=detect_type(head),
            zip_entries=zip_entries,
            extras=self.extras(k),
        )

    limits_unzipped = 200 * 1024 * 1024
    limits_ratio = 200

    def reference(self, k: Kids) -> Reference:
        return Reference(
            content_id=self.text(k, "ContentId"),
            content_type=self.text(k, "ContentType"),
            description=self.text(k, "Description"),
            attachment_name=self.text(k, "AttachmentName"),
            extras=self.extras(k),
        )

    # -- packages -------------------------------------------------------------------------
    def edoc(self) -> EdocPackage:
        root = self.doc.root
        rk = self.kids(root, EDOC, "/edXML")
        env_node, att_node = EDOC.children
        header_node, body_node = env_node.children
        env_el = rk.get("edXMLEnvelope")
        assert env_el is not None
        ek = self.kids(env_el, env_node, "/edXML/edXMLEnvelope")
        hk = self.kids(ek.get("edXMLHeader"), header_node, ek.path + "/edXMLHeader")  # type: ignore[arg-type]
        mh_el = hk.get("MessageHeader")
        assert mh_el is not None
        mh_node = header_node.children[0]
        header = self.message_header(self.kids(mh_el, mh_node, hk.path + "/MessageHeader"), mh_node)
        trace = self.sub(hk, "TraceHeaderList", header_node, lambda t: self.trace_list(t, TRACE_NODE))
        references: tuple[Reference, ...] = ()
        body = ek.get("edXMLBody")
        body_extras: tuple[str, ...] = ()
        if body is not None:
            bk = self.kids(body, body_node, ek.path + "/edXMLBody")
            body_extras = self.extras(bk)
            man = bk.get("edXMLManifest")
            if man is not None:
                mk = self.kids(man, body_node.children[0], bk.path + "/edXMLManifest")
                references = self.each(mk, "Reference", body_node.children[0].children[0], self.reference)
        attachments: tuple[Attachment, ...] = ()
        enc = rk.get("AttachmentEncoded")
        if enc is not None:
            ak = self.kids(enc, att_node, "/edXML/AttachmentEncoded")
            out = []
            for i, el in enumerate(ak.all("Attachment"), start=1):
                kk = self.kids(el, att_node.children[0], f"{ak.path}/Attachment[{i}]")
                out.append(self.attachment(kk, el))
            attachments = tuple(out)
        sig = hk.get("Signature")
        return EdocPackage(
            header=header,
            trace=trace,
            signature_present=sig is not None,
            references=references,
            attachments=attachments,
            extras=self.extras(rk) + self.extras(ek) + self.extras(hk) + body_extras,
        )

    def status(self) -> StatusPackage:
        self.lines.layout = STATUS
        root = self.doc.root
        rk = self.kids(root, STATUS, "/edXML")
        env_node = STATUS.children[0]
        header_node = env_node.children[0]
        env_el = rk.get("edXMLEnvelope")
        assert env_el is not None
        ek = self.kids(env_el, env_node, "/edXML/edXMLEnvelope")
        hk = self.kids(ek.get("edXMLHeader"), header_node, ek.path + "/edXMLHeader")  # type: ignore[arg-type]
        mh_node = header_node.children[0]
        mh_el = hk.get("MessageHeader")
        assert mh_el is not None
        k = self.kids(mh_el, mh_node, hk.path + "/MessageHeader")
        frm = self.sub(k, "From", mh_node, self.organization)
        rf = self.sub(k, "ResponseFor", mh_node, self.response_for)
        code_text = self.text(k, "StatusCode")
        try:
            status_code = StatusCode(code_text)
        except ValueError:
            self.add(
                Code.CODE_LIST_VALUE, k.path + "/StatusCode",
                f"StatusCode '{code_text}' phải gồm hai chữ số",
                f"StatusCode '{code_text}' must be two digits",
            )
            status_code = StatusCode.ARRIVED
        else:
            if not status_code.known:
                self.add(
                    Code.CODE_LIST_VALUE, k.path + "/StatusCode",
                    f"StatusCode '{code_text}' không thuộc 9 mã đang dùng; vẫn được chuyển tiếp",
                    f"StatusCode '{code_text}' is not one of the nine codes in use; forwarded as is",
                    severity=Severity.WARNING,
                )
        header = StatusHeader(
            from_=frm or Organization(organ_id=""),
            response_for=rf or ResponseFor(organ_id="", code="", promulgation_date=date.min, document_id=""),
            staff_info=self.sub(k, "StaffInfo", mh_node, self.staff),
            status_code=status_code,
            description=self.text(k, "Description"),
            timestamp=self.timestamp(k, "Timestamp") or datetime.min,
            extras=self.extras(k),
        )
        trace = self.sub(hk, "TraceHeaderList", header_node, lambda t: self.trace_list(t, TRACE_NODE))
        return StatusPackage(
            header=header,
            trace=trace,
            signature_present=hk.get("Signature") is not None,
            extras=self.extras(rk) + self.extras(ek) + self.extras(hk),
        )


TRACE_NODE = EDOC.children[0].children[0].children[1]
REPLACEMENT_NODE = TRACE_NODE.children[1].children[6].children[0]


def _mkdate(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _mkts(y: int, mo: int, d: int, h: int, mi: int, s: int) -> datetime | None:
    try:
        return datetime(y, mo, d, h, mi, s)
    except ValueError:
        return None
