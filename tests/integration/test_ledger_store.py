"""What the router relies on: replays are harmless, dedup lookups answer right, every transport
step is kept in order, statuses form a timeline, figures add up — on SQLite and PostgreSQL."""

# The shared fixtures are imported from test_ledger_backends (I may not edit conftest.py), so
# test parameters named after them look like redefinitions to ruff.
# ruff: noqa: F811

from __future__ import annotations

import pytest

from router.ledger import (
    Delivered,
    DuplicateAbsorbed,
    Ledger,
    Outcome,
    PackageKind,
    PackageReceived,
    PackageRejected,
    Parked,
    Retrying,
    Routed,
    StatusRecorded,
    TransportState,
    VerdictRecorded,
)
from schemas.codes import BussinessDocType, Priority, StatusCode
from tests.integration.test_ledger_backends import (  # noqa: F401  (fixtures)
    DISTRICT,
    H41,
    VPCP,
    at,
    digest,
    doc_id,
    edoc,
    ledger,
)

pytestmark = pytest.mark.integration

A = digest("a")


def route_and_deliver(attempt: int = 1) -> list[object]:
    return [
        Routed(A, DISTRICT, "sys-district", at=at(1)),
        Routed(A, VPCP, "national-axis", at=at(1)),
        Delivered(A, DISTRICT, "sys-district", attempt, at=at(2)),
    ]


def test_package_received_records_metadata_and_accepted_deliveries(ledger: Ledger) -> None:
    ledger.append([edoc("a", 1)])
    row = ledger.get_package(A)
    assert row is not None
    assert (row.kind, row.from_organ, row.document_id, row.outcome) == (
        PackageKind.EDOC, H41, doc_id(1), Outcome.ACCEPTED)
    assert row.priority is Priority.URGENT and row.bussiness_doc_type is BussinessDocType.NEW
    assert row.subject == "Về việc triển khai chuyển đổi số năm 2025"
    assert row.received_at == at(0)
    assert {d.recipient_organ: d.state for d in ledger.deliveries(A)} == {
        DISTRICT: TransportState.ACCEPTED, VPCP: TransportState.ACCEPTED}


def test_replaying_a_whole_batch_changes_nothing(ledger: Ledger) -> None:
    batch = [edoc("a", 1), *route_and_deliver(),
             StatusRecorded(doc_id(1), DISTRICT, H41, "01", None, "Lê Thị Hoa", at(60), digest("s1"), at=at(61)),
             VerdictRecorded(A, "valid", None, "quyet-dinh.pdf", '{"indication": "TOTAL-PASSED"}', at=at(0))]
    ledger.append(batch)  # type: ignore[arg-type]
    before = (ledger.counts(), ledger.deliveries(A), ledger.history(A, DISTRICT), ledger.timeline(doc_id(1)))
    ledger.append(batch)  # type: ignore[arg-type]  # the router crashed before its ack: same events again
    ledger.append(batch[::-1])  # type: ignore[arg-type]  # and again, out of order
    after = (ledger.counts(), ledger.deliveries(A), ledger.history(A, DISTRICT), ledger.timeline(doc_id(1)))
    assert after == before
    assert before[0].evidence == len(batch)


def test_repeats_inside_one_batch_are_recorded_once(ledger: Ledger) -> None:
    ledger.append([edoc("a", 1), edoc("a", 1), Delivered(A, DISTRICT, "s", 1, at=at(2)),
                   Delivered(A, DISTRICT, "s", 1, at=at(3))])
    assert [s.state for s in ledger.history(A, DISTRICT)] == [TransportState.ACCEPTED, TransportState.DELIVERED]
    assert ledger.counts().evidence == 2


def test_a_late_routed_replay_never_moves_a_delivered_package_back(ledger: Ledger) -> None:
    ledger.append([edoc("a", 1), *route_and_deliver()])  # type: ignore[list-item]
    ledger.append([Routed(A, DISTRICT, "sys-district", at=at(5)), Retrying(A, DISTRICT, "sys-district", 1,
                                                                             "30s", "timeout", at=at(6))])
    state = ledger.delivery_state(A, DISTRICT)
    assert state is not None and state.state is TransportState.DELIVERED


