"""Business rules beyond the XSD (domain.md §1, §6). Each rule returns findings; none raises."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date
from typing import Protocol

from schemas.codes import BussinessDocType
from schemas.confusables import fold
from schemas.findings import Code, Finding, Severity, finding
from schemas.limits import ADVISORY_LENGTHS, Bounded, bound
from schemas.models import EdocPackage, MessageHeader, ResponseFor, StatusPackage
from schemas.organ import shape_of
from schemas.policy import ValidationOptions

MH = "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader"
BUSS = "/edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList/Bussiness"
_DOCID = re.compile(r"^(?P<organ>[^,]+),(?P<date>[^,]+),(?P<code>.+)\Z")
_DOCID_DATE = re.compile(r"^([0-9]{4})[/-]([0-9]{2})[/-]([0-9]{2})\Z")


class Lines(Protocol):
    """Source line of the element a finding's path names (`schemas.build.PathLines`). A protocol,
    not `dict`: compiled by mypyc, `dict.get` on a dict subclass would skip the override."""

    def get(self, path: str, /) -> int | None: ...


class Ctx:
    def __init__(self, lines: Lines) -> None:
        self.lines = lines
        self.out: list[Finding] = []

    def add(self, code: Code, path: str, vi: str, en: str, severity: Severity = Severity.ERROR) -> None:
        line = self.lines.get(path)
        probe = path
        while line is None and "/" in probe.strip("/"):
            probe = probe.rsplit("/", 1)[0]
            line = self.lines.get(probe)
        self.out.append(finding(code, path, vi, en, line=line, severity=severity))


def check_edoc(pkg: EdocPackage, lines: Lines, options: ValidationOptions) -> list[Finding]:
    ctx = Ctx(lines)
    if _bounds(ctx, _edoc_bounded(pkg)) | _recipient_count(pkg, ctx, options.limits.max_recipients):
        return ctx.out  # the other rules quote values: never quote one past its bound
    for rule in EDOC_RULES:
        rule(pkg, ctx, options)
    return ctx.out


def check_status(pkg: StatusPackage, lines: Lines, options: ValidationOptions) -> list[Finding]:
    ctx = Ctx(lines)
    if _bounds(ctx, _status_bounded(pkg)):
        return ctx.out
    _response_for(pkg.header.response_for, f"{MH}/ResponseFor", ctx, routed=True)
    ts = pkg.header.timestamp.date()
    if ts > options.current_date():
        ctx.add(
            Code.DATE_INVALID, f"{MH}/Timestamp",
            f"Timestamp {ts:%Y/%m/%d} ở tương lai", f"Timestamp {ts:%Y/%m/%d} is in the future",
        )
    return ctx.out


Bounded_ = tuple[str, Bounded, str | None]
_P_DOCUMENT_ID, _P_TARGET, _P_FROM, _P_SUBJECT = (
    f"{MH}/DocumentId", f"{BUSS}/DocumentId", f"{MH}/From/OrganId", f"{MH}/Subject")


def _edoc_bounded(pkg: EdocPackage) -> list[Bounded_]:
    """(path, bound, value) of every value an edoc carries into a header or a ledger column."""
    h = pkg.header
    out: list[Bounded_] = [
        (_P_DOCUMENT_ID, Bounded.DOCUMENT_ID, h.document_id),
        (_P_TARGET, Bounded.DOCUMENT_ID, pkg.target_document_id),
        (_P_FROM, Bounded.ORGAN_ID, h.from_.organ_id),
        (_P_SUBJECT, Bounded.SUBJECT, h.subject),
    ]
    out += [(f"{MH}/To[{i}]/OrganId", Bounded.ORGAN_ID, o.organ_id) for i, o in enumerate(h.to, start=1)]
    out += [(f"/edXML/AttachmentEncoded/Attachment[{i}]/AttachmentName", Bounded.ATTACHMENT_NAME, a.attachment_name)
            for i, a in enumerate(pkg.attachments, start=1)]
    return out


def _status_bounded(pkg: StatusPackage) -> list[Bounded_]:
    h = pkg.header
    return [
        (f"{MH}/ResponseFor/DocumentId", Bounded.DOCUMENT_ID, h.response_for.document_id),
        (f"{MH}/ResponseFor/OrganId", Bounded.ORGAN_ID, h.response_for.organ_id),
        (f"{MH}/From/OrganId", Bounded.ORGAN_ID, h.from_.organ_id),
        (f"{MH}/Description", Bounded.DESCRIPTION, h.description),
        (f"{MH}/StaffInfo/Staff", Bounded.STAFF, h.staff_info.staff if h.staff_info else None),
    ]


def _recipient_count(pkg: EdocPackage, ctx: Ctx, cap: int) -> bool:
    """The operator's cap on recipients per package (an amplification bound), never above the
    hard bound that keeps every To of one recipient system in one copy's lt-recipients header."""
    n, limit = len(pkg.header.to), min(cap, bound(Bounded.RECIPIENTS))
    if n <= limit:
        return False
    ctx.add(
        Code.TOO_MANY_RECIPIENTS, f"{MH}/To",
        f"Gói tin có {n} nơi nhận, vượt giới hạn {limit} của trục; hãy chia thành nhiều gói",
        f"the package has {n} recipients, over the hub's bound of {limit}; split it into several packages",
    )
    return True


