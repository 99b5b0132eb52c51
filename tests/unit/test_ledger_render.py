"""Rendering a trace for people: Vietnamese names (unknown codes too), Vietnam time, columns that
line up with Vietnamese text, successors named. Built from rows, no database."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from router.ledger.events import Outcome, PackageKind, TransportState
from router.ledger.render import render_trace_text
from router.ledger.rows import DeliveryRow, PackageRow, StatusEntry, TransitionRow
from router.ledger.trace import Trace, assemble
from schemas.codes import BussinessDocType, Priority

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)
DOC = "000.00.00.H41,2025/03/03,12/UBND-VP"
D = "f" * 64
OLD, NEW = "001.05.12.H41", "001.03.12.H41"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def trace() -> Trace:
    package = PackageRow(D, PackageKind.EDOC, DOC, "000.00.00.H41", "sys-province", BussinessDocType.NEW, None,
                         "Về việc sáp nhập xã", Priority.EXPRESS, None, None, at(0), Outcome.ACCEPTED, None,
                         None, 1, at(3))
    delivery = DeliveryRow(D, OLD, "sys-district", NEW, TransportState.DELIVERED, 1, at(0), at(1), None, None)
    steps = [TransitionRow(1, D, OLD, TransportState.ACCEPTED, 0, None, None, at(0)),
             TransitionRow(2, D, OLD, TransportState.ROUTED, 0, "sys-district", f"forwarded to successor {NEW}",
                           at(0.5)),
             TransitionRow(3, D, OLD, TransportState.DELIVERED, 1, "sys-district", None, at(1))]
    statuses = [StatusEntry(5, "1" * 64, DOC, OLD, "000.00.00.H41", "11", "mã lạ", None, at(9), at(9)),
                StatusEntry(4, "2" * 64, DOC, OLD, "000.00.00.H41", "04", None, "Đặng Quốc Việt", at(5), at(6))]
    return assemble(DOC, packages=[package], verdicts=[], deliveries=[delivery], history=steps,
                    statuses=statuses)


def test_text_has_vietnamese_names_time_and_successor() -> None:
    text = render_trace_text(trace())
    assert text == unicodedata.normalize("NFC", text)
    for expected in ("Phân công", "Mã không xác định", "Hỏa tốc", "Đã giao", "Trích yếu: Về việc sáp nhập xã",
                     f"chuyển tiếp đến đơn vị kế thừa {NEW}", "2025-03-03 08:35:00", "Bản trùng đã bỏ qua: 1"):
        assert expected in text, expected


def test_organ_rows_merge_transport_and_statuses_in_time_order_with_aligned_columns() -> None:
    block = render_trace_text(trace()).split(f"Nơi nhận {OLD}")[1].strip("\n").splitlines()[1:]
    assert [line.split()[4] for line in block] == ["accepted", "routed", "delivered", "04", "11"]
    assert len({line.index(line.split()[4]) for line in block}) == 1  # the code column lines up
    names = [line.split("  ")[0] for line in block]
    assert names == sorted(names)


def test_json_round_trip_keeps_every_value() -> None:
    original = trace()
    assert Trace.from_json(original.to_json()) == original
    assert Trace.from_json(original.to_json(indent=None)).organs[0].statuses[1].status.vi == "Mã không xác định"
