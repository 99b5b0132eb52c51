"""The direct AMQP contract of the README, exercised by the example client (examples/amqp_client.py)
as a real process with the system's own broker user against the real broker and hub: submit
with the required properties and read the intake result, receive and ack from the system's
queues, send a status back, refuse a package for good (parked, sender told), and learn of a
refusal of one's own package both from the intake result and as a hub status in the queue."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.amqp import DirectQueue
from adapters.registry import SINKS, SinkPlace
from router.ledger.events import TransportState
from schemas.codes import StatusCode
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import document_id, make_edoc, make_status
from tests.support.services import ROOT, delete_broker_objects, unique_prefix
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

A, B = "tinh-nghean", "huyen-thanhchuong"  # A on a folder; B speaks AMQP itself
PROVINCE, DISTRICT = "000.00.00.H41", "000.00.25.H41"
CLIENT = ROOT / "examples" / "amqp_client.py"


def client(hub: RunningHub, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CLIENT), "--prefix", hub.prefix, *args], capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def hub(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    tmp_path = tmp_path_factory.mktemp("amqp")
    prefix = unique_prefix("am")
    direct = SINKS.build("amqp", SINKS.options("amqp", {}), SinkPlace(B, tmp_path))
    assert isinstance(direct, DirectQueue)
    try:
        with running_hub(amqp_url, prefix, tmp_path, sinks={B: direct}) as running:
            yield running
    finally:
        delete_broker_objects(prefix)


def test_receive_ack_and_answer_with_a_status(hub: RunningHub, tmp_path: Path) -> None:
    body = make_edoc(PROVINCE, [DISTRICT], 601)
    (tmp_path / "cv.edxml").write_bytes(body)
    sent = client(hub, "submit", str(tmp_path / "cv.edxml"), "--url", hub.user_url(A))
    assert sent.returncode == 0, sent.stderr
    result = json.loads(sent.stdout)
    assert result["outcome"] == "accepted" and result["routed"] == {B: [DISTRICT]}

    got = client(hub, "receive", "--url", hub.user_url(B), "--system", B, "--out", str(tmp_path / "b"),
                 "--count", "1", "--idle", "30")
    assert got.returncode == 0, got.stderr
    (name,) = got.stdout.split()
    assert (tmp_path / "b" / name).read_bytes() == body
    meta = json.loads((tmp_path / "b" / name).with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["lt-sender"] == PROVINCE and meta["lt-recipients"] == DISTRICT
    names = hub.hub.topology.names
    assert hub.queue_depth(names.system_queue(B, "normal")) == 0  # acked
    led = hub.hub.ledger
    row = led.delivery_state(result["digest"], DISTRICT)
    assert row is not None and row.state is TransportState.ROUTED  # the hub sees the queue, not the DMS

    status = make_status(DISTRICT, PROVINCE, 601, StatusCode.ARRIVED)
    (tmp_path / "st.edxml").write_bytes(status)
    answered = client(hub, "submit", str(tmp_path / "st.edxml"), "--url", hub.user_url(B))
    assert answered.returncode == 0 and json.loads(answered.stdout)["outcome"] == "accepted", answered.stderr
    wait_for(lambda: any(p.read_bytes() == status for p in hub.inbox(A)), what="the status at A")
    trace = led.trace(document_id(PROVINCE, 601))
    assert [s.status_code for o in trace.organs for s in o.statuses] == ["01"]


def test_a_package_refused_for_good_is_parked_and_its_sender_told(hub: RunningHub, tmp_path: Path) -> None:
    r = hub.submit(A, make_edoc(PROVINCE, [DISTRICT], 602))
    assert r.result is not None and r.result["outcome"] == "accepted"
    got = client(hub, "receive", "--url", hub.user_url(B), "--system", B, "--out", str(tmp_path / "b"),
                 "--count", "1", "--idle", "30", "--refuse")
    assert got.returncode == 0, got.stderr
    led = hub.hub.ledger
    wait_for(lambda: (row := led.delivery_state(r.result["digest"], DISTRICT)) is not None  # type: ignore[index]
             and row.state is TransportState.PARKED, what="parked")
    wait_for(lambda: any(b"DELIVERY_REFUSED" in p.read_bytes() for p in hub.inbox(A)), what="A told")


def test_a_refusal_arrives_as_the_intake_result_and_as_a_hub_status(hub: RunningHub, tmp_path: Path) -> None:
    (tmp_path / "forged.edxml").write_bytes(make_edoc(PROVINCE, [PROVINCE], 603))  # B does not serve the province
    sent = client(hub, "submit", str(tmp_path / "forged.edxml"), "--url", hub.user_url(B))
    assert sent.returncode == 1
    assert json.loads(sent.stdout)["code"] == "SENDER_NOT_SERVED"
    got = client(hub, "receive", "--url", hub.user_url(B), "--system", B, "--out", str(tmp_path / "b2"),
                 "--count", "1", "--idle", "30")
    (name,) = got.stdout.split()
    assert name.startswith("status-") and b"SENDER_NOT_SERVED" in (tmp_path / "b2" / name).read_bytes()
    assert json.loads((tmp_path / "b2" / name).with_suffix(".json").read_text())["lt-submitted-by"] == "lienthong"
