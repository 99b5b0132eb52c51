"""Issue 3 acceptance on the real broker and ledger: multi-system routing with statuses back,
rejections with their codes, de-duplication, retry tiers, parking and replay, poison messages,
revoke-after-original ordering."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.folder import FolderSink
from adapters.sink import Handover, PermanentFailure, SinkResult, TransientFailure
from router.amqp.parked import list_parked, replay_parked
from router.ledger.events import TransportState
from schemas.codes import BussinessDocType, StatusCode
from schemas.parse import parse_package
from tests.integration.test_pipeline_basic import wait_for
from tests.support.faults import ScriptedSink
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import document_id, make_edoc, make_status

pytestmark = pytest.mark.integration

PROVINCE = "000.00.00.H41"
DEPT = "000.00.13.H41"  # Sở Thông tin và Truyền thông (province DMS)
COMMUNE_TC = "000.31.25.H41"  # xã Thanh Hưng, Thanh Chương (district DMS)
COMMUNE_VINH = "000.11.21.H41"  # phường Hưng Bình, Vinh (province DMS)
MINISTRY = "000.00.00.G09"  # Bộ Nội vụ (national axis)


@pytest.fixture(scope="module")
def hub(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    from tests.support.services import delete_broker_objects, unique_prefix

    prefix = unique_prefix("acc")
    tmp = tmp_path_factory.mktemp("acceptance")
    sinks = {sid: ScriptedSink(FolderSink(tmp / "deliver" / sid)) for sid in ("tinh-nghean", "huyen-thanhchuong", "truc-quoc-gia")}
    try:
        with running_hub(amqp_url, prefix, tmp, sinks=sinks, retry_delays_s=(1, 1, 1), delivery_limit=3) as h:
            yield h
    finally:
        delete_broker_objects(prefix)


def scripted(hub: RunningHub, sid: str) -> ScriptedSink:
    sink = hub.hub.sinks[sid]
    assert isinstance(sink, ScriptedSink)
    return sink


def statuses_in(hub: RunningHub, sid: str) -> list[str]:
    """Descriptions of the status packages delivered to a system's inbox."""
    out = []
    for f in hub.inbox(sid):
        if f.name.startswith("status-"):
            pkg = parse_package(f.read_bytes()).package
            h = pkg.header
            out.append(f"{h.status_code.value} {h.description} | {h.response_for.document_id}")  # type: ignore[union-attr]
    return out


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def test_commune_to_department_other_district_commune_and_ministry(hub: RunningHub) -> None:
    body = make_edoc(COMMUNE_TC, [DEPT, COMMUNE_VINH, MINISTRY], 101, notation="UBND")
    res = hub.submit("huyen-thanhchuong", body).result
    assert res is not None and res["outcome"] == "accepted", res
    assert res["routed"] == {"tinh-nghean": [DEPT, COMMUNE_VINH], "truc-quoc-gia": [MINISTRY]}
    d = digest(body)
    wait_for(lambda: all(
        (st := hub.hub.ledger.delivery_state(d, r)) is not None and st.state is TransportState.DELIVERED
        for r in (DEPT, COMMUNE_VINH, MINISTRY)
    ))
    # one copy per recipient system, byte for byte
    for sid in ("tinh-nghean", "truc-quoc-gia"):
        copies = [f for f in hub.inbox(sid) if f.read_bytes() == body]
        assert len(copies) == 1, sid
    assert [f for f in hub.inbox("huyen-thanhchuong") if f.read_bytes() == body] == []
    meta = json.loads(next(f for f in hub.inbox("tinh-nghean") if f.read_bytes() == body).with_suffix(".json").read_text())
    assert meta["recipients"] == [DEPT, COMMUNE_VINH]

    # the recipients answer 01, 03, 06; every status reaches the sender's system
    for minute, code in enumerate((StatusCode.ARRIVED, StatusCode.ACCEPTED, StatusCode.DONE)):
        for reporter, sid in ((DEPT, "tinh-nghean"), (COMMUNE_VINH, "tinh-nghean"), (MINISTRY, "truc-quoc-gia")):
            r = hub.submit(sid, make_status(reporter, COMMUNE_TC, 101, code, notation="UBND", minute=minute)).result
            assert r is not None and r["outcome"] == "accepted", r
            assert r["routed"] == {"huyen-thanhchuong": [COMMUNE_TC]}
    wait_for(lambda: len(statuses_in(hub, "huyen-thanhchuong")) >= 9)
    about = document_id(COMMUNE_TC, 101, "UBND")
    codes = sorted(s[:2] for s in statuses_in(hub, "huyen-thanhchuong") if s.endswith(about))
    assert codes.count("01") == 3 and codes.count("03") == 3 and codes.count("06") == 3

    trace = hub.hub.ledger.trace(document_id(COMMUNE_TC, 101, "UBND"))
    organs = {o.organ: o for o in trace.organs}
    for r in (DEPT, COMMUNE_VINH, MINISTRY):
        assert organs[r].deliveries[0].delivery.state is TransportState.DELIVERED
        assert [s.status_code for s in organs[r].statuses] == ["01", "03", "06"]
    assert organs[MINISTRY].deliveries[0].delivery.system_id == "truc-quoc-gia"


