"""Tree → model, tolerant of order, prefixes and spelling variants; value problems become findings.

Works on the tree exactly as received (no copy), looking children up by local name, so a
package in SDK order and one in any other order produce the same model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar, cast

from lxml import etree

from schemas import walker
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
    Digest,
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
    made,
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
    line: object = cast(Any, el).sourceline
    return line if isinstance(line, int) else None


# Read through `Any`: a comment's or a processing instruction's tag is a function, not the `str`
# of lxml-stubs, and compiled by mypyc a typed attribute is checked as it is read (schemas/__init__.py)


def local(el: etree._Element) -> str:
    tag: object = cast(Any, el).tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def namespace(el: etree._Element) -> str:
    tag: object = cast(Any, el).tag
    return tag[1:].partition("}")[0] if isinstance(tag, str) and tag[:1] == "{" else ""


_Names = tuple[tuple[bytes, str], ...]  # (local name's UTF-8 bytes, canonical name): the C grouping's tables
_Index = tuple[dict[object, str], dict[str, str], dict[str, Node], frozenset[str], _Names, _Names]
_INDEXES: dict[int, _Index] = {}
_Grouped = tuple[
    dict[str, etree._Element], dict[str, str], dict[str, list[etree._Element]] | None, list[etree._Element] | None
]


_WALK = walker()
_GROUP: Callable[[etree._Element, _Names, _Names, frozenset[str]], _Grouped] | None = _WALK.group if _WALK else None


def _index(node: Node) -> _Index:
    """Clark tag → canonical child name, local name → name for any-namespace children, name or
    alias → child node, the names of the leaf children, and the first two as tables of the local
    name's UTF-8 bytes and the name (for the C grouping, which compares C strings).

    Keyed by identity: layout nodes are module constants, and hashing a frozen Node would walk
    its whole subtree on every lookup.
    """
    found = _INDEXES.get(id(node))
    if found is None:
        by_tag: dict[object, str] = {}
        any_ns: dict[str, str] = {}
        specs: dict[str, Node] = {}
        for spec in node.children:
            for name in (spec.name, *spec.aliases):
                specs.setdefault(name, spec)
                if spec.any_namespace:
                    any_ns[name] = spec.name
                else:
                    by_tag[f"{{{NS}}}{name}"] = spec.name
        leaves = frozenset(spec.name for spec in node.children if spec.leaf)
        ns_bytes = tuple((str(tag).rpartition("}")[2].encode("utf-8"), name) for tag, name in by_tag.items())
        any_bytes = tuple((local.encode("utf-8"), name) for local, name in any_ns.items())
        found = _INDEXES[id(node)] = (by_tag, any_ns, specs, leaves, ns_bytes, any_bytes)
    return found


def child_node(node: Node, name: str) -> Node:
    """`node.child(name)` for a name the layout has, from the index (no scan of the children)."""
    return (_INDEXES.get(id(node)) or _index(node))[2][name]


_NO_EXTRAS: tuple[etree._Element, ...] = ()


def group(el: etree._Element, by_tag: dict[object, str], any_ns: dict[str, str], leaves: frozenset[str]) -> _Grouped:
    """(first, texts, more, extras) of `el`'s children (`Kids`); schemas/_walk.pyx is its C twin."""
    first: dict[str, etree._Element] = {}
    texts: dict[str, str] = {}
    more: dict[str, list[etree._Element]] | None = None
    extras: list[etree._Element] | None = None
    for c in el:
        tag: object = cast(Any, c).tag
        name = by_tag.get(tag)  # a comment's tag is a function: no name either
        if name is None:
            if not isinstance(tag, str):
                continue
            if any_ns:
                name = any_ns.get(tag.rpartition("}")[2])
            if name is None:
                if extras is None:
                    extras = []
                extras.append(c)
                continue
        if name in first:
            if more is None:
                more = {}
            more.setdefault(name, []).append(c)
        else:
            first[name] = c
            if name in leaves:
                text = c.text
                texts[name] = text.strip() if text else ""
    return first, texts, more, extras