def test_retries_parking_and_replay_are_kept_as_history(ledger: Ledger) -> None:
    ledger.append([edoc("a", 1), Routed(A, DISTRICT, "sys-district", at=at(1))])
    for attempt, tier in enumerate(("30s", "2m", "10m"), start=1):
        ledger.append([Retrying(A, DISTRICT, "sys-district", attempt, tier, "HTTP 503 từ hệ thống nhận",
                                at=at(10 * attempt))])
    ledger.append([Retrying(A, DISTRICT, "sys-district", 2, "2m", "late replay", at=at(35))])  # stale
    ledger.append([Parked(A, DISTRICT, "sys-district", 4, "retry tiers exhausted", at=at(100))])
    parked = ledger.delivery_state(A, DISTRICT)
    assert parked is not None
    assert (parked.state, parked.attempts, parked.last_error) == (
        TransportState.PARKED, 4, "retry tiers exhausted")
    ledger.append([Routed(A, DISTRICT, "sys-district", at=at(200)),  # lienthong parked replay
                   Delivered(A, DISTRICT, "sys-district", 5, at=at(201))])
    steps = ledger.history(A, DISTRICT)
    assert [(s.state.value, s.attempt) for s in steps] == [
        ("accepted", 0), ("routed", 0), ("retrying", 1), ("retrying", 2), ("retrying", 3),
        ("parked", 4), ("routed", 4), ("delivered", 5)]
    assert steps[2].detail == "30s: HTTP 503 từ hệ thống nhận"
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    final = ledger.delivery_state(A, DISTRICT)
    assert final is not None
    assert (final.state, final.attempts, final.first_at, final.last_at) == (
        TransportState.DELIVERED, 5, at(0), at(201))


def test_successor_forwarding_is_kept_on_the_delivery(ledger: Ledger) -> None:
    ledger.append([edoc("a", 1, ("001.05.12.H41",)),
                   Routed(A, "001.05.12.H41", "sys-district", forwarded_to="001.03.12.H41", at=at(1))])
    row = ledger.delivery_state(A, "001.05.12.H41")
    assert row is not None and row.forwarded_to == "001.03.12.H41"
    assert ledger.history(A, "001.05.12.H41")[-1].detail == "forwarded to successor 001.03.12.H41"


def test_dedup_lookups_exact_duplicate_and_conflict(ledger: Ledger) -> None:
    ledger.append([edoc("a", 1)])
    held = ledger.find_package(H41, doc_id(1))
    assert held is not None and held.digest == A and held.outcome is Outcome.ACCEPTED
    assert ledger.find_package(H41, doc_id(2)) is None
    assert ledger.find_package(DISTRICT, doc_id(1)) is None
    # the same bytes again: absorbed and counted, the first verdict stands
    ledger.append([DuplicateAbsorbed(A, at=at(30)), DuplicateAbsorbed(A, at=at(40))])
    again = ledger.get_package(A)
    assert again is not None
    assert (again.outcome, again.duplicates_absorbed, again.last_duplicate_at) == (Outcome.ACCEPTED, 2, at(40))
    # other bytes, same (From, DocumentId): the router rejects it; the original keeps the DocumentId
    other = digest("a-edited")
    ledger.append([PackageRejected(other, "DUPLICATE_CONFLICT", "DocumentId đã được dùng cho gói khác",
                                   at=at(50))])
    conflict = ledger.get_package(other)
    assert conflict is not None and (conflict.outcome, conflict.reason_code) == (
        Outcome.REJECTED, "DUPLICATE_CONFLICT")
    holder = ledger.find_package(H41, doc_id(1))
    assert holder is not None and holder.digest == A
    assert ledger.counts().duplicates_absorbed == 2


