"""The hub on the national axis (issue 10 item 6 acceptance), end to end on loopback: the real
broker, a real ledger, the fake national axis over real HTTP, and Bộ Nội vụ's system as another
client of that axis.

* a package for a recipient outside the tree goes out with sendEdoc, Bộ Nội vụ takes it and
  answers status 03, the poller brings the status back and it reaches the sender's inbox;
  `lienthong axis reconcile` then reports nothing; a package the axis "lost" is reported;
* an inbound package is routed to its recipient in the tree once, even when it is polled twice
  (our updateStatus lost), re-offered under a new docId with other bytes, or addressed also to
  another organ outside the tree (not sent back to the axis).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from adapters.axis.client import AxisClient, AxisConfig, AxisLink, AxisOk, AxisSink, Fetched
from adapters.axis.journal import AxisJournal
from adapters.axis.poller import AxisPoller
from adapters.registry import SINKS, SinkPlace
from ops.provision import ensure_user, gateway_grant, revoke_user
from router.cli.axis import BrokerIntake
from router.settings import PACKAGE_DATA
from schemas.codes import StatusCode
from schemas.models import StatusPackage
from schemas.parse import parse_package
from tests.integration.test_pipeline_basic import wait_for
from tests.support.fake_axis import FakeAxis, fake_axis
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import document_id, make_edoc, make_status
from tests.support.procs import LIENTHONG
from tests.support.services import delete_broker_objects, unique_prefix

pytestmark = pytest.mark.e2e

HUB_ID, HUB_SECRET = "000.00.00.H41", "hub-axis-secret"
BNV_ID, BNV_SECRET = "000.00.00.G09", "bnv-axis-secret"
BNV = "000.00.00.G09"
BTC = "000.00.00.G12"
TINH = "000.00.00.H41"


@dataclass
class Link:
    axis: FakeAxis
    hub: RunningHub
    bnv: AxisClient
    poller: AxisPoller
    journal: AxisJournal
    env: dict[str, str]


@pytest.fixture(scope="module")
def link(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Link]:
    """One hub and one axis for the module (a hub with its broker users takes seconds to build)."""
    broker_prefix = unique_prefix("axis")
    tmp_path = tmp_path_factory.mktemp("axis")
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    gateway_user = f"{broker_prefix}-gw-axis"  # an adapter gateway account for the CLI's poll
    with fake_axis() as axis, _cleanup(broker_prefix, gateway_user):
        axis.register(HUB_ID, HUB_SECRET, groups=("H41",))
        axis.register(BNV_ID, BNV_SECRET, organs=(BNV, "000.00.07.G09"))
        axis.register("000.00.00.G12", "btc-secret", organs=(BTC,))
        config = AxisConfig(AxisLink(axis.url, HUB_ID, HUB_SECRET), ledger_url)
        sink = SINKS.build("axis", SINKS.options("axis", {}), SinkPlace("truc-quoc-gia", tmp_path, axis=config))
        assert isinstance(sink, AxisSink)
        gw_password = ensure_user(gateway_grant(gateway_user, broker_prefix))
        with running_hub(amqp_url, broker_prefix, tmp_path, ledger_url=ledger_url, retry_delays_s=(1, 1, 1, 1),
                         sinks={"truc-quoc-gia": sink}, gateway_users=(gateway_user,)) as hub:
            intake = BrokerIntake(hub.user_url("truc-quoc-gia"), hub.hub.topology.names.intake_exchange)
            journal = AxisJournal.open(ledger_url)
            poller = AxisPoller(AxisClient(config.link), journal, intake)
            directory = tmp_path / "directory.yaml"
            data = yaml.safe_load((PACKAGE_DATA / "nghe_an.yaml").read_text(encoding="utf-8"))
            for system in data["systems"]:
                system["broker_user"] = hub.hub.directory.systems[system["id"]].broker_user
            directory.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            env = {**os.environ, "LIENTHONG_AXIS_URL": axis.url, "LIENTHONG_AXIS_SYSTEM_ID": HUB_ID,
                   "LIENTHONG_AXIS_SECRET": HUB_SECRET, "LIENTHONG_LEDGER_URL": ledger_url,
                   "LIENTHONG_PREFIX": broker_prefix, "LIENTHONG_DIRECTORY": str(directory),
                   "LIENTHONG_AXIS_AMQP_URL": f"amqp://{gateway_user}:{gw_password}@{amqp_url.split('@', 1)[1]}",
                   "LIENTHONG_GATEWAY_USERS": gateway_user, "LIENTHONG_LOG_LEVEL": "WARNING"}
            bnv = AxisClient(AxisLink(axis.url, BNV_ID, BNV_SECRET))
            try:
                yield Link(axis, hub, bnv, poller, journal, env)
            finally:
                bnv.close()
                intake.close()
                journal.close()


@contextmanager
def _cleanup(prefix: str, user: str) -> Iterator[None]:
    try:
        yield
    finally:
        revoke_user(user)
        delete_broker_objects(prefix)


def _lienthong(link: Link, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LIENTHONG), *args], capture_output=True, text=True, timeout=120, env=link.env,
                          check=False)


def _bnv_takes_all(link: Link) -> list[bytes]:
    """Bộ Nội vụ's system polls the axis, downloads each package and confirms it."""
    listed = link.bnv.received_list("edoc")
    assert isinstance(listed, AxisOk)
    bodies = []
    for item in listed.answer.data:
        got = link.bnv.download_edoc(item.docId)
        assert isinstance(got, Fetched)
        assert isinstance(link.bnv.update_status(item.docId, "done"), AxisOk)
        bodies.append(got.body)
    return bodies


