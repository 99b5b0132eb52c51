"""A trace as text for a clerk or an operator: Vietnamese labels, Vietnam time, aligned columns.

Times are shown in Vietnam time (UTC+7, no daylight saving) because that is the clock the
documents' own dates and the clerks use; the JSON form keeps UTC.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime, timezone

from router.ledger.events import TransportState
from router.ledger.rows import PackageRow, StatusEntry, TransitionRow, VerdictRow
from router.ledger.trace import OrganTrace, Trace
from schemas.codes import PackageKind, StatusCode
from schemas.policy import VIETNAM

STATE_VI: dict[TransportState, str] = {
    TransportState.ACCEPTED: "Hub đã nhận",
    TransportState.ROUTED: "Đã chuyển đi",
    TransportState.DELIVERED: "Đã giao",
    TransportState.RETRYING: "Đang thử lại",
    TransportState.PARKED: "Tạm giữ",
    TransportState.REJECTED: "Từ chối",
}

KIND_VI = {PackageKind.EDOC: "văn bản", PackageKind.STATUS: "trạng thái"}


def render_trace_text(trace: Trace, tz: timezone = VIETNAM) -> str:
    if not trace.found:
        return f"Không tìm thấy văn bản có DocumentId {trace.document_id}\n"
    lines = [f"Văn bản {trace.document_id}", f"Giờ hiển thị: {_offset(tz)}", "", "Gói tin"]
    for p in trace.packages:
        lines += _package(p, [v for v in trace.verdicts if v.digest == p.digest], tz)
    several = len(trace.packages) > 1
    for organ in trace.organs:
        lines += ["", _organ_title(organ), *_indent(_columns(_organ_rows(organ, trace.document_id, several, tz)))]
    return unicodedata.normalize("NFC", "\n".join(lines) + "\n")


def _offset(tz: timezone) -> str:
    z = datetime.now(tz).strftime("%z")
    return f"{tz.tzname(None)} (UTC{z[:3]}:{z[3:]})"


def _time(value: datetime, tz: timezone) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _package(p: PackageRow, verdicts: list[VerdictRow], tz: timezone) -> list[str]:
    kind = KIND_VI.get(p.kind, "?") if p.kind else "không đọc được"
    business = p.bussiness_doc_type.vi if p.bussiness_doc_type is not None else ""
    head = [_time(p.received_at, tz), kind, business, p.digest[:12], p.outcome.value]
    if p.reason_code:
        head.append(f"{p.reason_code}: {p.message or ''}")
    out = ["  " + "  ".join(c for c in head if c)]
    facts = [f"DocumentId {p.document_id}" if p.document_id else ""]
    if p.target_document_id:
        facts.append(f"về văn bản {p.target_document_id}")
    out.append(_detail(facts))
    sender = f"Từ {p.from_organ}" if p.from_organ else ""
    if p.submitted_by:  # a refused package may have no readable From, but a submitting system
        sender += f" qua hệ thống {p.submitted_by}" if sender else f"Gửi qua hệ thống {p.submitted_by}"
    facts = [sender, p.priority.vi if p.priority is not None else ""]
    if p.promulgation_date:
        facts.append(f"ban hành {p.promulgation_date.isoformat()}")
    if p.due_date:
        facts.append(f"hạn xử lý {p.due_date.isoformat()}")
    out.append(_detail(facts))
    if p.subject:
        out.append(_detail([f"Trích yếu: {p.subject}"]))
    out += [_detail([f"Chữ ký{' ' + v.attachment if v.attachment else ''}: {v.verdict}",
                     v.reason or ""]) for v in verdicts]
    if p.duplicates_absorbed:
        out.append(_detail([f"Bản trùng đã bỏ qua: {p.duplicates_absorbed}"]))
    return [line for line in out if line.strip()]


def _detail(parts: Sequence[str]) -> str:
    return "      " + " · ".join(x for x in parts if x)


def _organ_title(organ: OrganTrace) -> str:
    systems = sorted({d.delivery.system_id for d in organ.deliveries if d.delivery.system_id})
    title = f"Nơi nhận {organ.organ}" if organ.deliveries else f"Đơn vị báo cáo {organ.organ}"
    if systems:
        title += f" (hệ thống {', '.join(systems)})"
    forwarded = sorted({d.delivery.forwarded_to for d in organ.deliveries if d.delivery.forwarded_to})
    if forwarded:
        title += f" → chuyển tiếp đến đơn vị kế thừa {', '.join(forwarded)}"
    return title


def _organ_rows(organ: OrganTrace, document_id: str, several: bool, tz: timezone) -> list[list[str]]:
    events: list[tuple[datetime, int, list[str]]] = []
    for d in organ.deliveries:
        for step in d.history:
            events.append((step.at, step.seq, _step_row(step, several, tz)))
    for s in organ.statuses:
        events.append((s.reported_at, s.seq, _status_row(s, document_id, tz)))
    return [row for _, _, row in sorted(events, key=lambda e: (e[0], e[1]))]


def _step_row(step: TransitionRow, several: bool, tz: timezone) -> list[str]:
    detail = [step.detail or ""]
    if step.state in (TransportState.DELIVERED, TransportState.RETRYING, TransportState.PARKED):
        detail.insert(0, f"lần {step.attempt}")
    if step.state is TransportState.ROUTED and step.system_id:
        detail.insert(0, f"→ {step.system_id}")
    if several:
        detail.insert(0, step.digest[:12])
    joined = " · ".join(x for x in detail if x)
    return [_time(step.at, tz), "vận chuyển", step.state.value, STATE_VI[step.state], joined]


def _status_row(s: StatusEntry, document_id: str, tz: timezone) -> list[str]:
    code = StatusCode(s.status_code)
    who = ", ".join(x for x in (s.staff, s.description) if x)
    if s.document_id != document_id:  # about the revoke/update/replace, not the document itself
        who = f"{who} · về {s.document_id}" if who else f"về {s.document_id}"
    return [_time(s.reported_at, tz), "trạng thái", s.status_code, code.vi, who]


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 1 for c in unicodedata.normalize("NFC", text))


def _columns(rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
        for r in rows
    ]


def _indent(lines: list[str]) -> list[str]:
    return ["  " + line for line in lines]