def test_a_rejected_package_does_not_hold_its_document_id(ledger: Ledger) -> None:
    bad, good = edoc("bad", 3), edoc("good", 3, seconds=60)
    ledger.append([bad, PackageRejected(bad.digest, "ATTACHMENT_MISMATCH", "thiếu tệp đính kèm", at=at(1))])
    seen = ledger.find_package(H41, doc_id(3))
    assert seen is not None and seen.outcome is Outcome.REJECTED  # the router sees it was refused
    ledger.append([good])
    holder = ledger.find_package(H41, doc_id(3))
    assert holder is not None and holder.digest == good.digest


def test_a_package_that_never_parsed_is_recorded_by_its_rejection(ledger: Ledger) -> None:
    ledger.append([PackageRejected(digest("junk"), "XML_MALFORMED", "dòng 1: thẻ không đóng", at=at(0))])
    row = ledger.get_package(digest("junk"))
    assert row is not None
    assert (row.kind, row.outcome, row.reason_code, row.message) == (
        None, Outcome.REJECTED, "XML_MALFORMED", "dòng 1: thẻ không đóng")


def test_status_packages_dedup_by_digest_only(ledger: Ledger) -> None:
    status = PackageReceived(digest("st"), PackageKind.STATUS, DISTRICT, "sys-district", None, (H41,), at=at(5))
    ledger.append([status, status])
    row = ledger.get_package(digest("st"))
    assert row is not None and row.kind is PackageKind.STATUS and row.document_id is None
    assert [d.recipient_organ for d in ledger.deliveries(digest("st"))] == [H41]


def test_one_recipient_rejected_among_several(ledger: Ledger) -> None:
    ledger.append([edoc("a", 1, (DISTRICT, "000.99.00.H41")),
                   PackageRejected(A, "RECIPIENT_UNKNOWN", "không có đơn vị 000.99.00.H41",
                                   recipient_organ="000.99.00.H41", at=at(1)),
                   Routed(A, DISTRICT, "sys-district", at=at(1))])
    states = {d.recipient_organ: d.state for d in ledger.deliveries(A)}
    assert states == {DISTRICT: TransportState.ROUTED, "000.99.00.H41": TransportState.REJECTED}
    row = ledger.get_package(A)
    assert row is not None and row.outcome is Outcome.ACCEPTED


def test_status_timeline_is_in_reported_order_and_keeps_unknown_codes(ledger: Ledger) -> None:
    def status(code: str, minute: int, received_minute: int) -> StatusRecorded:
        return StatusRecorded(doc_id(1), DISTRICT, H41, code, f"bước {code}", "Trần Văn Nam",
                              at(60 * minute), digest(f"status-{code}"), at=at(60 * received_minute))

    # arrive out of order (two systems, two queues): the timeline follows the reported time
    ledger.append([status("06", 90, 91), status("01", 1, 95), status("09", 30, 31), status("03", 2, 3)])
    timeline = ledger.timeline(doc_id(1))
    assert [s.status_code for s in timeline] == ["01", "03", "09", "06"]
    assert timeline[2].status.known is False and timeline[2].status.vi == "Mã không xác định"
    assert timeline[0].status is StatusCode.ARRIVED and timeline[0].received_at == at(95 * 60)
    assert ledger.counts().statuses == 4


def test_counts_cover_every_outcome_and_state(ledger: Ledger) -> None:
    ledger.append([edoc("a", 1), *route_and_deliver(),  # type: ignore[list-item]
                   PackageRejected(digest("x"), "SCHEMA_VIOLATION", "thiếu From", at=at(3))])
    counts = ledger.counts()
    assert counts.packages == {"accepted": 1, "rejected": 1, "parked": 0}
    assert counts.deliveries == {"accepted": 0, "routed": 1, "delivered": 1, "retrying": 0,
                                 "parked": 0, "rejected": 0}
    assert counts.evidence == 5


def test_verdicts_are_kept_per_attachment_and_first_one_stands(ledger: Ledger) -> None:
    ledger.append([edoc("a", 1),
                   VerdictRecorded(A, "valid", None, "quyet-dinh.pdf", '{"sigs": 2}', at=at(0)),
                   VerdictRecorded(A, "unsigned", "no XML signature", None, "{}", at=at(0)),
                   VerdictRecorded(A, "invalid", "replayed with another result", "quyet-dinh.pdf", "{}",
                                   at=at(9))])
    trace = ledger.trace(doc_id(1))
    assert sorted((v.attachment, v.verdict) for v in trace.verdicts if v.attachment) == [
        ("quyet-dinh.pdf", "valid")]
    assert [v.verdict for v in trace.verdicts if v.attachment is None] == ["unsigned"]


