"""Issue 8 item 4, "No business authorization on changes and statuses", on the real broker and
ledger: a system that serves its From may still only act on its own documents.

FAIL on the code before (each accepted, delivered to the real recipients and written into the
victim document's timeline), refused now with a reason code and the hub's status 02 to the
submitting system, nothing delivered, nothing in the victim's timeline:

* the district's system revokes and updates a document of UBND tỉnh it never sent;
* it "replaces" a document that does not exist;
* it posts statuses 13, 15, 16, 06 and 02 about a document it never received;
* a status about a document that does not exist;
* the national-axis gateway relays a package from one external organ to another.

PASS, kept: the sender updates and revokes its own document; the recipients send 01–06, 15 and
16; the sender sends 13; the national axis's statuses about a document that left through it;
the axis's changes and statuses about documents from before the hub, by their DocumentId.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.folder import FolderSink
from adapters.sink import Handover, SinkResult, TransientFailure
from router.ledger.events import Outcome
from router.pipeline.clock import vietnam_day
from schemas.codes import BussinessDocType, StatusCode
from schemas.models import EdocPackage, StatusPackage
from schemas.parse import parse_package
from tests.support.faults import ScriptedSink
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import document_id, make_edoc, make_status
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

PROVINCE, DEPT, COMMUNE, DISTRICT = "000.00.00.H41", "000.00.13.H41", "000.31.25.H41", "000.00.25.H41"
BNV, BNV_UNIT, BTC = "000.00.00.G09", "000.00.07.G09", "000.00.00.G12"
PROVINCE_DMS, DISTRICT_DMS, GATEWAY = "tinh-nghean", "huyen-thanhchuong", "truc-quoc-gia"
DOC = document_id(PROVINCE, 801)  # UBND tỉnh → Sở TT&TT and xã Thanh Hưng
AXIS_DOC = document_id(PROVINCE, 802)  # UBND tỉnh → Bộ Nội vụ, through the national axis


@pytest.fixture(scope="module")
def hub(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    from tests.support.services import delete_broker_objects, unique_prefix

    prefix = unique_prefix("rights")
    try:
        with running_hub(amqp_url, prefix, tmp_path_factory.mktemp("rights")) as h:
            for body in (make_edoc(PROVINCE, [DEPT, COMMUNE], 801), make_edoc(PROVINCE, [BNV], 802)):
                res = h.submit(PROVINCE_DMS, body).result
                assert res is not None and res["outcome"] == "accepted", res
            wait_for(lambda: delivered_edocs(h, DISTRICT_DMS) and delivered_edocs(h, GATEWAY), what="originals")
            yield h
    finally:
        delete_broker_objects(prefix)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def delivered(hub: RunningHub, system: str) -> list[EdocPackage | StatusPackage]:
    return [parse_package(p.read_bytes()).package for p in hub.inbox(system)]


def delivered_edocs(hub: RunningHub, system: str) -> list[bytes]:
    return [p.read_bytes() for p in hub.inbox(system) if p.name.startswith("edoc-")]


def hub_refusals(hub: RunningHub, system: str, code: str) -> list[StatusPackage]:
    """The hub's status 02 naming `code`, as the system received it."""
    return [p for p in delivered(hub, system) if isinstance(p, StatusPackage)
            and p.header.from_.organ_id == hub.hub.settings.hub_organ and p.header.status_code is StatusCode.REJECTED
            and p.header.description.startswith(f"[{code}] ")]


def refused(hub: RunningHub, system: str, body: bytes, code: str) -> None:
    """Refused with `code`, told with the hub's 02, recorded as refused, delivered to nobody."""
    told = len(hub_refusals(hub, system, code))
    res = hub.submit(system, body).result
    assert res is not None and (res["outcome"], res.get("code")) == ("rejected", code), res
    assert "routed" not in res
    row = hub.hub.ledger.get_package(digest(body))
    assert row is not None and row.outcome is Outcome.REJECTED and row.reason_code == code
    assert row.submitted_by == system
    assert [d.system_id for d in hub.hub.ledger.deliveries(digest(body)) if d.system_id] == []
    wait_for(lambda: len(hub_refusals(hub, system, code)) > told, what=f"the hub's 02 [{code}] to {system}")
    assert res["document_id"] in {p.header.response_for.document_id for p in hub_refusals(hub, system, code)}
    for sid in hub.hub.directory.systems:
        assert all(p.read_bytes() != body for p in hub.inbox(sid)), f"{sid} received a refused package"


def accepted(hub: RunningHub, system: str, body: bytes, to: str) -> None:
    res = hub.submit(system, body).result
    assert res is not None and res["outcome"] == "accepted", res
    wait_for(lambda: any(p.read_bytes() == body for p in hub.inbox(to)), what=f"delivered to {to}")


def untouched_timeline(hub: RunningHub, document: str) -> None:
    """No refused package wrote into the document's timeline: no status of the district, none of the hub."""
    reporters = {s.reporter_organ for s in hub.hub.ledger.timeline(document)}
    assert not reporters & {DISTRICT, hub.hub.settings.hub_organ, BTC}, reporters


