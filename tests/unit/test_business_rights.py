"""Business authorization as a pure decision (router/pipeline/rights.py, issue 8 item 4): who may
change a document and who may report on it, over what the ledger carried — the packages are
the real ones intake parses, the directory the shipped Nghệ An one, the ledger's answer a value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest

from router.directory.model import Directory, System
from router.ledger.rows import Carried
from router.pipeline import rights
from router.pipeline.intake import _final_for
from schemas.codes import BussinessDocType, StatusCode
from schemas.findings import Code
from schemas.models import EdocPackage, StatusPackage
from schemas.parse import parse_package
from tests.support.hub import test_directory as hub_directory
from tests.support.packages import document_id, make_edoc, make_status

pytestmark = pytest.mark.unit

PROVINCE, DEPT, DISTRICT, COMMUNE = "000.00.00.H41", "000.00.13.H41", "000.00.25.H41", "000.31.25.H41"
KHDT, TAICHINH = "000.00.05.H41", "000.00.04.H41"  # merged in 2025: KH&ĐT forwards to Tài chính
BNV, BTC = "000.00.00.G09", "000.00.00.G12"
DAY = date(2026, 1, 15)

DIRECTORY = hub_directory("rights")
PROVINCE_DMS, DISTRICT_DMS, GATEWAY = (DIRECTORY.systems[s] for s in ("tinh-nghean", "huyen-thanhchuong",
                                                                      "truc-quoc-gia"))
DOC = document_id(PROVINCE, 7)


def edoc(body: bytes) -> EdocPackage:
    pkg = parse_package(body).package
    assert isinstance(pkg, EdocPackage)
    return pkg


def status(body: bytes) -> StatusPackage:
    pkg = parse_package(body).package
    assert isinstance(pkg, StatusPackage)
    return pkg


def sent(sender: str = PROVINCE, *routed: tuple[str, str | None, str], kind: BussinessDocType = BussinessDocType.NEW,
         by: str = "tinh-nghean") -> Carried:
    return Carried("d" * 64, sender, by, kind, tuple(routed))


#: the province's document 7, routed to its department, to a district's commune, to the merged
#: Sở KH&ĐT (forwarded to Sở Tài chính) and to Bộ Nội vụ through the national axis
PROVINCE_DOC = sent(PROVINCE, (DEPT, None, "tinh-nghean"), (COMMUNE, None, "huyen-thanhchuong"),
                    (KHDT, TAICHINH, "tinh-nghean"), (BNV, None, "truc-quoc-gia"))


def ledger(*carried: Carried) -> rights.CarriedLookup:
    def lookup(document: str) -> Sequence[Carried]:
        return carried if document == DOC else ()
    return lookup


def decide(pkg: EdocPackage | StatusPackage, system: System, *carried: Carried,
           directory: Directory = DIRECTORY) -> str | None:
    refusal = rights.business_refusal(pkg, system, directory, ledger(*carried))
    return None if refusal is None else refusal.code.value


def change(sender: str, kind: BussinessDocType, *, target: str | None = DOC, own_id: str | None = None) -> EdocPackage:
    return edoc(make_edoc(sender, [DEPT], 8, doc_type=kind, target=target, doc_id=own_id))


# -- changes ------------------------------------------------------------------------------------------

def test_a_new_document_needs_no_standing() -> None:
    assert decide(edoc(make_edoc(DISTRICT, [PROVINCE], 1)), DISTRICT_DMS) is None


@pytest.mark.parametrize("kind", [BussinessDocType.REVOKE, BussinessDocType.UPDATE, BussinessDocType.REPLACE])
def test_a_change_comes_only_from_the_originals_sender(kind: BussinessDocType) -> None:
    assert decide(change(PROVINCE, kind), PROVINCE_DMS, PROVINCE_DOC) is None
    # the district's system serves the district; the document is the province's
    assert decide(change(DISTRICT, kind), DISTRICT_DMS, PROVINCE_DOC) == "CHANGE_TARGET_UNKNOWN"
    # a document the hub never carried
    assert decide(change(PROVINCE, kind), PROVINCE_DMS) == "CHANGE_TARGET_UNKNOWN"


def test_the_target_is_the_packages_own_document_id_without_bussiness_document_id() -> None:
    sdk_style = change(PROVINCE, BussinessDocType.REVOKE, target=None, own_id=DOC)
    assert sdk_style.target_document_id == DOC
    assert decide(sdk_style, PROVINCE_DMS, PROVINCE_DOC) is None
    assert decide(change(PROVINCE, BussinessDocType.REVOKE, target=None), PROVINCE_DMS, PROVINCE_DOC) == \
        "CHANGE_TARGET_UNKNOWN"  # its own DocumentId names no document the hub carried


def test_the_system_serving_the_originals_sender_may_change_it_through_another_of_its_organs() -> None:
    # the province DMS serves the province and its departments: it could send as the province anyway
    assert decide(change(DEPT, BussinessDocType.UPDATE), PROVINCE_DMS, PROVINCE_DOC) is None


def test_only_an_original_holds_a_document_a_change_cannot_be_its_own_target() -> None:
    only_a_change = sent(PROVINCE, (DEPT, None, "tinh-nghean"), kind=BussinessDocType.UPDATE)
    assert decide(change(PROVINCE, BussinessDocType.REVOKE), PROVINCE_DMS, only_a_change) == "CHANGE_TARGET_UNKNOWN"


def test_through_the_gateway_only_the_same_external_organ_changes_its_document() -> None:
    ministry_doc = sent(BNV, (PROVINCE, None, "tinh-nghean"), by="truc-quoc-gia")
    assert decide(change(BNV, BussinessDocType.REVOKE), GATEWAY, ministry_doc) is None
    # the gateway serves every external organ: that does not let Bộ Tài chính revoke Bộ Nội vụ's
    assert decide(change(BTC, BussinessDocType.REVOKE), GATEWAY, ministry_doc) == "CHANGE_TARGET_UNKNOWN"


# -- statuses -----------------------------------------------------------------------------------------

def report(reporter: str, code: StatusCode, about: str = PROVINCE) -> StatusPackage:
    return status(make_status(reporter, about, 7, code, about_document_id=DOC))


RECEIVER_CODES = [StatusCode("01"), StatusCode("02"), StatusCode("03"), StatusCode("04"), StatusCode("05"),
                  StatusCode("06"), StatusCode("15"), StatusCode("16")]


@pytest.mark.parametrize("code", RECEIVER_CODES)
def test_receiver_statuses_come_only_from_an_organ_the_document_was_routed_to(code: StatusCode) -> None:
    assert decide(report(DEPT, code), PROVINCE_DMS, PROVINCE_DOC) is None
    assert decide(report(COMMUNE, code), DISTRICT_DMS, PROVINCE_DOC) is None
    assert decide(report(TAICHINH, code), PROVINCE_DMS, PROVINCE_DOC) is None  # the successor answers
    # the district itself never received it (its commune did)
    assert decide(report(DISTRICT, code), DISTRICT_DMS, PROVINCE_DOC) == "STATUS_DOCUMENT_UNKNOWN"
    # nor did the province, its sender, receive its own document
    assert decide(report(PROVINCE, code), PROVINCE_DMS, PROVINCE_DOC) == "STATUS_DOCUMENT_UNKNOWN"
    # a document the hub never carried
    assert decide(report(DEPT, code), PROVINCE_DMS) == "STATUS_DOCUMENT_UNKNOWN"


def test_a_receiver_status_names_the_document_as_its_sender_sent_it() -> None:
    # ResponseFor/OrganId names the district: no document with this DocumentId came from it
    assert decide(report(DEPT, StatusCode.ACCEPTED, about=DISTRICT), PROVINCE_DMS, PROVINCE_DOC) == \
        "STATUS_DOCUMENT_UNKNOWN"


def test_a_withdraw_request_comes_only_from_the_sender() -> None:
    assert decide(report(PROVINCE, StatusCode.WITHDRAW_REQUEST, about=DEPT), PROVINCE_DMS, PROVINCE_DOC) is None
    assert decide(report(COMMUNE, StatusCode.WITHDRAW_REQUEST), DISTRICT_DMS, PROVINCE_DOC) == \
        "STATUS_DOCUMENT_UNKNOWN"
    assert decide(report(PROVINCE, StatusCode.WITHDRAW_REQUEST), PROVINCE_DMS) == "STATUS_DOCUMENT_UNKNOWN"


def test_a_code_outside_the_nine_may_come_from_either_party() -> None:
    odd = StatusCode("09")
    assert decide(report(DEPT, odd), PROVINCE_DMS, PROVINCE_DOC) is None
    assert decide(report(PROVINCE, odd, about=DEPT), PROVINCE_DMS, PROVINCE_DOC) is None
    assert decide(report(DISTRICT, odd), DISTRICT_DMS, PROVINCE_DOC) == "STATUS_DOCUMENT_UNKNOWN"


def test_statuses_from_the_axis_are_matched_to_what_left_through_it() -> None:
    # a unit of Bộ Nội vụ the hub never addressed answers for the ministry: the document left
    # through the axis, so the axis's answer about it is taken
    assert decide(report("000.00.07.G09", StatusCode.ACCEPTED), GATEWAY, PROVINCE_DOC) is None
    assert decide(report(BNV, StatusCode.DONE), GATEWAY, PROVINCE_DOC) is None
    not_through_the_axis = sent(PROVINCE, (DEPT, None, "tinh-nghean"))
    assert decide(report(BNV, StatusCode.ACCEPTED), GATEWAY, not_through_the_axis) == "STATUS_DOCUMENT_UNKNOWN"
    assert decide(report(BNV, StatusCode.ACCEPTED), GATEWAY) == "STATUS_DOCUMENT_UNKNOWN"
    # only the sender withdraws, whatever link the request comes over
    assert decide(report(BNV, StatusCode.WITHDRAW_REQUEST), GATEWAY, PROVINCE_DOC) == "STATUS_DOCUMENT_UNKNOWN"


def test_an_ordinary_system_gets_no_link_standing() -> None:
    # the district's system received the document for its commune: another of its organs has no standing
    assert decide(report("000.00.25.H41", StatusCode.ACCEPTED), DISTRICT_DMS, PROVINCE_DOC) == \
        "STATUS_DOCUMENT_UNKNOWN"
    assert not rights.is_link(DISTRICT_DMS) and rights.is_link(GATEWAY)


# -- relay through the gateway ------------------------------------------------------------------------

def test_the_gateway_does_not_relay_between_external_organs() -> None:
    relay = edoc(make_edoc(BNV, [BTC, "000.00.00.H29"], 3))
    refusal = rights.relay_refusal(relay, GATEWAY, DIRECTORY, DAY)
    assert refusal is not None and refusal.code is Code.GATEWAY_RELAY
    assert "/" not in refusal.vi.split(":")[0] and BTC in refusal.en  # names the organs, nothing internal
    answer = status(make_status(BNV, BTC, 3, StatusCode.ACCEPTED))  # a status goes to ResponseFor/OrganId
    assert rights.relay_refusal(answer, GATEWAY, DIRECTORY, DAY) is not None
    # a package with a recipient in the tree is the hub's to carry (the external ones are left out)
    assert rights.relay_refusal(edoc(make_edoc(BNV, [PROVINCE, BTC], 4)), GATEWAY, DIRECTORY, DAY) is None
    # an unknown recipient inside the tree is UNKNOWN_RECIPIENT's business, not a relay
    assert rights.relay_refusal(edoc(make_edoc(BNV, ["000.00.99.H41"], 5)), GATEWAY, DIRECTORY, DAY) is None
    # a local system sending abroad is not a relay
    assert rights.relay_refusal(edoc(make_edoc(PROVINCE, [BTC], 6)), PROVINCE_DMS, DIRECTORY, DAY) is None


# -- what the refusal is worth later ------------------------------------------------------------------

def test_refusals_about_what_the_ledger_did_not_know_are_decided_afresh() -> None:
    for code in (Code.CHANGE_TARGET_UNKNOWN, Code.STATUS_DOCUMENT_UNKNOWN):
        assert not _final_for(code.value, "tinh-nghean", PROVINCE_DMS)
    assert _final_for(Code.GATEWAY_RELAY.value, "truc-quoc-gia", GATEWAY)
    assert _final_for(Code.SECRET_DOCUMENT.value, "tinh-nghean", PROVINCE_DMS)


# -- documents from before the hub ----------------------------------------------------------------------

GO_LIVE = date(2025, 6, 1)  # the hub began carrying on this day; make_edoc's documents are of 2025-03-14


def before_the_hub(pkg: EdocPackage | StatusPackage, system: System, since: date | None = GO_LIVE) -> str | None:
    refusal = rights.business_refusal(pkg, system, DIRECTORY, ledger(), lambda: since)
    return None if refusal is None else refusal.code.value


def test_a_link_may_change_or_answer_for_a_document_from_before_the_hub_by_its_document_id() -> None:
    """The ministry revokes what it sent the province over the axis before the hub went live,
    and answers what the province sent it then: the ledger cannot know those documents."""
    ministry_doc = document_id(BNV, 70, "BNV-VP")
    for kind in (BussinessDocType.REVOKE, BussinessDocType.UPDATE, BussinessDocType.REPLACE):
        assert before_the_hub(change(BNV, kind, target=ministry_doc), GATEWAY) is None
    assert before_the_hub(change(BNV, BussinessDocType.REVOKE, target=None, own_id=ministry_doc), GATEWAY) is None
    assert before_the_hub(report(BNV, StatusCode.DONE), GATEWAY) is None  # about the province's DOC
    withdraw = status(make_status(BNV, PROVINCE, 70, StatusCode.WITHDRAW_REQUEST, notation="BNV-VP",
                                  about_document_id=ministry_doc))
    assert before_the_hub(withdraw, GATEWAY) is None


def test_the_document_id_must_name_the_party_and_a_day_before_the_hub() -> None:
    ministry_doc = document_id(BNV, 70, "BNV-VP")
    # Bộ Tài chính cannot revoke Bộ Nội vụ's document, nor answer as the sender of the province's
    assert before_the_hub(change(BTC, BussinessDocType.REVOKE, target=ministry_doc), GATEWAY) == \
        "CHANGE_TARGET_UNKNOWN"
    assert before_the_hub(report(BTC, StatusCode.DONE, about=BNV), GATEWAY) == "STATUS_DOCUMENT_UNKNOWN"
    # only the sender withdraws
    assert before_the_hub(report(BNV, StatusCode.WITHDRAW_REQUEST), GATEWAY) == "STATUS_DOCUMENT_UNKNOWN"
    # a document of the hub's own time the ledger does not hold is unknown, as before
    late = document_id(BNV, 71, "BNV-VP", day=date(2025, 6, 1))
    assert before_the_hub(change(BNV, BussinessDocType.REVOKE, target=late), GATEWAY) == "CHANGE_TARGET_UNKNOWN"
    # a day that does not read (the SDK's update sample says 2014/02/30): nothing is assumed
    assert before_the_hub(change(BNV, BussinessDocType.UPDATE, target="000.00.00.G09,2014/02/30,7/BNV"),
                          GATEWAY) == "CHANGE_TARGET_UNKNOWN"
    # no day known (an empty ledger, nothing configured): nothing is assumed
    assert before_the_hub(change(BNV, BussinessDocType.REVOKE, target=ministry_doc), GATEWAY, None) == \
        "CHANGE_TARGET_UNKNOWN"


def test_a_system_of_the_tree_gets_no_leeway_for_documents_from_before_the_hub() -> None:
    own_old = document_id(DISTRICT, 9999)  # issue 8: "replaced a document that does not exist"
    assert before_the_hub(change(DISTRICT, BussinessDocType.REPLACE, target=own_old), DISTRICT_DMS) == \
        "CHANGE_TARGET_UNKNOWN"
    assert before_the_hub(report(DEPT, StatusCode.DONE), PROVINCE_DMS) == "STATUS_DOCUMENT_UNKNOWN"


def test_what_the_ledger_carries_is_never_overruled_by_the_document_id() -> None:
    """A DocumentId the hub carried from another sender: the link's claim is judged by the ledger."""
    carried_by_the_province = sent(PROVINCE, (DEPT, None, "tinh-nghean"))
    refusal = rights.business_refusal(change(BNV, BussinessDocType.REVOKE, target=DOC), GATEWAY, DIRECTORY,
                                      ledger(carried_by_the_province), lambda: GO_LIVE)
    assert refusal is not None and refusal.code is Code.CHANGE_TARGET_UNKNOWN