class Kids:
    """Children of one element grouped by (canonical) local name; the rest are extras.

    The first of each name is kept apart from any further ones: almost every name occurs once,
    and a list per name cost more than the rest of the grouping. The stripped text of the first
    of each leaf is read on the way (`texts`): it is what the builder asks for next."""

    __slots__ = ("extras", "first", "more", "path", "texts")

    def __init__(self, el: etree._Element, node: Node, path: str) -> None:
        self.path = path
        by_tag, any_ns, _, leaves, ns_bytes, any_bytes = _INDEXES.get(id(node)) or _index(node)
        if _GROUP is not None:
            first, texts, more, extras = _GROUP(el, ns_bytes, any_bytes, leaves)
        else:
            first, texts, more, extras = group(el, by_tag, any_ns, leaves)
        self.first = first
        self.texts = texts
        self.more = more
        self.extras: list[etree._Element] | tuple[etree._Element, ...] = extras or _NO_EXTRAS

    def get(self, name: str) -> etree._Element | None:
        return self.first.get(name)

    def all(self, name: str) -> list[etree._Element]:
        el = self.first.get(name)
        if el is None:
            return []
        if self.more is None or name not in self.more:
            return [el]
        return [el, *self.more[name]]


_STEP = re.compile(r"^([^\[\]]+)(?:\[([0-9]+)\])?\Z")