def _bounds(ctx: Ctx, values: list[Bounded_]) -> bool:
    """Hard bounds (schemas.limits.FIELD_BOUNDS): errors, never quoting the value. True if any."""
    found = False
    for path, field, value in values:
        if value is not None and len(value) > bound(field):
            found = True
            ctx.add(
                Code.FIELD_TOO_LONG, path,
                f"{path.rsplit('/', 1)[-1]} dài {len(value)} ký tự, vượt giới hạn {bound(field)} của trục",
                f"{path.rsplit('/', 1)[-1]} is {len(value)} characters long, over the hub's bound of {bound(field)}",
            )
    return found


def _recipients(pkg: EdocPackage, ctx: Ctx, options: ValidationOptions) -> None:
    if not pkg.header.to:
        ctx.add(
            Code.RECIPIENT_MISSING, f"{MH}/To",
            "Gói tin không có nơi nhận (phần tử To)", "the package has no recipient (To element)",
        )
        return
    ids = [org.organ_id for org in pkg.header.to]
    if len(set(ids)) == len(ids):
        return
    seen: Counter[str] = Counter()
    for i, org in enumerate(pkg.header.to, start=1):
        seen[org.organ_id] += 1
        if seen[org.organ_id] == 2:
            ctx.add(
                Code.RECIPIENT_DUPLICATE, f"{MH}/To[{i}]/OrganId",
                f"Nơi nhận {org.organ_id} bị lặp lại", f"recipient {org.organ_id} appears more than once",
            )


def _document_id(pkg: EdocPackage, ctx: Ctx, options: ValidationOptions) -> None:
    h = pkg.header
    path = f"{MH}/DocumentId"
    if not h.document_id:
        ctx.add(
            Code.SCHEMA_VIOLATION, path,
            "DocumentId rỗng: văn bản không có định danh", "DocumentId is empty: the document has no identity",
        )
        return
    m = _DOCID.match(h.document_id)
    if not m or shape_of(m["organ"]) is None:
        ctx.add(
            Code.DOCUMENT_ID_OPAQUE, path,
            f"DocumentId '{h.document_id}' không theo dạng MãĐịnhDanh,yyyy/MM/dd,Số/KýHiệu",
            f"DocumentId '{h.document_id}' is opaque (not OrganId,yyyy/MM/dd,Number/Notation)",
            Severity.WARNING,
        )
        return
    problems_vi, problems_en = [], []
    if m["organ"] != h.from_.organ_id:
        problems_vi.append(f"mã cơ quan {m['organ']} khác From/OrganId {h.from_.organ_id}")
        problems_en.append(f"organ {m['organ']} differs from From/OrganId {h.from_.organ_id}")
    dm = _DOCID_DATE.match(m["date"])
    prom = h.promulgation_info.promulgation_date
    if not dm or (int(dm[1]), int(dm[2]), int(dm[3])) != (prom.year, prom.month, prom.day):
        problems_vi.append(f"ngày {m['date']} khác PromulgationDate {prom:%Y/%m/%d}")
        problems_en.append(f"date {m['date']} differs from PromulgationDate {prom:%Y/%m/%d}")
    if m["code"] != str(h.code):
        problems_vi.append(f"số ký hiệu {m['code']} khác Code {h.code}")
        problems_en.append(f"code {m['code']} differs from Code {h.code}")
    if problems_vi:
        ctx.add(
            Code.DOCUMENT_ID_INCONSISTENT, path,
            "DocumentId không khớp: " + "; ".join(problems_vi),
            "DocumentId inconsistent: " + "; ".join(problems_en),
        )


def _dates(pkg: EdocPackage, ctx: Ctx, options: ValidationOptions) -> None:
    prom = pkg.header.promulgation_info.promulgation_date
    today = options.current_date()
    if prom > today:
        ctx.add(
            Code.DATE_INVALID, f"{MH}/PromulgationInfo/PromulgationDate",
            f"Ngày ban hành {prom:%Y/%m/%d} ở tương lai", f"PromulgationDate {prom:%Y/%m/%d} is in the future",
        )
    due = pkg.header.due_date
    if due is not None and due < prom:
        ctx.add(
            Code.DATE_INVALID, f"{MH}/DueDate",
            f"Hạn xử lý {due:%Y/%m/%d} trước ngày ban hành {prom:%Y/%m/%d}",
            f"DueDate {due:%Y/%m/%d} is before PromulgationDate {prom:%Y/%m/%d}",
        )