def test_unknown_recipient_is_rejected_with_status_02(hub: RunningHub) -> None:
    body = make_edoc(PROVINCE, ["000.00.99.H41"], 201)
    res = hub.submit("tinh-nghean", body).result
    assert res is not None and res["outcome"] == "rejected" and res["code"] == "UNKNOWN_RECIPIENT", res
    wait_for(lambda: any("[UNKNOWN_RECIPIENT]" in s for s in statuses_in(hub, "tinh-nghean")))
    status = next(s for s in statuses_in(hub, "tinh-nghean") if "[UNKNOWN_RECIPIENT]" in s)
    assert status.startswith("02 ") and "000.00.99.H41" in status and "không có trong danh bạ" in status
    assert not any(f.read_bytes() == body for sid in hub.hub.sinks for f in hub.inbox(sid))


def test_sender_not_served_by_submitting_system(hub: RunningHub) -> None:
    body = make_edoc(PROVINCE, [DEPT], 202)  # the district DMS pretends to be the province
    res = hub.submit("huyen-thanhchuong", body).result
    assert res is not None and res["code"] == "SENDER_NOT_SERVED", res
    wait_for(lambda: any("[SENDER_NOT_SERVED]" in s for s in statuses_in(hub, "huyen-thanhchuong")))
    assert not any(f.read_bytes() == body for sid in hub.hub.sinks for f in hub.inbox(sid))


def test_missing_user_id(hub: RunningHub) -> None:
    body = make_edoc(PROVINCE, [DEPT], 203)
    res = hub.submit("tinh-nghean", body, user_id=None).result
    assert res is not None and res["code"] == "USER_ID_MISSING", res
    wait_for(lambda: any("[USER_ID_MISSING]" in s for s in statuses_in(hub, "tinh-nghean")))
    assert not any(f.read_bytes() == body for sid in hub.hub.sinks for f in hub.inbox(sid))
    row = hub.hub.ledger.get_package(digest(body))
    assert row is not None and row.reason_code == "USER_ID_MISSING"


def test_duplicates(hub: RunningHub) -> None:
    body = make_edoc(PROVINCE, [DEPT], 301)
    first = hub.submit("tinh-nghean", body).result
    second = hub.submit("tinh-nghean", body).result
    assert first is not None and first["outcome"] == "accepted"
    assert second is not None and second["outcome"] == "duplicate", second
    wait_for(lambda: any(f.read_bytes() == body for f in hub.inbox("tinh-nghean")))
    assert sum(1 for dgst, _ in scripted(hub, "tinh-nghean").calls if dgst == digest(body)) == 1
    other = make_edoc(PROVINCE, [DEPT], 301, subject="V/v nội dung khác, cùng số ký hiệu")
    third = hub.submit("tinh-nghean", other).result
    assert third is not None and third["code"] == "DUPLICATE_CONFLICT", third
    # an exact duplicate of a rejected package gets the same rejection again
    again = hub.submit("tinh-nghean", other).result
    assert again is not None and again["outcome"] == "duplicate" and again["code"] == "DUPLICATE_CONFLICT", again


def _transient(h: Handover) -> SinkResult:
    return TransientFailure(f"DMS busy (attempt {h.attempt})")


def test_transient_failures_go_through_the_tiers(hub: RunningHub) -> None:
    body = make_edoc(PROVINCE, [DEPT], 401)
    sink = scripted(hub, "tinh-nghean")
    sink.script(digest(body), _transient, _transient, _transient)
    assert hub.submit("tinh-nghean", body).result["outcome"] == "accepted"  # type: ignore[index]
    wait_for(lambda: (st := hub.hub.ledger.delivery_state(digest(body), DEPT)) is not None
             and st.state is TransportState.DELIVERED, timeout=30)
    attempts = [a for d, a in sink.calls if d == digest(body)]
    assert attempts == [1, 2, 3, 4]
    states = [t.state for t in hub.hub.ledger.history(digest(body), DEPT)]
    assert states.count(TransportState.RETRYING) == 3