# -- FAIL before, refused now ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [BussinessDocType.REVOKE, BussinessDocType.UPDATE])
def test_the_district_cannot_change_a_province_document_it_never_sent(hub: RunningHub, kind: BussinessDocType) -> None:
    change = make_edoc(DISTRICT, [DEPT, COMMUNE], 810 + int(kind), doc_type=kind, target=DOC)
    refused(hub, DISTRICT_DMS, change, "CHANGE_TARGET_UNKNOWN")
    untouched_timeline(hub, DOC)
    # the SDK's way, the original's DocumentId as its own: the same answer
    sdk_style = make_edoc(DISTRICT, [DEPT], 815 + int(kind), doc_type=kind, doc_id=DOC)
    refused(hub, DISTRICT_DMS, sdk_style, "CHANGE_TARGET_UNKNOWN")


def test_a_document_that_does_not_exist_cannot_be_replaced(hub: RunningHub) -> None:
    ghost = document_id(DISTRICT, 9999)
    replace = make_edoc(DISTRICT, [PROVINCE], 820, doc_type=BussinessDocType.REPLACE, target=ghost)
    refused(hub, DISTRICT_DMS, replace, "CHANGE_TARGET_UNKNOWN")
    assert hub.hub.ledger.timeline(ghost) == ()


@pytest.mark.parametrize("code", ["13", "15", "16", "06", "02"])
def test_statuses_from_an_organ_that_never_received_the_document(hub: RunningHub, code: str) -> None:
    about = DEPT if code == "13" else PROVINCE  # a 13 goes to a recipient, the others to the sender
    status = make_status(DISTRICT, about, 801, StatusCode(code), about_document_id=DOC, minute=int(code))
    refused(hub, DISTRICT_DMS, status, "STATUS_DOCUMENT_UNKNOWN")
    untouched_timeline(hub, DOC)


def test_a_status_about_a_document_that_does_not_exist(hub: RunningHub) -> None:
    ghost = document_id(PROVINCE, 9998)
    refused(hub, PROVINCE_DMS, make_status(DEPT, PROVINCE, 9998, StatusCode.ACCEPTED), "STATUS_DOCUMENT_UNKNOWN")
    assert hub.hub.ledger.timeline(ghost) == ()


def test_the_gateway_does_not_relay_between_external_organs(hub: RunningHub) -> None:
    relay = make_edoc(BNV, [BTC], 830, notation="BNV-VP")
    refused(hub, GATEWAY, relay, "GATEWAY_RELAY")
    # nor a status from one external organ to another
    answer = make_status(BTC, BNV, 830, StatusCode.ACCEPTED, notation="BNV-VP")
    res = hub.submit(GATEWAY, answer).result
    assert res is not None and (res["outcome"], res["code"]) == ("rejected", "GATEWAY_RELAY"), res


# -- PASS, kept -----------------------------------------------------------------------------------------

def test_the_sender_updates_and_revokes_its_own_document(hub: RunningHub) -> None:
    update = make_edoc(PROVINCE, [DEPT, COMMUNE], 840, doc_type=BussinessDocType.UPDATE, target=DOC)
    accepted(hub, PROVINCE_DMS, update, PROVINCE_DMS)
    revoke = make_edoc(PROVINCE, [DEPT, COMMUNE], 841, doc_type=BussinessDocType.REVOKE, doc_id=DOC)  # SDK style
    accepted(hub, PROVINCE_DMS, revoke, DISTRICT_DMS)


@pytest.mark.parametrize("code", ["01", "02", "03", "04", "05", "06", "15", "16"])
def test_recipients_report_on_the_document(hub: RunningHub, code: str) -> None:
    minute = 10 + int(code)
    accepted(hub, PROVINCE_DMS, make_status(DEPT, PROVINCE, 801, StatusCode(code), minute=minute), PROVINCE_DMS)
    accepted(hub, DISTRICT_DMS, make_status(COMMUNE, PROVINCE, 801, StatusCode(code), minute=minute), PROVINCE_DMS)
    reported = {(s.reporter_organ, s.status_code) for s in hub.hub.ledger.timeline(DOC)}
    assert {(DEPT, code), (COMMUNE, code)} <= reported


def test_the_sender_asks_to_withdraw(hub: RunningHub) -> None:
    accepted(hub, PROVINCE_DMS, make_status(PROVINCE, COMMUNE, 801, StatusCode.WITHDRAW_REQUEST, minute=40, about_document_id=DOC),
             DISTRICT_DMS)


