"""Issue 7, "Hub statuses speak for others": every status the hub creates is the hub's own.

On the real broker, with real folder sinks and a real ledger: a sink failing with a path and an
errno in its error text reaches the sender as the hub's hold notice (from the hub's organ, with
the reason code, without the path or the errno), never as a 02 in the recipient's name; after
the cause is fixed, `parked replay` delivers it, the ledger and `trace` say delivered, and the
sender is told so by the hub. A refusal at intake comes from the hub too.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from adapters.folder import FolderSink
from adapters.sink import TransientFailure
from router.amqp.parked import replay_parked
from router.ledger.events import TransportState
from router.ledger.render import render_trace_text
from router.settings import HUB_ORGAN
from schemas.codes import StatusCode
from schemas.models import StatusPackage
from schemas.parse import parse_package
from tests.support.faults import ScriptedSink
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import make_edoc
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

SENDER = "000.00.00.H41"  # UBND tỉnh, whose DMS is tinh-nghean
COMMUNE = "000.31.25.H41"  # served by huyen-thanhchuong
SINK_ERROR = "[Errno 28] No space left on device: '/srv/lienthong/deliver/huyen-thanhchuong/.tmp-edoc.edxml'"
LEAKS = re.compile(r"/srv|errno|Errno|\[Errno|No space left|\.tmp-", re.IGNORECASE)


def statuses(hub: RunningHub, system: str) -> list[StatusPackage]:
    out = []
    for path in hub.inbox(system):
        pkg = parse_package(path.read_bytes()).package
        if isinstance(pkg, StatusPackage):
            out.append(pkg)
    return sorted(out, key=lambda p: p.header.timestamp)


def test_a_failing_sink_is_reported_by_the_hub_and_a_replay_supersedes_it(
    amqp_url: str, broker_prefix: str, tmp_path: Path
) -> None:
    sink = ScriptedSink(FolderSink(tmp_path / "deliver" / "huyen-thanhchuong"))
    body = make_edoc(SENDER, [COMMUNE], 41, notation="UBND-VP")
    digest = hashlib.sha256(body).hexdigest()
    sink.always[digest] = lambda _h: TransientFailure(SINK_ERROR)
    with running_hub(amqp_url, broker_prefix, tmp_path, sinks={"huyen-thanhchuong": sink}) as hub:
        hub_organ = hub.hub.settings.hub_organ
        assert hub_organ == HUB_ORGAN and hub.hub.directory.organ(hub_organ) is not None  # the hub's own code
        result = hub.submit("tinh-nghean", body)
        assert result.result is not None and result.result["outcome"] == "accepted", result.result
        assert result.result["digest"] == digest
        document_id = result.result["document_id"]

        wait_for(lambda: len(statuses(hub, "tinh-nghean")) == 1, what="the sender told of the parking")
        notice = statuses(hub, "tinh-nghean")[0].header
        assert notice.from_.organ_id == hub_organ != COMMUNE  # the hub's, not the recipient's
        assert notice.from_.organ_name == hub.hub.settings.hub_name
        assert notice.status_code is StatusCode.PROCESSING  # transport state, not a refusal (02)
        assert notice.response_for.organ_id == SENDER and notice.response_for.document_id == document_id
        assert notice.description.startswith("[DELIVERY_FAILED] ")
        assert "trục liên thông" in notice.description.lower() and "Hub transport notice" in notice.description
        assert COMMUNE in notice.description
        assert not LEAKS.search(notice.description), notice.description
        assert notice.staff_info is not None and notice.staff_info.department == hub.hub.settings.hub_name

        ledger = hub.hub.ledger
        state = ledger.delivery_state(digest, COMMUNE)
        assert state is not None and state.state is TransportState.PARKED
        assert hub.inbox("huyen-thanhchuong") == []

        # the operator frees the disk and replays: delivered, and the sender hears it from the hub
        del sink.always[digest]
        assert replay_parked(hub.hub.topology, amqp_url, "huyen-thanhchuong") == 1
        wait_for(lambda: len(hub.inbox("huyen-thanhchuong")) == 1, what="delivered after the replay")
        assert hub.inbox("huyen-thanhchuong")[0].read_bytes() == body
        wait_for(lambda: len(statuses(hub, "tinh-nghean")) == 2, what="the sender told of the delivery")
        # timestamps have whole seconds: tell the two apart by what they say, not by their order
        by_code = {s.header.status_code: s.header for s in statuses(hub, "tinh-nghean")}
        assert set(by_code) == {StatusCode.PROCESSING, StatusCode.ARRIVED}
        follow_up = by_code[StatusCode.ARRIVED]
        assert follow_up.from_.organ_id == hub_organ
        assert follow_up.response_for.document_id == document_id and not LEAKS.search(follow_up.description)

        wait_for(lambda: (s := ledger.delivery_state(digest, COMMUNE)) is not None
                 and s.state is TransportState.DELIVERED, what="the ledger says delivered")
        trace = ledger.trace(document_id)
        organs = {o.organ: o for o in trace.organs}
        assert organs[COMMUNE].deliveries[0].delivery.state is TransportState.DELIVERED
        assert [s.status_code for s in organs[hub_organ].statuses] == ["05", "01"]
        assert COMMUNE not in {o.organ for o in trace.organs if o.statuses}  # nothing in its name
        text = render_trace_text(trace)
        assert "Đã giao" in text and "Tạm giữ" in text


def test_a_refusal_at_intake_comes_from_the_hub_not_from_the_unknown_recipient(
    amqp_url: str, broker_prefix: str, tmp_path: Path
) -> None:
    unknown = "000.99.99.H41"
    with running_hub(amqp_url, broker_prefix, tmp_path) as hub:
        result = hub.submit("tinh-nghean", make_edoc(SENDER, ["000.00.13.H41", unknown], 42))
        assert result.result is not None and result.result["rejected_recipients"] == [unknown], result.result
        wait_for(lambda: len(statuses(hub, "tinh-nghean")) == 1, what="the sender told of the refused recipient")
        refusal = statuses(hub, "tinh-nghean")[0].header
        assert refusal.from_.organ_id == hub.hub.settings.hub_organ
        assert refusal.status_code is StatusCode.REJECTED
        assert refusal.description.startswith("[UNKNOWN_RECIPIENT] Trục liên thông từ chối tiếp nhận: ")
        assert unknown in refusal.description
