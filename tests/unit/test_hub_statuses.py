"""The statuses the hub creates speak as the hub: its own organ, its own words, no internals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from router.pipeline.delivery_recovery import DeliveryRecovery
from router.pipeline.envelope import Envelope
from router.pipeline.failure import Failure, FailureKind, park_for
from router.pipeline.recovery import Inbound
from router.pipeline.statuses import HubIdentity, HubVoice, NoticeKind, held_notice, organ_label
from router.settings import Settings
from router.topology.build import TopologyOptions, build_topology
from schemas.codes import PackageKind, StatusCode
from schemas.findings import Code
from schemas.models import StatusPackage
from schemas.parse import parse_package
from tests.support.hub import test_directory as directory_for

pytestmark = pytest.mark.unit
AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
ERROR = "[Errno 13] Permission denied: '/srv/lienthong/deliver/huyen-thanhchuong/edoc-1.edxml'"
DIRECTORY = directory_for("u")
TOPOLOGY = build_topology(DIRECTORY, TopologyOptions(prefix="u"))


def test_the_default_hub_is_its_own_organ_listed_in_the_sample_directory() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.hub_organ != "000.00.00.H41"  # not the People's Committee
    organ = DIRECTORY.organ(s.hub_organ)
    assert organ is not None and organ.name == s.hub_name
    assert HubVoice().identity == HubIdentity(s.hub_organ, s.hub_name)


def test_an_invalid_hub_organ_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="LIENTHONG_HUB_ORGAN"):
        HubIdentity("hub", "Trục")


@pytest.mark.parametrize("code", [Code.DELIVERY_REFUSED, Code.DELIVERY_FAILED])
def test_a_parked_copy_is_told_by_the_hub_without_the_sinks_error(code: Code) -> None:
    voice = HubVoice(HubIdentity("000.02.13.H41", "Trục liên thông văn bản tỉnh Nghệ An"))
    recovery = DeliveryRecovery(DIRECTORY, TOPOLOGY, voice=voice)
    env = Envelope(digest="a" * 64, kind=PackageKind.EDOC, system="huyen-thanhchuong", recipients=("000.31.25.H41",),
                   sender="000.00.00.H41", document_id="000.00.00.H41,2026/03/01,7/UBND-VP", submitted_by="tinh-nghean")
    kind = FailureKind.SINK_PERMANENT if code is Code.DELIVERY_REFUSED else FailureKind.SINK_TRANSIENT
    decision = recovery.park(Inbound(b"<x/>", env.to_headers(), "hub", "a" * 64, "q", AT), park_for(code),
                             Failure(kind, ERROR))
    assert decision.outcome is not None and decision.outcome.reason is not None
    assert ERROR in decision.outcome.reason  # for the log and the operator
    notices = [p for p in decision.publishes if p.exchange == TOPOLOGY.names.system_exchange("tinh-nghean")]
    assert len(notices) == 1
    pkg = parse_package(notices[0].body).package
    assert isinstance(pkg, StatusPackage)
    h = pkg.header
    assert h.from_.organ_id == voice.identity.organ and h.status_code is StatusCode.PROCESSING
    assert h.from_.organ_name == voice.identity.name and h.staff_info is not None
    assert h.response_for.organ_id == "000.00.00.H41" and h.response_for.code == "7/UBND-VP"
    assert h.description.startswith(f"[{code.value}] Thông báo vận chuyển của trục liên thông: ")
    assert "Errno" not in h.description and "/srv" not in h.description and "Permission" not in h.description
    assert "Ủy ban nhân dân xã Thanh Hưng (000.31.25.H41)" in h.description  # the clerk's words


def test_notices_keep_vi_and_en_apart_until_rendered() -> None:
    n = held_notice(park_for(Code.DELIVERY_FAILED), organ_label(DIRECTORY, "000.31.25.H41"))
    assert n.kind is NoticeKind.HELD and "chưa chuyển được" in n.vi and "could not be delivered" in n.en
    assert "không phải" not in n.en and "could not" not in n.vi
    assert n.description == f"[DELIVERY_FAILED] Thông báo vận chuyển của trục liên thông: {n.vi} / " \
                            f"Hub transport notice: {n.en}"
    assert organ_label(DIRECTORY, "999.99.99.H99") == "999.99.99.H99"  # unknown: the code alone