def test_a_package_parked_at_intake_is_traced_and_replaying_it_makes_it_the_accepted_one(ledger: Ledger) -> None:
    from router.ledger.events import PackageParked

    ledger.append([PackageParked(A, "sys-province", "HUB_FAILURE", "ledger unavailable", doc_id(1), H41, at=at(0))])
    row = ledger.get_package(A)
    assert row is not None and (row.outcome, row.reason_code, row.submitted_by) == (
        Outcome.PARKED, "HUB_FAILURE", "sys-province")
    assert ledger.trace(doc_id(1)).found
    assert ledger.find_package(H41, doc_id(1)) is None  # a parked package holds no DocumentId
    ledger.append([PackageParked(A, "sys-province", "HUB_FAILURE", "again", doc_id(1), H41, at=at(1))])  # a repeat
    ledger.append([edoc("a", 1), *route_and_deliver()])  # `parked replay`, then accepted after all
    row = ledger.get_package(A)
    assert row is not None and (row.outcome, row.reason_code, row.subject) == (
        Outcome.ACCEPTED, None, "Về việc triển khai chuyển đổi số năm 2025")
    assert ledger.delivery_state(A, DISTRICT).state is TransportState.DELIVERED  # type: ignore[union-attr]
    assert ledger.counts().packages["parked"] == 0
    assert ledger.verify_chain().ok


def test_carried_answers_who_sent_a_document_and_where_it_was_routed(ledger: Ledger) -> None:
    """What business authorization asks (router/pipeline/rights.py): accepted edocs holding the
    DocumentId, oldest first, each with the recipients it was routed to — not the refused ones."""
    original = edoc("orig", 9, (DISTRICT, VPCP, "000.00.05.H41"))
    change = edoc("change", 9, (DISTRICT,), kind=BussinessDocType.UPDATE, target=doc_id(9), seconds=60)
    rejected = edoc("rej", 9, (DISTRICT,), kind=BussinessDocType.REVOKE, target=doc_id(9), seconds=30)
    ledger.append([
        original,
        Routed(original.digest, DISTRICT, "sys-district", at=at(1)),
        Routed(original.digest, VPCP, "national-axis", at=at(1)),
        PackageRejected(original.digest, "UNKNOWN_RECIPIENT", "không có trong danh bạ",
                        recipient_organ="000.00.05.H41", at=at(1)),
        Delivered(original.digest, DISTRICT, "sys-district", 1, at=at(2)),
        rejected, PackageRejected(rejected.digest, "SENDER_NOT_SERVED", "giả mạo", at=at(31)),
        change,
    ])
    first, second = ledger.carried(doc_id(9))
    assert (first.digest, first.from_organ, first.submitted_by, first.doc_type) == (
        original.digest, H41, "sys-province", BussinessDocType.NEW)
    assert set(first.routed) == {(DISTRICT, None, "sys-district"), (VPCP, None, "national-axis")}
    assert first.organs == {DISTRICT, VPCP} and first.systems == {"sys-district", "national-axis"}
    # the change holds the DocumentId too, accepted but not routed yet: its recipient has no system
    assert (second.digest, second.doc_type, second.routed) == (
        change.digest, BussinessDocType.UPDATE, ((DISTRICT, None, None),))
    assert ledger.carried(doc_id(10)) == ()
    ledger.append([edoc("fwd", 11, ("000.00.05.H41",)),
                   Routed(digest("fwd"), "000.00.05.H41", "sys-province", forwarded_to="000.00.04.H41", at=at(1))])
    [fwd] = ledger.carried(doc_id(11))
    assert fwd.organs == {"000.00.05.H41", "000.00.04.H41"}  # the successor answers as itself