def test_exhausted_tiers_park_tell_the_sender_and_replay_delivers(hub: RunningHub) -> None:
    body = make_edoc(COMMUNE_TC, [DEPT], 402, notation="UBND")
    sink = scripted(hub, "tinh-nghean")
    sink.always[digest(body)] = _transient
    assert hub.submit("huyen-thanhchuong", body).result["outcome"] == "accepted"  # type: ignore[index]
    wait_for(lambda: (st := hub.hub.ledger.delivery_state(digest(body), DEPT)) is not None
             and st.state is TransportState.PARKED, timeout=30)
    assert [a for d, a in sink.calls if d == digest(body)] == [1, 2, 3, 4]
    wait_for(lambda: any("[DELIVERY_FAILED]" in s and "402" in s for s in statuses_in(hub, "huyen-thanhchuong")))
    parked = [p for p in list_parked(hub.hub.topology, hub.amqp_url, "tinh-nghean") if p.digest == digest(body)]
    assert len(parked) == 1 and parked[0].code == "DELIVERY_FAILED" and "several attempts" in parked[0].reason
    del sink.always[digest(body)]  # the DMS is fixed
    assert replay_parked(hub.hub.topology, hub.amqp_url, "tinh-nghean") >= 1
    wait_for(lambda: hub.hub.ledger.delivery_state(digest(body), DEPT).state is TransportState.DELIVERED)  # type: ignore[union-attr]
    assert any(f.read_bytes() == body for f in hub.inbox("tinh-nghean"))


def test_permanent_refusal_parks_at_once(hub: RunningHub) -> None:
    body = make_edoc(PROVINCE, [DEPT], 403)
    scripted(hub, "tinh-nghean").script(digest(body), lambda h: PermanentFailure("HTTP 422 từ chối định dạng"))
    hub.submit("tinh-nghean", body)
    wait_for(lambda: (st := hub.hub.ledger.delivery_state(digest(body), DEPT)) is not None
             and st.state is TransportState.PARKED)
    wait_for(lambda: any("[DELIVERY_REFUSED]" in s and "403" in s for s in statuses_in(hub, "tinh-nghean")))


def test_poison_message_is_parked_and_traffic_flows(hub: RunningHub) -> None:
    poison = make_edoc(PROVINCE, [DEPT], 501)

    def crash(h: Handover) -> SinkResult:
        raise RuntimeError("DMS client bug")

    sink = scripted(hub, "tinh-nghean")
    sink.always[digest(poison)] = crash
    hub.submit("tinh-nghean", poison)
    healthy = [make_edoc(PROVINCE, [DEPT], 510 + i) for i in range(5)]
    for b in healthy:
        hub.submit("tinh-nghean", b, want_reply=False)
    wait_for(lambda: all(any(f.read_bytes() == b for f in hub.inbox("tinh-nghean")) for b in healthy))
    wait_for(lambda: (st := hub.hub.ledger.delivery_state(digest(poison), DEPT)) is not None
             and st.state is TransportState.PARKED, timeout=30)
    # a crash is waited out through the tiers like any transient failure (no immediate requeues
    # spending the delivery limit in milliseconds), then parked with a reason code
    assert len([1 for d, _ in sink.calls if d == digest(poison)]) == 1 + len(hub.hub.settings.retry_delays_s)
    parked = [p for p in list_parked(hub.hub.topology, hub.amqp_url, "tinh-nghean") if p.digest == digest(poison)]
    assert [p.code for p in parked] == ["HUB_FAILURE"]
    del sink.always[digest(poison)]


def test_revoke_reaches_recipient_after_the_original(hub: RunningHub) -> None:
    original = make_edoc(PROVINCE, [DEPT], 601)
    revoke = make_edoc(PROVINCE, [DEPT], 602, doc_type=BussinessDocType.REVOKE, target=document_id(PROVINCE, 601))
    sink = scripted(hub, "tinh-nghean")
    sink.script(digest(original), _transient, _transient)
    assert hub.submit("tinh-nghean", original).result["outcome"] == "accepted"  # type: ignore[index]
    assert hub.submit("tinh-nghean", revoke).result["outcome"] == "accepted"  # type: ignore[index]
    wait_for(lambda: digest(revoke) in sink.order, timeout=30)
    assert sink.order.index(digest(original)) < sink.order.index(digest(revoke))


def test_trace_cli_shows_the_timeline(hub: RunningHub, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from router.cli import app

    url = hub.hub.settings.ledger_url
    result = CliRunner().invoke(app, ["trace", document_id(COMMUNE_TC, 101, "UBND"), "--ledger", url])
    assert result.exit_code == 0, result.output
    for needle in (DEPT, COMMUNE_VINH, MINISTRY, "Hoàn thành", "delivered"):
        assert needle in result.output, needle