class PathLines:
    """Source line of the element a finding's path names, found when a finding asks for it.

    Findings are rare and values are many: recording a path and a line for every value read
    cost more than building the model. `get` walks the tree along the path with the layout's
    names and aliases, exactly as the builder grouped children, so `To[2]` is the second To.
    """

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.layout = EDOC

    def get(self, path: str, default: int | None = None) -> int | None:
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
        """The stripped text of leaf `name`, `default` when absent."""
        return k.texts.get(name, default)

    def opt_text(self, k: Kids, name: str) -> str | None:
        return k.texts.get(name)

    def extras(self, k: Kids) -> tuple[str, ...]:
        if not k.extras:
            return ()
        return tuple(etree.tostring(e, encoding="unicode", with_tail=False) for e in k.extras)

    def each(
        self, k: Kids, name: str, node: Node, build: Callable[[Kids], T]
    ) -> tuple[T, ...]:
        els = k.all(name)
        if not els:
            return ()
        base = f"{k.path}/{name}"
        if len(els) == 1:  # the usual case (one To, one TraceHeader, one Attachment …)
            return (build(Kids(els[0], node, f"{base}[1]")),)
        return tuple([build(Kids(el, node, f"{base}[{i}]")) for i, el in enumerate(els, start=1)])

    def sub(self, k: Kids, name: str, parent: Node, build: Callable[[Kids], T]) -> T | None:
        el = k.first.get(name)
        if el is None:
            return None
        return build(Kids(el, child_node(parent, name), f"{k.path}/{name}"))

    def integer(self, k: Kids, name: str, default: int | None = None) -> int | None:
        raw = k.texts.get(name)
        if not raw:
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
        value = k.texts.get(name)
        if value is None:
            return ""
        if value == "" and allow_empty:
            return value
        shape = shape_of(value)
        if shape == "strict":
            return value
        path = self.child_path(k, name)
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
        raw = k.texts.get(name)
        if raw is None or (raw == "" and not required):
            return None
        parsed: date | None = None
        legacy = False
        if m := _DATE.match(raw):
            parsed = _mkdate(int(m[1]), int(m[2]), int(m[3]))
        elif m := _DATE_LEGACY.match(raw):
            parsed, legacy = _mkdate(int(m[3]), int(m[2]), int(m[1])), True
        elif m := _DATE_DASH.match(raw):
            parsed, legacy = _mkdate(int(m[1]), int(m[2]), int(m[3])), True
        if parsed is None or legacy:
            self._report_time(self.child_path(k, name), name, raw, parsed is not None, legacy, ("Ngày", "date"),
                              "yyyy/MM/dd")
        return parsed

    def timestamp(self, k: Kids, name: str) -> datetime | None:
        raw = k.texts.get(name)
        if raw is None:
            return None  # absent: the XSD's to report
        value: datetime | None = None
        legacy = False
        if m := _TS.match(raw):
            value = _mkts(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))
        elif m := _TS_LEGACY.match(raw):
            value, legacy = _mkts(int(m[3]), int(m[2]), int(m[1]), int(m[4]), int(m[5]), int(m[6])), True
        elif m := _TS_ISO.match(raw):
            value, legacy = _mkts(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6])), True
        if value is None or legacy:
            self._report_time(self.child_path(k, name), name, raw, value is not None, legacy,
                              ("Thời điểm", "timestamp"), "yyyy/MM/dd HH:mm:ss")
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
        text = k.texts.get  # `self.text` inlined: two organizations a package, eight fields each
        return made(Organization,
            organ_id=self.organ_id(k),
            organization_in_charge=text("OrganizationInCharge", ""),
            organ_name=text("OrganName", ""),
            organ_add=text("OrganAdd", ""),
            email=text("Email", ""),
            telephone=text("Telephone", ""),
            fax=text("Fax", ""),
            website=text("Website", ""),
            extras=self.extras(k),
        )

    def staff(self, k: Kids) -> StaffInfo:
        return made(StaffInfo,
            department=self.opt_text(k, "Department"),
            staff=self.opt_text(k, "Staff"),
            mobile=self.opt_text(k, "Mobile"),
            email=self.opt_text(k, "Email"),
            extras=self.extras(k),
        )

    def response_for(self, k: Kids) -> ResponseFor:
        return made(ResponseFor,
            organ_id=self.organ_id(k, allow_empty=True),
            code=self.text(k, "Code"),
            promulgation_date=self.date_value(k, "PromulgationDate", required=False) or date.min,
            document_id=self.text(k, "DocumentId"),
            extras=self.extras(k),
        )

    def trace_list(self, k: Kids, node: Node) -> TraceHeaderList:
        th_node = child_node(node, "TraceHeader")
        headers = self.each(
            k, "TraceHeader", th_node,
            lambda t: made(TraceHeader,
                organ_id=self.organ_id(t), timestamp=self.timestamp(t, "Timestamp") or datetime.min,
                extras=self.extras(t),
            ),
        )
        return made(TraceHeaderList,
            trace_headers=headers,
            bussiness=self.sub(k, "Bussiness", node, self.bussiness),
            extras=self.extras(k),
        )

    def bussiness(self, k: Kids) -> Bussiness:
        node = BUSS_NODE
        doc_type = self.code_list(k, "BussinessDocType", BussinessDocType, BussinessDocType.NEW)
        info = self.sub(k, "BussinessDocumentInfo", node, self.document_info)
        replacements = self.sub(
            k, "ReplacementInfoList", node,
            lambda rl: self.each(rl, "ReplacementInfo", REPLACEMENT_NODE, self.replacement),
        )
        return made(Bussiness,
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
        info_node = child_node(BUSS_NODE, "BussinessDocumentInfo")
        rl_node = child_node(info_node, "ReceiverList")
        receivers = self.sub(
            k, "ReceiverList", info_node,
            lambda rl: self.each(
                rl, "Receiver", rl_node.children[0],
                lambda r: made(Receiver,
                    organ_id=self.organ_id(r), receiver_type=self.integer(r, "ReceiverType", 0) or 0,
                    extras=self.extras(r),
                ),
            ),
        )
        return made(BussinessDocumentInfo,
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
        return made(ReplacementInfo, document_id=self.text(k, "DocumentId"), organ_ids=ids, extras=self.extras(k))

    def message_header(self, k: Kids, node: Node) -> MessageHeader:
        def child(name: str) -> Node:
            return child_node(node, name)

        frm = self.sub(k, "From", node, self.organization)
        code = self.sub(
            k, "Code", node,
            lambda c: made(DocumentCode,
                code_number=self.text(c, "CodeNumber"), code_notation=self.text(c, "CodeNotation"),
                extras=self.extras(c),
            ),
        )
        prom = self.sub(
            k, "PromulgationInfo", node,
            lambda p: made(PromulgationInfo,
                place=self.text(p, "Place"),
                promulgation_date=self.date_value(p, "PromulgationDate") or date.min,
                extras=self.extras(p),
            ),
        )
        dtype = self.sub(
            k, "DocumentType", node,
            lambda d: made(DocumentType,
                type=self.integer(d, "Type", 0) or 0,
                type_detail=self.integer(d, "TypeDetail"),
                type_name=self.text(d, "TypeName"),
                extras=self.extras(d),
            ),
        )
        signer = self.sub(
            k, "SignerInfo", node,
            lambda s: made(SignerInfo,
                competence=self.text(s, "Competence"), position=self.text(s, "Position"),
                full_name=self.text(s, "FullName"), extras=self.extras(s),
            ),
        )
        other = self.sub(k, "OtherInfo", node, self.other_info)
        to_places = self.sub(
            k, "ToPlaces", node,
            lambda tp: tuple((e.text or "").strip() for e in tp.all("Place")),
        )
        return made(MessageHeader,
            from_=frm or made(Organization, organ_id=""),
            to=self.each(k, "To", child("To"), self.organization),
            document_id=self.text(k, "DocumentId"),
            code=code or made(DocumentCode, code_number="", code_notation=""),
            promulgation_info=prom or made(PromulgationInfo, promulgation_date=date.min),
            document_type=dtype or made(DocumentType, type=0),
            subject=self.text(k, "Subject"),
            content=self.text(k, "Content"),
            signer_info=signer or made(SignerInfo, full_name=""),
            due_date=self.date_value(k, "DueDate", required=False),
            other_info=other or made(OtherInfo),
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
        return made(OtherInfo,
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
        size, head = (payload.size, payload.head) if payload else (0, b"")
        digest = Digest(measure=lambda: payload.sha256) if payload else Digest("")
        zip_entries = None
        if payload is not None and payload.is_zip and payload.stored:
            try:
                entries = inspect_zip(payload.open(), self.limits_unzipped, self.limits_ratio)
                zip_entries = tuple((e.name, e.size) for e in entries)
            except PayloadProblem as p:
                self.add(p.code, self.child_path(k, "ContentTransferEncoded"), p.vi, p.en)
        return made(Attachment,
            content_id=self.text(k, "ContentId"),
            attachment_name=self.text(k, "AttachmentName"),
            description=self.text(k, "Description"),
            content_type=self.text(k, "ContentType"),
            format=self.opt_text(k, "Format"),
            size=size,
            digest=digest,
            detected_type=detect_type(head),
            zip_entries=zip_entries,
            extras=self.extras(k),
        )

    limits_unzipped = 200 * 1024 * 1024
    limits_ratio = 200

    def reference(self, k: Kids) -> Reference:
        return made(Reference,
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
        return made(EdocPackage,
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
        header = made(StatusHeader,
            from_=frm or made(Organization, organ_id=""),
            response_for=rf or made(ResponseFor, organ_id="", code="", promulgation_date=date.min, document_id=""),
            staff_info=self.sub(k, "StaffInfo", mh_node, self.staff),
            status_code=status_code,
            description=self.text(k, "Description"),
            timestamp=self.timestamp(k, "Timestamp") or datetime.min,
            extras=self.extras(k),
        )
        trace = self.sub(hk, "TraceHeaderList", header_node, lambda t: self.trace_list(t, TRACE_NODE))
        return made(StatusPackage,
            header=header,
            trace=trace,
            signature_present=hk.get("Signature") is not None,
            extras=self.extras(rk) + self.extras(ek) + self.extras(hk),
        )


TRACE_NODE = EDOC.children[0].children[0].children[1]
BUSS_NODE = TRACE_NODE.children[1]
REPLACEMENT_NODE = BUSS_NODE.children[6].children[0]


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