def _code_lists(pkg: EdocPackage, ctx: Ctx, options: ValidationOptions) -> None:
    t = pkg.header.document_type.type
    if t not in (1, 2):
        ctx.add(
            Code.CODE_LIST_VALUE, f"{MH}/DocumentType/Type",
            f"DocumentType/Type = {t}; các trục thường chỉ nhận 1 hoặc 2",
            f"DocumentType/Type = {t}; hubs usually accept only 1 or 2",
            Severity.WARNING,
        )
    info = pkg.trace.bussiness.document_info if pkg.trace and pkg.trace.bussiness else None
    for i, r in enumerate(info.receivers or () if info else (), start=1):
        if r.receiver_type not in (0, 1):
            ctx.add(
                Code.CODE_LIST_VALUE,
                f"{BUSS}/BussinessDocumentInfo/ReceiverList/Receiver[{i}]/ReceiverType",
                f"ReceiverType phải là 0 hoặc 1, nhận được {r.receiver_type}",
                f"ReceiverType must be 0 or 1, got {r.receiver_type}",
            )


def _attachments(pkg: EdocPackage, ctx: Ctx, options: ValidationOptions) -> None:
    ref_ids = [r.cid for r in pkg.references]
    att_ids = [a.cid for a in pkg.attachments]
    unique = set(ref_ids)
    if len(unique) == len(ref_ids) == len(att_ids) == len(set(att_ids)) and unique.issuperset(att_ids):
        return  # one to one: nothing to say
    refs = Counter(ref_ids)
    atts = Counter(att_ids)
    for i, r in enumerate(pkg.references, start=1):
        if r.cid not in atts:
            ctx.add(
                Code.ATTACHMENT_MISMATCH,
                f"/edXML/edXMLEnvelope/edXMLBody/edXMLManifest/Reference[{i}]/ContentId",
                f"Tham chiếu {r.content_id} không có tệp đính kèm tương ứng",
                f"manifest Reference {r.content_id} has no matching Attachment",
            )
        elif refs[r.cid] > 1:
            ctx.add(
                Code.ATTACHMENT_MISMATCH,
                f"/edXML/edXMLEnvelope/edXMLBody/edXMLManifest/Reference[{i}]/ContentId",
                f"ContentId {r.content_id} bị lặp trong danh mục", f"ContentId {r.content_id} repeated in manifest",
            )
    for i, a in enumerate(pkg.attachments, start=1):
        if a.cid not in refs:
            ctx.add(
                Code.ATTACHMENT_MISMATCH, f"/edXML/AttachmentEncoded/Attachment[{i}]/ContentId",
                f"Tệp đính kèm {a.content_id} không có trong danh mục edXMLManifest",
                f"Attachment {a.content_id} is not listed in edXMLManifest",
            )
        elif atts[a.cid] > 1:
            ctx.add(
                Code.ATTACHMENT_MISMATCH, f"/edXML/AttachmentEncoded/Attachment[{i}]/ContentId",
                f"ContentId {a.content_id} bị lặp", f"Attachment ContentId {a.content_id} repeated",
            )


def _target(pkg: EdocPackage, ctx: Ctx, options: ValidationOptions) -> None:
    kind = pkg.doc_type
    if kind is BussinessDocType.NEW:
        return
    b = pkg.trace.bussiness if pkg.trace else None
    has_target = bool(b and b.document_id)
    if kind is BussinessDocType.REPLACE and b and b.replacements:
        has_target = has_target or any(r.document_id for r in b.replacements)
    if not has_target:
        ctx.add(
            Code.TARGET_MISSING, f"{BUSS}/DocumentId",
            f"Văn bản loại {int(kind)} ({kind.vi}) không nêu DocumentId của văn bản đích trong "
            "Bussiness/DocumentId (theo bộ SDK: văn bản đích là DocumentId của chính gói tin)",
            f"BussinessDocType {int(kind)} ({kind.name.lower()}) does not name the target DocumentId in "
            "Bussiness/DocumentId (the SDK's convention: the target is the package's own DocumentId)",
        )


def _response_for(rf: ResponseFor, path: str, ctx: Ctx, *, routed: bool = False) -> None:
    """`routed`: a status's ResponseFor, whose OrganId and DocumentId route it; the finding then
    names the first of those missing, so its path tells the profile it is vital."""
    missing = [
        name for name, value in (
            ("OrganId", rf.organ_id), ("Code", rf.code),
            ("PromulgationDate", None if rf.promulgation_date == date.min else rf.promulgation_date),
            ("DocumentId", rf.document_id),
        ) if not value
    ]
    if missing:
        vital = [m for m in missing if m in ("OrganId", "DocumentId")] if routed else []
        ctx.add(
            Code.RESPONSE_FOR_INCOMPLETE, f"{path}/{(vital or missing)[0]}",
            "ResponseFor thiếu: " + ", ".join(missing), "ResponseFor lacks: " + ", ".join(missing),
        )