def test_the_national_axis_answers_about_what_left_through_it(hub: RunningHub) -> None:
    # Bộ Nội vụ and one of its units the hub never addressed answer through the axis
    for minute, (reporter, code) in enumerate(((BNV, StatusCode.ARRIVED), (BNV_UNIT, StatusCode.ACCEPTED))):
        status = make_status(reporter, PROVINCE, 802, code, minute=50 + minute)
        accepted(hub, GATEWAY, status, PROVINCE_DMS)
    assert {(s.reporter_organ, s.status_code) for s in hub.hub.ledger.timeline(AXIS_DOC)} >= {(BNV, "01"),
                                                                                             (BNV_UNIT, "03")}
    # about a document that did not leave through the axis: refused, and (a link) not answered back
    res = hub.submit(GATEWAY, make_status(BNV, PROVINCE, 801, StatusCode.ACCEPTED, minute=55)).result
    assert res is not None and (res["outcome"], res["code"]) == ("rejected", "STATUS_DOCUMENT_UNKNOWN"), res
    assert not [p for p in hub_refusals(hub, GATEWAY, "STATUS_DOCUMENT_UNKNOWN")]


def test_the_national_axis_changes_and_answers_documents_from_before_the_hub(hub: RunningHub) -> None:
    """The ledger began with this module's first package (today); the documents below are dated
    2025-03-14, exchanged over the axis before the hub: a ministry's revocation of its own and
    its answer to the province's are taken by their DocumentId (router/pipeline/rights.py)."""
    old_ministry_doc = document_id(BNV, 860, "BNV-VP")
    revoke = make_edoc(BNV, [PROVINCE], 861, notation="BNV-VP", doc_type=BussinessDocType.REVOKE,
                       target=old_ministry_doc)
    accepted(hub, GATEWAY, revoke, PROVINCE_DMS)
    done = make_status(BNV, PROVINCE, 870, StatusCode.DONE, minute=58)  # the province's 2025 document
    accepted(hub, GATEWAY, done, PROVINCE_DMS)
    assert (BNV, "06") in {(s.reporter_organ, s.status_code) for s in hub.hub.ledger.timeline(document_id(PROVINCE, 870))}
    # of the hub's own time, a document the ledger does not hold is unknown, as for everyone
    today = vietnam_day(datetime.now(UTC))
    late = make_edoc(BNV, [PROVINCE], 862, notation="BNV-VP", doc_type=BussinessDocType.REVOKE,
                     target=document_id(BNV, 863, "BNV-VP", day=today))
    res = hub.submit(GATEWAY, late).result
    assert res is not None and (res["outcome"], res["code"]) == ("rejected", "CHANGE_TARGET_UNKNOWN"), res
    # nor may one ministry revoke another's
    other = make_edoc(BTC, [PROVINCE], 864, notation="BTC-VP", doc_type=BussinessDocType.REVOKE,
                      target=old_ministry_doc)
    res = hub.submit(GATEWAY, other).result
    assert res is not None and (res["outcome"], res["code"]) == ("rejected", "CHANGE_TARGET_UNKNOWN"), res


def test_a_mixed_inbound_package_reaches_the_province_and_is_not_relayed(hub: RunningHub) -> None:
    body = make_edoc(BNV, [PROVINCE, BTC], 850, notation="BNV-VP")
    res = hub.submit(GATEWAY, body).result
    assert res is not None and res["outcome"] == "accepted", res
    assert res["routed"] == {PROVINCE_DMS: [PROVINCE]} and res["rejected_recipients"] == [BTC], res
    wait_for(lambda: body in delivered_edocs(hub, PROVINCE_DMS), what="delivered to the province")
    row = hub.hub.ledger.delivery_state(digest(body), BTC)
    assert row is not None and row.state == "rejected" and row.system_id is None
    assert body not in delivered_edocs(hub, GATEWAY)
    # no 02 for the recipients the axis serves: it delivers to them itself
    assert all(p.header.response_for.document_id != document_id(BNV, 850, "BNV-VP")
               for p in hub_refusals(hub, GATEWAY, "GATEWAY_RELAY"))


def test_a_change_by_another_organ_of_the_senders_system_waits_for_the_original(
    amqp_url: str, broker_prefix: str, tmp_path: Path
) -> None:
    """The province DMS serves UBND tỉnh and its departments: Sở TT&TT may update the province's
    document through it (it could send as UBND tỉnh anyway), and the update still reaches the
    commune after the original, which the district DMS refuses twice first."""
    sink = ScriptedSink(FolderSink(tmp_path / "deliver" / DISTRICT_DMS))
    original = make_edoc(PROVINCE, [COMMUNE], 860)

    def busy(h: Handover) -> SinkResult:
        return TransientFailure(f"DMS busy (attempt {h.attempt})")

    sink.script(digest(original), busy, busy)
    with running_hub(amqp_url, broker_prefix, tmp_path, sinks={DISTRICT_DMS: sink}) as h:
        first = h.submit(PROVINCE_DMS, original).result
        assert first is not None and first["outcome"] == "accepted", first
        update = make_edoc(DEPT, [COMMUNE], 861, doc_type=BussinessDocType.UPDATE, target=document_id(PROVINCE, 860))
        second = h.submit(PROVINCE_DMS, update).result
        assert second is not None and second["outcome"] == "accepted", second
        wait_for(lambda: digest(update) in sink.order, timeout=40, what="the update delivered")
        assert sink.order.index(digest(original)) < sink.order.index(digest(update))