def _inbox(link: Link, system: str, prefix: str) -> list[Path]:
    return [f for f in link.hub.inbox(system) if f.name.startswith(prefix)]


def test_out_through_the_axis_status_back_by_polling_and_reconciled(link: Link) -> None:
    body = make_edoc(TINH, [BNV], 101)
    res = link.hub.submit("tinh-nghean", body).result
    assert res is not None and res["outcome"] == "accepted", res
    wait_for(lambda: bool(link.axis.inbox(BNV_ID)), timeout=30)
    sent = link.axis.calls_of("sendEdoc")
    assert [c.params["from"] for c in sent] == [TINH] and json.loads(sent[0].params["to"]) == [BNV]
    assert _bnv_takes_all(link) == [body]

    status = make_status(BNV, TINH, 101, StatusCode.ACCEPTED)
    answer = link.bnv.send_edoc(status, sender=BNV, messagetype="status")  # `to` from ResponseFor
    assert isinstance(answer, AxisOk), answer
    done = _lienthong(link, "axis", "poll", "--once")  # the operator's command, via a gateway account
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["submitted"] == 1
    wait_for(lambda: bool(_inbox(link, "tinh-nghean", "status-")), timeout=30)
    [arrived] = _inbox(link, "tinh-nghean", "status-")
    assert arrived.read_bytes() == status
    assert link.axis.inbox(HUB_ID, "status")[0].status == "done"  # confirmed only after the confirm

    clean = _lienthong(link, "axis", "reconcile", "--format", "json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    report = json.loads(clean.stdout)
    assert report["clean"] and report["sent"] == 1 and report["differences"] == []

    link.axis.lose(1)  # the axis answers a DocId and forgets the package
    lost = make_edoc(TINH, ["000.00.07.G09"], 102)
    res = link.hub.submit("tinh-nghean", lost).result
    assert res is not None and res["outcome"] == "accepted", res
    wait_for(lambda: len(link.journal.all_sent()) == 2 and all(r.doc_id for r in link.journal.all_sent()))
    wait_for(lambda: link.hub.hub.ledger.delivery_state(res["digest"], "000.00.07.G09") is not None
             and link.hub.hub.ledger.delivery_state(res["digest"], "000.00.07.G09").state == "delivered")  # type: ignore[union-attr]
    differ = _lienthong(link, "axis", "reconcile", "--format", "json")
    assert differ.returncode == 1, differ.stdout + differ.stderr
    [missing] = json.loads(differ.stdout)["differences"]
    assert missing["kind"] == "missing_at_axis" and missing["recipient"] == "000.00.07.G09"
    assert missing["document_id"] == document_id(TINH, 102) and missing["ledger_state"] == "delivered"
    table = _lienthong(link, "axis", "reconcile")
    assert table.returncode == 1 and "missing_at_axis" in table.stdout and "000.00.07.G09" in table.stdout


def test_an_inbound_package_reaches_its_recipient_once(link: Link) -> None:
    body = make_edoc(BNV, [TINH, BTC], 7, notation="BNV-VP")
    hub_sends = len([c for c in link.axis.calls_of("sendEdoc") if c.system == HUB_ID])
    assert isinstance(link.bnv.send_edoc(body, sender=BNV, messagetype="edoc", to=[TINH, BTC]), AxisOk)
    link.axis.fail("updateStatus", 1, "drop")  # our confirmation is lost: the axis offers it again
    first = link.poller.poll_once()
    assert len(first.submitted) == 1 and first.waiting, first
    again = link.poller.poll_once()
    assert again.submitted == [] and again.confirmed == first.submitted, again

    # the axis re-offers the same document under a new docId with other bytes (a new trace entry)
    resent = make_edoc(BNV, [TINH, BTC], 7, notation="BNV-VP", subject="V/v thử nghiệm liên thông văn bản.")
    assert resent != body
    assert isinstance(link.bnv.send_edoc(resent, sender=BNV, messagetype="edoc", to=[TINH]), AxisOk)
    third = link.poller.poll_once()
    assert len(third.duplicates) == 1 and third.submitted == [], third

    wait_for(lambda: bool(_inbox(link, "tinh-nghean", "edoc-")), timeout=30)
    # Bộ Tài chính is the axis's to reach: recorded (GATEWAY_RELAY), never sent back to the axis
    wait_for(lambda: bool(link.hub.hub.ledger.delivery_state(first_digest(body), BTC)), timeout=30)
    [arrived] = _inbox(link, "tinh-nghean", "edoc-")
    assert parse_package(arrived.read_bytes()).package.document_id == document_id(BNV, 7, "BNV-VP")
    assert arrived.read_bytes() == body
    assert len([c for c in link.axis.calls_of("sendEdoc") if c.system == HUB_ID]) == hub_sends  # none from the hub
    assert all(r.status == "done" for r in link.axis.inbox(HUB_ID))


def test_an_axis_failing_for_a_while_recovers_through_the_tiers(link: Link) -> None:
    def calls(result: str) -> float:
        return REGISTRY.get_sample_value("lienthong_axis_client_calls_total",
                                         {"operation": "sendEdoc", "result": result}) or 0.0

    down, refused = calls("down"), calls("refused")
    for mode in ("drop", "500", "json500"):  # no answer, a 500 page, the axis shape with ErrorCode 20
        link.axis.fail("sendEdoc", 1, mode)
    body = make_edoc(TINH, [BNV], 103)
    res = link.hub.submit("tinh-nghean", body).result
    assert res is not None and res["outcome"] == "accepted", res

    def delivered() -> bool:
        row = link.hub.hub.ledger.delivery_state(res["digest"], BNV)
        return row is not None and row.state == "delivered"

    wait_for(delivered, timeout=60)
    steps = [h.state for h in link.hub.hub.ledger.history(res["digest"], BNV)]
    assert steps.count("retrying") == 3, steps
    assert (calls("down") - down, calls("refused") - refused) == (2, 1)  # what operators see
    assert [r.body for r in link.axis.inbox(BNV_ID) if r.status != "done"] == [body]  # one copy on the axis


def test_a_refusal_by_the_axis_parks_the_package_and_tells_the_sender(link: Link) -> None:
    unknown = "000.00.09.G22"  # outside the tree, and no agency of the axis: ErrorCode 18
    body = make_edoc(TINH, [unknown], 104)
    res = link.hub.submit("tinh-nghean", body).result
    assert res is not None and res["outcome"] == "accepted", res

    def parked() -> bool:
        row = link.hub.hub.ledger.delivery_state(res["digest"], unknown)
        return row is not None and row.state == "parked"

    wait_for(parked, timeout=60)
    assert len([c for c in link.axis.calls_of("sendEdoc") if c.params.get("to") == f'["{unknown}"]']) == 1

    def notices() -> list[str]:
        return [f.read_text(encoding="utf-8") for f in _inbox(link, "tinh-nghean", "status-")
                if b"DELIVERY_REFUSED" in f.read_bytes()]

    wait_for(lambda: bool(notices()), timeout=30)
    notice = parse_package(notices()[0].encode()).package
    assert isinstance(notice, StatusPackage)
    assert notice.document_id == document_id(TINH, 104) and "DELIVERY_REFUSED" in notice.header.description
    # the hub's own notice: 02 once, now 05 "held for the operator" (a transport failure is not the
    # recipient's refusal); either way from the hub, never a recipient's business status
    assert notice.header.status_code in (StatusCode.REJECTED, StatusCode.PROCESSING)


def test_nothing_is_confirmed_to_the_axis_before_the_broker_confirmed(link: Link) -> None:
    body = make_edoc(BNV, [TINH], 9, notation="BNV-VP")
    assert isinstance(link.bnv.send_edoc(body, sender=BNV, messagetype="edoc", to=[TINH]), AxisOk)
    [item] = [r for r in link.axis.inbox(HUB_ID, "edoc") if r.body == body]
    dead = BrokerIntake("amqp://guest:guest@127.0.0.1:1/%2F", link.hub.hub.topology.names.intake_exchange)
    blocked = AxisPoller(link.poller.client, link.journal, dead).poll_once()
    assert blocked.waiting == {item.doc_id: "intake publish not confirmed"} and blocked.confirmed == []
    assert item.status == "initial" and link.journal.received(item.doc_id) is None
    assert not [c for c in link.axis.calls_of("updateStatus") if c.params.get("docid") == item.doc_id]
    taken = link.poller.poll_once()  # the broker is back (the real one): submitted, then confirmed
    assert taken.submitted == [item.doc_id] and taken.confirmed == [item.doc_id]
    assert item.status == "done"


def test_an_inbound_package_the_hub_refuses_is_answered_through_the_axis(link: Link) -> None:
    """Intake refuses it (a recipient in the tree the directory lacks); the hub's status 02 goes to
    the submitting system — the gateway — and so back over the axis to the sender."""
    body = make_edoc(BNV, ["000.00.99.H41"], 8, notation="BNV-VP")
    assert isinstance(link.bnv.send_edoc(body, sender=BNV, messagetype="edoc", to=["000.00.99.H41"]), AxisOk)
    report = link.poller.poll_once()
    assert len(report.submitted) == 1, report

    def refusals() -> list[StatusPackage]:
        listed = link.bnv.received_list("status")
        assert isinstance(listed, AxisOk)
        out = []
        for item in listed.answer.data:
            got = link.bnv.get_edoc(item.docId)
            assert isinstance(got, Fetched)
            pkg = parse_package(got.body).package
            if isinstance(pkg, StatusPackage) and pkg.document_id == document_id(BNV, 8, "BNV-VP"):
                out.append(pkg)
        return out

    wait_for(lambda: bool(refusals()), timeout=30)
    [refusal] = refusals()
    assert refusal.header.status_code is StatusCode.REJECTED and "UNKNOWN_RECIPIENT" in refusal.header.description


def first_digest(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()
