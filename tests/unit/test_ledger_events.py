"""Ledger events: refused when they would make evidence ambiguous, canonical when hashed, and
decodable back from the evidence exactly as they were."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from router.ledger.audit import decode_event
from router.ledger.events import (
    Delivered,
    DuplicateAbsorbed,
    LedgerEvent,
    PackageKind,
    PackageReceived,
    PackageRejected,
    Parked,
    Retrying,
    Routed,
    StatusRecorded,
    VerdictRecorded,
    canonical_json,
    event_payload,
)
from schemas.codes import BussinessDocType, Priority

pytestmark = pytest.mark.unit

ICT = timezone(timedelta(hours=7))
T = datetime(2025, 3, 3, 8, 30, 0, 123456, tzinfo=ICT)
D = "a" * 64
DOC = "000.00.00.H41,2025/03/03,12/UBND-VP"

EVERY_KIND: list[LedgerEvent] = [
    PackageReceived(D, PackageKind.EDOC, "000.00.00.H41", "sys-province", DOC, ("000.12.00.H41",),
                    BussinessDocType.UPDATE, "000.00.00.H41,2025/03/01,9/UBND-VP", "Cập nhật kế hoạch",
                    Priority.EXPRESS, date(2025, 3, 4), date(2025, 3, 3), at=T),
    PackageRejected(D, "SCHEMA_VIOLATION", "thiếu MessageHeader/From", at=T),
    PackageRejected(D, "RECIPIENT_UNKNOWN", "không có đơn vị", "000.99.00.H41", at=T),
    DuplicateAbsorbed(D, at=T),
    Routed(D, "000.12.00.H41", "sys-district", "000.13.00.H41", at=T),
    Delivered(D, "000.12.00.H41", "sys-district", 3, at=T),
    Retrying(D, "000.12.00.H41", "sys-district", 2, "2m", "HTTP 503", at=T),
    Parked(D, "000.12.00.H41", "sys-district", 6, "hết lượt thử", at=T),
    StatusRecorded(DOC, "000.12.00.H41", "000.00.00.H41", "05", "Đang xử lý", "Hồ Văn Bình", T, "b" * 64, at=T),
    VerdictRecorded(D, "invalid", "chữ ký thứ nhất bị sửa", "qd.pdf", '{"signatures": [1, 2]}', at=T),
]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: type(e).__name__)
def test_every_event_decodes_back_from_its_evidence(event: LedgerEvent) -> None:
    payload = canonical_json(event_payload(event))
    assert decode_event(payload) == event


def test_times_are_kept_in_utc_and_naive_ones_refused() -> None:
    assert Delivered(D, "x", "s", 1, at=T).at == datetime(2025, 3, 3, 1, 30, 0, 123456, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"Delivered\.at must be timezone-aware"):
        Delivered(D, "x", "s", 1, at=datetime(2025, 3, 3, 8, 30))
    with pytest.raises(ValueError, match="reported_at"):
        StatusRecorded(DOC, "o", "p", "01", None, None, datetime(2025, 3, 3), D)


def test_status_codes_are_two_digits_and_unknown_ones_kept() -> None:
    assert StatusRecorded(DOC, "o", "p", "09", None, None, T, D).status_code == "09"
    with pytest.raises(ValueError):
        StatusRecorded(DOC, "o", "p", "9", None, None, T, D)


def test_an_edoc_needs_its_document_id_but_a_status_package_has_none() -> None:
    with pytest.raises(ValueError, match="DocumentId"):
        PackageReceived(D, PackageKind.EDOC, "o", "s")
    assert PackageReceived(D, PackageKind.STATUS, "o", "s").document_id is None


def test_recipients_are_deduplicated_in_order() -> None:
    event = PackageReceived(D, PackageKind.EDOC, "o", "s", DOC, ("b", "a", "b"))
    assert event.recipients == ("b", "a")


def test_a_verdict_report_must_be_json() -> None:
    with pytest.raises(ValueError):
        VerdictRecorded(D, "valid", None, None, "not json")


def test_canonical_json_is_one_spelling_and_keeps_vietnamese() -> None:
    event = EVERY_KIND[-2]
    text = canonical_json(event_payload(event))
    assert text == canonical_json(dict(reversed(list(event_payload(event).items()))))
    assert "Hồ Văn Bình" in text and " " not in text.replace("Hồ Văn Bình", "").replace("Đang xử lý", "")
    assert '"at":"2025-03-03T01:30:00.123456Z"' in text
