"""A ledger with known compliance answers, built through the ledger's real write path
(`Ledger.append` of the events the pipeline records), for the figures and report tests.

Times are Vietnam wall-clock. Units: the province (000.00.00.H41) and Sở TT&TT (000.00.13.H41)
send; huyện Thanh Chương (A, handling time 1 working day by rule) and huyện Anh Sơn (B, no
rule) receive. The cases and their answers are listed at each document.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

from router.ledger import (
    Delivered,
    Ledger,
    LedgerEvent,
    PackageKind,
    PackageReceived,
    PackageRejected,
    Parked,
    Routed,
    StatusRecorded,
    VerdictRecorded,
)
from schemas.codes import BussinessDocType, Priority
from schemas.policy import VIETNAM
from signing.verdict import PackageVerdict, SignatureReport, SignerKind, Verdict

PROVINCE = "000.00.00.H41"  # Ủy ban nhân dân tỉnh Nghệ An
SO_TTTT = "000.00.13.H41"  # Sở Thông tin và Truyền thông
A = "000.00.25.H41"  # Ủy ban nhân dân huyện Thanh Chương
B = "000.00.26.H41"  # Ủy ban nhân dân huyện Anh Sơn
SYSTEM_A, SYSTEM_B, SYSTEM_P = "huyen-thanhchuong", "tinh-nghean", "tinh-nghean"

RULES_YAML = f"""
thresholds: {{late_share: 0.5, unsigned_share: 0.2}}
office_day_ends: "17:00"
handling_days: {{default: null, organs: {{"{A}": 1}}}}
"""


def vn(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VIETNAM)


def _digest(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _verdict(verdict: Verdict, signed: str | None) -> str:
    sigs = () if signed is None else (SignatureReport(
        "xml", "CN=Nguyễn Văn An", "Ủy ban nhân dân tỉnh Nghệ An", "CN=CA", SignerKind.ORGANIZATIONAL,
        True, True, None, "", vn(signed)),)
    return PackageVerdict(verdict, None, None, xml_signature=sigs[0] if sigs else None).to_json()


class Builder:
    def __init__(self) -> None:
        self.events: list[LedgerEvent] = []

    def document(
        self, n: int, sender: str, recipients: tuple[str, ...], sent: str, *,
        due: date | None = None, promulgated: date | None = None,
        verdict: Verdict | None = Verdict.SIGNED, signed: str | None = None, document_type: str | None = None,
    ) -> str:
        doc_id = f"{sender},2025/04/01,{n}/UBND-VP"
        d = _digest(doc_id)
        self.events.append(PackageReceived(
            d, PackageKind.EDOC, sender, SYSTEM_P, doc_id, recipients, BussinessDocType.NEW, None,
            f"Văn bản số {n} về chuyển đổi số", Priority.NORMAL, due, promulgated, at=vn(sent),
            document_type=document_type))
        if verdict is not None:
            self.events.append(VerdictRecorded(d, verdict.value, None, None, _verdict(verdict, signed), at=vn(sent)))
        return doc_id

    def delivered(self, doc_id: str, organ: str, at: str) -> None:
        d = _digest(doc_id)
        system = SYSTEM_A if organ == A else SYSTEM_B
        self.events += [Routed(d, organ, system, at=vn(at)), Delivered(d, organ, system, 1, at=vn(at))]

    def parked(self, doc_id: str, organ: str, at: str) -> None:
        d = _digest(doc_id)
        self.events += [Routed(d, organ, SYSTEM_B, at=vn(at)), Parked(d, organ, SYSTEM_B, 3, "DELIVERY_FAILED",
                                                                        at=vn(at))]

    def status(self, doc_id: str, reporter: str, code: str, at: str) -> None:
        sender = doc_id.split(",", maxsplit=1)[0]
        self.events.append(StatusRecorded(doc_id, reporter, sender, code, "Đã xử lý", "Trần Thị Bình",
                                          vn(at), _digest(f"{doc_id}/{reporter}/{code}/{at}"), at=vn(at)))


def build(ledger: Ledger) -> None:
    b = Builder()
    # 1. arrives Tue 29/4 09:00 at A (1 working day): 30/4, 1/5, 2/5 (swapped) are holidays, 3–4/5
    #    a weekend, so the deadline is Mon 5/5; the 06 on Tue 6/5 is late by one working day.
    #    01 the same morning: same-day. Signed Mon 28/4, sent Tue 29/4: on time.
    d1 = b.document(1, PROVINCE, (A,), "2025-04-29T09:00", signed="2025-04-28T16:00")
    b.delivered(d1, A, "2025-04-29T09:00:05")
    b.status(d1, A, "01", "2025-04-29T10:00")
    b.status(d1, A, "06", "2025-05-06T10:00")
    # 2. DueDate Fri 25/4, 06 on the deadline day at 16:00: not late; 01 the next day: not same-day.
    #    PARTIALLY_SIGNED, signed Fri 18/4, sent Tue 22/4: late sending (Mon 21/4 was the last day).
    d2 = b.document(2, PROVINCE, (A,), "2025-04-22T09:00", due=date(2025, 4, 25),
                    verdict=Verdict.PARTIALLY_SIGNED, signed="2025-04-18T10:00")
    b.delivered(d2, A, "2025-04-22T09:00:03")
    b.status(d2, A, "01", "2025-04-23T08:00")
    b.status(d2, A, "06", "2025-04-25T16:00")
    # 3. DueDate Thu 24/4 and no 06 by the report time: late, missing. UNSIGNED, no signing time:
    #    the signing day is the PromulgationDate Mon 21/4, sent Tue 22/4: on time. B's copy parked.
    d3 = b.document(3, PROVINCE, (A, B), "2025-04-22T10:00", due=date(2025, 4, 24),
                    promulgated=date(2025, 4, 21), verdict=Verdict.UNSIGNED)
    b.delivered(d3, A, "2025-04-22T10:00:02")
    b.parked(d3, B, "2025-04-22T10:30")
    # 4. Friday evening 18:30 at B: arrives on Monday 21/4; the 01 on Monday is same-day. DueDate
    #    30/4, 06 on 29/4: on time. Signed Fri 18/4 10:00, sent the same day: on time.
    d4 = b.document(4, PROVINCE, (B,), "2025-04-18T18:30", due=date(2025, 4, 30), signed="2025-04-18T10:00")
    b.delivered(d4, B, "2025-04-18T18:30:04")
    b.status(d4, B, "01", "2025-04-21T08:30")
    b.status(d4, B, "06", "2025-04-29T15:00")
    # 5. DueDate 30/5, after the report time, no 06: pending, not late. No verdict recorded and no
    #    signing day: counted unsigned (unverified), left out of on-time sending.
    d5 = b.document(5, PROVINCE, (B,), "2025-04-24T14:00", due=date(2025, 5, 30), verdict=None)
    b.delivered(d5, B, "2025-04-24T14:00:01")
    # 6. From Sở TT&TT to B (no handling rule, no DueDate: no deadline); 03 the same day.
    d6 = b.document(6, SO_TTTT, (B,), "2025-04-10T08:00", signed="2025-04-10T07:30")
    b.delivered(d6, B, "2025-04-10T08:00:02")
    b.status(d6, B, "03", "2025-04-10T11:00")
    # 7. A refuses it (02) the day it arrives: no deadline counted. Signed and sent on Mon 14/4.
    d7 = b.document(7, PROVINCE, (A,), "2025-04-14T09:00", due=date(2025, 4, 16), signed="2025-04-14T08:00")
    b.delivered(d7, A, "2025-04-14T09:00:02")
    b.status(d7, A, "02", "2025-04-14T15:00")
    # Outside the figures: a document of March, and a refused package.
    d8 = b.document(8, PROVINCE, (A,), "2025-03-31T09:00", due=date(2025, 4, 1))
    b.delivered(d8, A, "2025-03-31T09:00:02")
    b.events.append(PackageRejected(_digest("refused"), "SCHEMA_INVALID", "x", submitted_by=SYSTEM_P,
                                    kind=PackageKind.EDOC, document_id=f"{PROVINCE},2025/04/01,99/UBND-VP",
                                    from_organ=PROVINCE, at=vn("2025-04-15T09:00")))
    ledger.append(b.events)


#: the report moment of the cases above
AS_OF = vn("2025-05-15T08:00")


def rules_file(tmp: Path) -> Path:
    path = tmp / "rules.yaml"
    path.write_text(RULES_YAML, encoding="utf-8")
    return path