def _responses(pkg: EdocPackage, ctx: Ctx, options: ValidationOptions) -> None:
    for i, rf in enumerate(pkg.header.response_for, start=1):
        _response_for(rf, f"{MH}/ResponseFor[{i}]", ctx)


_ORG_LENGTHS = (
    ("OrganName", "organ_name"), ("OrganAdd", "organ_add"), ("OrganizationInCharge", "organization_in_charge"),
    ("Email", "email"), ("Telephone", "telephone"), ("Fax", "fax"),
)


def _lengths(pkg: EdocPackage, ctx: Ctx, options: ValidationOptions) -> None:
    h = pkg.header
    #: (field, value, path relative to MessageHeader, or a whole path); paths are strings
    #: already or are built only for a value over its length
    values: list[tuple[str, str, str]] = [
        ("CodeNumber", h.code.code_number, "Code/CodeNumber"),
        ("CodeNotation", h.code.code_notation, "Code/CodeNotation"),
        ("Place", h.promulgation_info.place, "PromulgationInfo/Place"),
        ("Subject", h.subject, "Subject"),
        ("Content", h.content, "Content"),
        ("TypeName", h.document_type.type_name, "DocumentType/TypeName"),
        ("SphereOfPromulgation", h.other_info.sphere_of_promulgation or "", "OtherInfo/SphereOfPromulgation"),
        ("TyperNotation", h.other_info.typer_notation or "", "OtherInfo/TyperNotation"),
    ]
    limits = ADVISORY_LENGTHS
    for field, value, rel in values:
        if len(value) > limits[field]:
            _too_long(ctx, f"{MH}/{rel}", field, value)
    for i, org in enumerate((h.from_, *h.to)):
        for field, attr in _ORG_LENGTHS:
            value = getattr(org, attr)
            if len(value) > limits[field]:
                _too_long(ctx, f"{MH}/{'From' if i == 0 else f'To[{i}]'}/{field}", field, value)
    for i, place in enumerate(h.to_places or (), start=1):
        if len(place) > limits["ToPlaces/Place"]:
            _too_long(ctx, f"{MH}/ToPlaces/Place[{i}]", "ToPlaces/Place", place)
    for i, a in enumerate(pkg.attachments, start=1):
        if len(a.attachment_name) > limits["AttachmentName"]:
            _too_long(ctx, f"/edXML/AttachmentEncoded/Attachment[{i}]/AttachmentName", "AttachmentName",
                      a.attachment_name)


def _too_long(ctx: Ctx, path: str, field: str, value: str) -> None:
    limit = ADVISORY_LENGTHS[field]
    ctx.add(
        Code.FIELD_TOO_LONG, path,
        f"{field} dài {len(value)} ký tự (giới hạn {limit})",
        f"{field} is {len(value)} characters long (limit {limit})",
        Severity.WARNING,
    )


def _secret(pkg: EdocPackage, ctx: Ctx, options: ValidationOptions) -> None:
    policy = options.secret
    if not policy.enabled:
        return
    for field, pattern in policy.fields.items():
        for path, value in _field_values(pkg, field):
            m = _compiled(pattern).search(fold(value))
            if m:
                ctx.add(
                    Code.SECRET_DOCUMENT, path,
                    f"Văn bản mang dấu '{m.group(1) if m.groups() else m.group()}' — "
                    "văn bản mật không được gửi qua trục liên thông",
                    "document carries a secrecy marker; secret documents must not travel on the axis",
                )
                return


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_SECRET_FIELDS: dict[str, Callable[[MessageHeader], str | None]] = {
    "Subject": lambda h: h.subject,
    "Content": lambda h: h.content,
    "DocumentType/TypeName": lambda h: h.document_type.type_name,
    "OtherInfo/SphereOfPromulgation": lambda h: h.other_info.sphere_of_promulgation,
    "Code/CodeNotation": lambda h: h.code.code_notation,
}
_SECRET_PATHS = {field: f"{MH}/{field}" for field in _SECRET_FIELDS}


def _field_values(pkg: EdocPackage, field: str) -> Iterable[tuple[str, str]]:
    h = pkg.header
    get = _SECRET_FIELDS.get(field)
    if get is not None:
        value = get(h)
        if value:
            yield _SECRET_PATHS[field], value
    if field == "OtherInfo/Appendixes/Appendix":
        for i, a in enumerate(h.other_info.appendixes or (), start=1):
            yield f"{MH}/{field}[{i}]", a


EDOC_RULES = (_recipients, _document_id, _dates, _code_lists, _attachments, _target, _responses, _lengths, _secret)
