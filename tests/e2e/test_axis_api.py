"""The national-axis-compatible API end to end (issue 10, items 1–3): a real hub on the real
broker, the API on uvicorn over real HTTP, the province DMS pulling through its mailbox. The
client is built from domain.md §7.6, and the vendor SDK's captured requests are replayed byte
for byte (../shared/axis-captures/)."""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pika
import pytest
from prometheus_client import REGISTRY

from adapters.axis import protocol as p
from adapters.mailbox import LetterState
from ops.provision import Grant, ensure_user, revoke_user
from router.amqp.mailbox_returns import MailboxReturns
from router.cli.api import build
from router.cli.errors import OperatorError, explain
from router.pipeline.submitter import ON_BEHALF_OF
from router.settings import Settings
from schemas.codes import StatusCode
from schemas.limits import ParseLimits
from schemas.policy import ValidationOptions
from tests.integration.test_pipeline_basic import wait_for
from tests.support.axis_api import DISTRICT_ID, DISTRICT_SECRET, AxisRig, axis_rig, read_response, replay
from tests.support.axis_captures import SYSTEM_ID, load
from tests.support.hub import PASSWORD
from tests.support.packages import document_id, make_edoc, make_status
from tests.support.services import ROOT, answers, delete_broker_objects, unique_prefix

pytestmark = pytest.mark.e2e

SAMPLE_1 = load("001-sendEdoc.http")
PACKAGE_1 = SAMPLE_1.body[:-2]
DOCUMENT_1 = "000.00.00.H41,2025/03/14,1234/UBND-KGVX"


@pytest.fixture(scope="module")
def rig(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AxisRig]:
    prefix = unique_prefix("axis")
    try:
        with axis_rig(amqp_url, prefix, Path(tmp_path_factory.mktemp("axis"))) as r:
            yield r
    finally:
        delete_broker_objects(prefix)


def _answer(body: bytes) -> dict[str, object]:
    data: dict[str, object] = json.loads(body)
    assert {"status", "ErrorCode", "ErrorDesc"} <= set(data) and body.isascii(), data
    return data


def test_the_sdks_own_requests_send_list_fetch_confirm_and_report_status(rig: AxisRig) -> None:
    # sendEdoc exactly as the SDK wrote it (raw body + CRLF, unpadded hash-file)
    status, body, _ = replay(rig.port, SAMPLE_1)
    sent = _answer(body)
    assert (status, sent["status"], sent["ErrorCode"]) == (200, "OK", "0"), sent
    digest = hashlib.sha256(PACKAGE_1).hexdigest()
    assert sent["DocId"]
    # the package is routed to 000.00.13.H41, served by the province DMS, which pulls: it waits in its mailbox
    client = rig.client()
    wait_for(lambda: len(client.received()) == 1, timeout=30)
    # the SDK's own list request sees it
    status, body, _ = replay(rig.port, load("002-getReceivedEdocList.http"))
    listed = _answer(body)
    (item,) = listed["data"]  # type: ignore[misc]
    assert item["from"] == "000.00.00.H41" and item["messageType"] == "edoc" and item["status"] == "initial"
    doc_id = item["docId"]
    # the byte-identical re-send (the SDK on a dropped connection) gets the first answer, no second effect
    before = rig.hub.hub.ledger.get_package(digest)
    assert before is not None
    status, again, _ = replay(rig.port, SAMPLE_1)
    assert again == json.dumps(sent, separators=(",", ":")).encode()
    after = rig.hub.hub.ledger.get_package(digest)
    assert after == before  # no DuplicateAbsorbed: intake never saw it again
    # fetch: base64 in getEdoc, raw bytes in downloadEdoc (GET, docId in query and signed headers)
    got = client.json("getEdoc", [("docId", doc_id), ("filePath", "/tmp/ignored")], body=b"{}")
    assert base64.b64decode(str(got["data"])) == PACKAGE_1
    raw = client.call("downloadEdoc", [("docId", doc_id)], method="GET", query={"docId": doc_id})
    assert raw.status_code == 200 and raw.content == PACKAGE_1
    assert client.json("countReceiveEdoc", [("servicetype", "eDoc"), ("messagetype", "edoc")],
                       method="GET")["count"] == 1
    # confirm: done; the letter leaves the list; the same request again is answered the same
    confirm = client.call("updateStatus", [("docid", doc_id)], late=[("status", "done")], body=b"{}")
    assert _answer(confirm.content)["ErrorCode"] == "0"
    assert client.received() == []
    letter = rig.mailbox.get("tinh-nghean", doc_id)
    assert letter is not None and letter.state is LetterState.DONE
    # the SDK's own updateStatus (Expect: 100-continue answered at once) for a docId it never got
    status, body, waited = replay(rig.port, load("005-updateStatus.http"))
    assert waited is not None and waited < 0.5
    assert _answer(body)["ErrorCode"] == p.ErrorCode.NOT_FOUND.value
    # status 03 as the SDK sent it (from the department the province DMS serves) comes back to the sender
    status, body, _ = replay(rig.port, load("012-sendEdoc.http"))
    assert _answer(body)["ErrorCode"] == "0", body
    wait_for(lambda: len(client.received("status")) == 1, timeout=30)
    status, body, _ = replay(rig.port, load("003-getReceivedEdocList.http"))
    (st,) = _answer(body)["data"]  # type: ignore[misc]
    assert st["messageType"] == "status" and st["from"] == "000.00.13.H41"
    timeline = rig.hub.hub.ledger.timeline(DOCUMENT_1)
    assert [(e.reporter_organ, e.status_code) for e in timeline] == [("000.00.13.H41", "03")]
    # getSentEdocList: transport and business state from the ledger
    sent_list = client.json("getSentEdocList", [("servicetype", "eDoc"), ("messagetype", "edoc")])
    (leg,) = sent_list["data"]  # type: ignore[misc]
    assert leg["senderDocId"] == sent["DocId"] and leg["receiverDocId"] == doc_id
    assert (leg["toCode"], leg["sendStatus"], leg["receiveStatus"]) == ("000.00.13.H41", "delivered", "03")
    assert leg["receivedTime"] and "Taken by the recipient" in leg["sendStatusDesc"]  # confirmed done
    # the other captured calls authenticate and answer in the axis shape
    _, body, _ = replay(rig.port, load("006-getSentEdocList.http"))  # filters on a docId that is not ours
    assert _answer(body)["data"] == []
    _, body, _ = replay(rig.port, load("007-getAgenciesList.http"))
    assert any(a["code"] == "000.00.00.H41" for a in _answer(body)["data"])  # type: ignore[union-attr]
    _, body, _ = replay(rig.port, load("010-getSynchronizeUnit.http"))
    units = _answer(body)["data"]
    assert any(u["code"] == "000.00.25.H41" and u["pid"] == "000.00.00.H41" and u["isAgency"] is True
               for u in units)  # type: ignore[union-attr]
    for name in ("008-registerAgency.http", "009-deleteAgency.http"):
        _, body, _ = replay(rig.port, load(name))
        assert _answer(body)["ErrorCode"] == p.ErrorCode.UNKNOWN_OPERATION.value


def test_a_folder_systems_package_is_pulled_confirmed_and_answered_with_status_03(rig: AxisRig) -> None:
    """System A (the district) drops a package in its out/ folder → the hub routes it → the
    province DMS pulls it through the API, confirms it, and reports 03 with sendEdoc(status) →
    A finds the status in its status/ folder; trace shows every step."""
    package = make_edoc("000.00.25.H41", ["000.00.00.H41"], 501)
    part = rig.district.out / ".cv-501.part"
    part.write_bytes(package)
    part.rename(rig.district.out / "cv-501.edxml")
    client = rig.client(fresh=True)
    wait_for(lambda: any(i["from"] == "000.00.25.H41" for i in client.received()), timeout=30)
    (item,) = [i for i in client.received() if i["from"] == "000.00.25.H41"]
    assert base64.b64decode(str(client.json("getEdoc", [("docId", item["docId"])], body=b"{}")["data"])) == package
    assert client.update(item["docId"], "processing")["ErrorCode"] == "0"
    assert client.update(item["docId"], "done")["ErrorCode"] == "0"
    status = make_status("000.00.00.H41", "000.00.25.H41", 501, StatusCode.ACCEPTED)
    answer = client.send(status, "000.00.00.H41", "status")
    assert answer["ErrorCode"] == "0", answer
    wait_for(lambda: any(f.read_bytes() == status for f in _files(rig.district.status_in)), timeout=30)
    trace = rig.hub.hub.ledger.trace(document_id("000.00.25.H41", 501))
    (organ,) = [o for o in trace.organs if o.organ == "000.00.00.H41"]
    assert [d.delivery.state.value for d in organ.deliveries] == ["delivered"]
    assert [s.status_code for s in organ.statuses] == ["03"]
    assert "huyen-thanhchuong" in {p.submitted_by for p in trace.packages}  # the folder watcher spoke for A


def _files(folder: Path) -> list[Path]:
    return [f for f in folder.iterdir() if f.is_file() and f.suffix == ".edxml"] if folder.is_dir() else []


def test_refusals_have_the_axis_shape_and_no_effect(rig: AxisRig) -> None:
    counts = rig.hub.hub.ledger.counts()
    province = rig.client()
    district = rig.client(system_id=DISTRICT_ID, secret=DISTRICT_SECRET)
    # wrong HMAC: the province's systemid with another secret
    wrong = rig.client(secret="not-the-secret-at-all").json("getReceivedEdocList", [("messagetype", "edoc")])
    assert (wrong["status"], wrong["ErrorCode"]) == ("FAIL", p.ErrorCode.WRONG_CREDENTIALS.value)
    # another system's id with one's own secret
    forged = rig.client(system_id=DISTRICT_ID, secret="test-secret-123").send(PACKAGE_1, "000.00.00.H41")
    assert forged["ErrorCode"] == p.ErrorCode.WRONG_CREDENTIALS.value and forged["DocId"] == ""
    # a body whose hash-file does not match
    signer = p.Signer(SYSTEM_ID, "test-secret-123")
    headers, body = signer.send_edoc(PACKAGE_1, sender="000.00.00.H41", messagetype="edoc")
    tampered = httpx.post(f"{rig.base}/sendEdoc", headers=headers, content=body.replace(b"1234", b"1235", 1)).json()
    assert tampered["ErrorCode"] == p.ErrorCode.HASH_FILE_MISMATCH.value and tampered["DocId"] == ""
    # a package over the size limit is refused as it streams in (limit lowered for the test)
    options = rig.built.parts.options
    rig.built.parts.options = ValidationOptions(limits=ParseLimits(max_package_bytes=1000))
    try:
        headers, body = p.Signer(SYSTEM_ID, "test-secret-123").send_edoc(PACKAGE_1, sender="000.00.00.H41",
                                                                         messagetype="edoc")
        big = httpx.post(f"{rig.base}/sendEdoc", headers=headers, content=body + b" " * (2 << 20)).json()
        assert big["ErrorCode"] == p.ErrorCode.INVALID_FILE.value and "1000" in big["ErrorDesc"], big
    finally:
        rig.built.parts.options = options
    # an unauthenticated request with Expect: 100-continue is answered at once, without 100 Continue
    capture = load("005-updateStatus.http")
    forged_head = capture.raw.partition(b"\r\n\r\n")[0].replace(b"XroadVnpt-hash-header: e3", b"XroadVnpt-hash-header: f3")
    with socket.create_connection(("127.0.0.1", rig.port), timeout=5) as s:
        s.sendall(forged_head + b"\r\n\r\n")  # and never the body: the answer must come anyway
        code, answer = read_response(s)
    assert code == 401 and _answer(answer)["ErrorCode"] == p.ErrorCode.WRONG_CREDENTIALS.value
    counted = REGISTRY.get_sample_value("lienthong_axis_api_requests_total", {"operation": "sendEdoc", "code": "12"})
    assert counted is not None and counted >= 1
    # From not served by the authenticated system: the SDK's own request 011 (district package, province's id)
    _, raw, _ = replay(rig.port, load("011-sendEdoc.http"))
    refused = _answer(raw)
    assert refused["ErrorCode"] == p.ErrorCode.SENDER_NOT_ALLOWED.value and "000.00.25.H41" in str(refused["ErrorDesc"])
    # the district's credentials cannot send as the province either
    as_province = district.send(make_edoc("000.00.00.H41", ["000.00.25.H41"], 777), "000.00.00.H41")
    assert as_province["ErrorCode"] == p.ErrorCode.SENDER_NOT_ALLOWED.value
    # the district's directory entry asks for `validation: strict`: what the default profile only
    # warns about (a From without OrganName) is refused for it, by the API, before intake
    lax = make_edoc("000.00.25.H41", ["000.00.00.H41"], 778).replace(
        "<edXML:OrganName>Cơ quan 000.00.25.H41</edXML:OrganName>".encode(), b"", 1)
    strict = district.send(lax, "000.00.25.H41")
    assert strict["ErrorCode"] == p.ErrorCode.NOT_CONFORMING.value and "OrganName" in str(strict["ErrorDesc"]), strict
    assert rig.hub.hub.ledger.get_package(hashlib.sha256(lax).hexdigest()) is None
    # a package delivered to another system: not listed, not fetched, not confirmed by the district
    package = make_edoc("000.00.25.H41", ["000.00.00.H41"], 502)
    assert rig.hub.submit("huyen-thanhchuong", package).confirmed
    wait_for(lambda: any(i["from"] == "000.00.25.H41" and base64.b64decode(str(province.json(
        "getEdoc", [("docId", i["docId"])], body=b"{}")["data"])) == package for i in province.received()), timeout=30)
    (theirs,) = [i for i in province.received()
                 if base64.b64decode(str(province.json("getEdoc", [("docId", i["docId"])], body=b"{}")["data"])) == package]
    counts = rig.hub.hub.ledger.counts()
    assert district.received() == []
    assert district.json("getEdoc", [("docId", theirs["docId"])], body=b"{}")["ErrorCode"] == p.ErrorCode.NOT_FOUND.value
    stolen = district.update(theirs["docId"], "done")
    assert stolen["ErrorCode"] == p.ErrorCode.NOT_FOUND.value
    letter = rig.mailbox.get("tinh-nghean", theirs["docId"])
    assert letter is not None and letter.state is LetterState.WAITING
    assert rig.hub.hub.ledger.counts() == counts  # none of the refusals reached the hub
    assert province.update(theirs["docId"], "done")["ErrorCode"] == "0"


def test_a_systems_own_broker_account_cannot_claim_another_system(rig: AxisRig) -> None:
    """The district publishes with its own account, claiming lt-on-behalf-of the province: the
    claim is ignored (only gateway accounts may make it), so a package From the province is a
    forged sender, refused and recorded against the district."""
    package = make_edoc("000.00.00.H41", ["000.00.25.H41"], 901)
    conn = pika.BlockingConnection(pika.URLParameters(rig.hub.user_url("huyen-thanhchuong")))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        user = rig.hub.hub.directory.systems["huyen-thanhchuong"].broker_user
        ch.basic_publish(rig.hub.hub.topology.names.intake_exchange, "", package, pika.BasicProperties(
            delivery_mode=2, user_id=user, headers={ON_BEHALF_OF: "tinh-nghean"}), mandatory=True)
    finally:
        conn.close()
    digest = hashlib.sha256(package).hexdigest()
    wait_for(lambda: rig.hub.hub.ledger.get_package(digest) is not None, timeout=30)
    row = rig.hub.hub.ledger.get_package(digest)
    assert row is not None and row.reason_code == "SENDER_NOT_SERVED" and row.submitted_by == "huyen-thanhchuong"


def test_fail_goes_back_through_the_failure_policy(rig: AxisRig) -> None:
    """The hub's tiers here are 1 s × 3: a letter reported `fail` is offered again after its
    tier's delay, and parked when the tiers are spent."""
    package = make_edoc("000.00.25.H41", ["000.00.00.H41"], 503)
    assert rig.hub.submit("huyen-thanhchuong", package).confirmed
    client = rig.client()

    def mine() -> list[dict[str, object]]:
        return [i for i in client.received() if rig.mailbox.get("tinh-nghean", str(i["docId"])) is not None
                and rig.mailbox.get("tinh-nghean", str(i["docId"])).body == package]  # type: ignore[union-attr]

    wait_for(lambda: len(mine()) == 1, timeout=30)
    doc_id = str(mine()[0]["docId"])
    for attempt in (1, 2, 3):
        answer = client.update(doc_id, "fail")
        assert answer["ErrorCode"] == "0" and "offered again in 1 s" in str(answer["ErrorDesc"]), answer
        assert mine() == []  # hidden during the tier's delay
        again = client.update(doc_id, "fail")  # the same failure reported again inside the delay: not counted
        assert again["ErrorCode"] == "0" and rig.mailbox.get("tinh-nghean", doc_id).fails == attempt  # type: ignore[union-attr]
        wait_for(lambda: len(mine()) == 1, timeout=10)
        letter = rig.mailbox.get("tinh-nghean", doc_id)
        assert letter is not None and letter.fails == attempt
    parked = client.update(doc_id, "fail")
    assert "stopped offering" in str(parked["ErrorDesc"])
    letter = rig.mailbox.get("tinh-nghean", doc_id)
    assert letter is not None and letter.state is LetterState.PARKED
    time.sleep(1.2)
    assert mine() == []
    assert client.update(doc_id, "done")["ErrorCode"] == p.ErrorCode.WRONG_STATE.value
    # the hub carries the park out like any other (delivery executor, its own account): the
    # sender is told DELIVERY_FAILED and the copy waits in the parked queue for an operator
    before = {f.name for f in _files(rig.district.status_in)}
    returns = MailboxReturns(rig.mailbox, rig.hub.hub.topology, rig.hub.amqp_url)
    assert returns.run_once() == 1
    assert returns.run_once() == 0  # handed back once

    def told() -> list[bytes]:
        return [f.read_bytes() for f in _files(rig.district.status_in) if f.name not in before]

    wait_for(lambda: any(b"DELIVERY_FAILED" in b or b"could not deliver" in b for b in told()), timeout=30)
    parked_queue = rig.hub.hub.topology.names.parked_queue("tinh-nghean")
    wait_for(lambda: rig.hub.queue_depth(parked_queue) == 1, timeout=10)


# -- start-up: `lienthong api` stops with one line naming the cause, or serves -------------------


@pytest.fixture(scope="module")
def place(rig: AxisRig) -> Iterator[tuple[str, Path]]:
    """The rig's prefix and folder (its directory and secrets files, its gateway account), plus a
    gateway account that may not write to intake."""
    prefix, tmp = rig.hub.prefix, rig.settings.directory.parent
    mute = f"{prefix}-gw-mute"
    ensure_user(Grant(mute, "^$", "^$", "^amq\\.rabbitmq\\.reply-to.*$"), PASSWORD)
    try:
        yield prefix, tmp
    finally:
        revoke_user(mute)


def _settings(amqp_url: str, prefix: str, tmp: Path, user: str, password: str = PASSWORD, **kw: object) -> Settings:
    rest = amqp_url.split("@", 1)[1]
    values: dict[str, object] = {
        "amqp_url": amqp_url, "prefix": prefix, "directory": tmp / "dir.yaml", "ledger_url": f"sqlite:///{tmp}/api-start.db",
        "api_amqp_url": f"amqp://{user}:{password}@{rest}", "api_secrets": tmp / "secrets.yaml",
        "gateway_users": (user,),
    }
    values.update(kw)
    return Settings(**values)  # type: ignore[arg-type]


def _cause(settings: Settings) -> str:
    with pytest.raises(Exception) as info:
        build(settings).close()
    failure = explain(info.value)
    assert isinstance(failure, OperatorError), repr(info.value)
    return str(failure)


def test_a_well_configured_gateway_starts(amqp_url: str, place: tuple[str, Path]) -> None:
    prefix, tmp = place
    built = build(_settings(amqp_url, prefix, tmp, f"{prefix}-gw-api"))
    try:
        assert len(built.parts.accounts) == 2
    finally:
        built.close()


def test_each_wrong_setting_names_its_cause(amqp_url: str, place: tuple[str, Path]) -> None:
    prefix, tmp = place
    ok = f"{prefix}-gw-api"
    assert "not in LIENTHONG_GATEWAY_USERS" in _cause(_settings(amqp_url, prefix, tmp, ok, gateway_users=()))
    assert "refused user" in _cause(_settings(amqp_url, prefix, tmp, ok, password="wrong-password"))
    assert f"may not publish to {prefix}.intake" in _cause(_settings(amqp_url, prefix, tmp, f"{prefix}-gw-mute"))
    assert "LIENTHONG_API_SECRETS" in _cause(_settings(amqp_url, prefix, tmp, ok, api_secrets=None))
    (tmp / "open.yaml").write_text((tmp / "secrets.yaml").read_text())
    (tmp / "open.yaml").chmod(0o644)
    assert "chmod 600" in _cause(_settings(amqp_url, prefix, tmp, ok, api_secrets=tmp / "open.yaml"))
    assert "does not exist" in _cause(_settings(amqp_url, "lt-nothing-here", tmp, ok))


def test_the_command_prints_one_line_and_no_traceback(amqp_url: str, place: tuple[str, Path]) -> None:
    prefix, tmp = place
    env = {"LIENTHONG_API_SECRETS": str(tmp / "secrets.yaml"), "LIENTHONG_PREFIX": prefix,
           "LIENTHONG_DIRECTORY": str(tmp / "dir.yaml"), "LIENTHONG_LEDGER_URL": f"sqlite:///{tmp}/api-start.db",
           "LIENTHONG_API_AMQP_URL": amqp_url.replace("guest:guest", f"{prefix}-gw-mute:{PASSWORD}"),
           "LIENTHONG_GATEWAY_USERS": f"{prefix}-gw-mute", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(Path(sys.executable).with_name("lienthong")), "api", "--port", "0"], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "may not publish" in done.stderr.strip().splitlines()[-1]


def test_the_command_serves_the_sdks_requests_and_stops_on_sigterm(amqp_url: str, place: tuple[str, Path]) -> None:
    prefix, tmp = place
    with socket.socket() as s, socket.socket() as m:
        s.bind(("127.0.0.1", 0))
        m.bind(("127.0.0.1", 0))
        port, metrics_port = s.getsockname()[1], m.getsockname()[1]
    env = {"LIENTHONG_API_SECRETS": str(tmp / "secrets.yaml"), "LIENTHONG_PREFIX": prefix,
           "LIENTHONG_DIRECTORY": str(tmp / "dir.yaml"), "LIENTHONG_LEDGER_URL": f"sqlite:///{tmp}/api-start.db",
           "LIENTHONG_API_AMQP_URL": amqp_url.replace("guest:guest", f"{prefix}-gw-api:{PASSWORD}"),
           "LIENTHONG_GATEWAY_USERS": f"{prefix}-gw-api", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("lienthong")), "--log-format", "json", "api",
                             "--port", str(port), "--metrics-port", str(metrics_port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not answers(port):
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "lienthong api did not listen"
            time.sleep(0.2)
        status, body, _ = replay(port, load("007-getAgenciesList.http"))
        assert status == 200 and json.loads(body)["ErrorCode"] == "0"
        status, body, _ = replay(port, load("002-getReceivedEdocList.http"))
        assert json.loads(body) == {"status": "OK", "ErrorCode": "0", "ErrorDesc": "Thành công / Success", "data": []}
        base = f"http://127.0.0.1:{metrics_port}"
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as r:
            assert json.loads(r.read()) == {"ready": True, "checks": {"broker": True, "ledger": True}}
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
            assert b"lienthong_axis_api_requests_total" in r.read()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        assert b"test-secret-123" not in err and b"Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_a_large_package_sent_with_sendedoc_travels_as_a_reference(rig: AxisRig) -> None:
    """Above the claim-check threshold the API puts the package in the payload store and submits
    the reference (README "Large packages"): on a RabbitMQ 4.x broker the bytes themselves would
    be refused above 16 MiB. The district's drop folder receives the original bytes."""
    from tests.support.edxml_factory import edoc_bytes, pdf_bytes

    package = edoc_bytes({"cid:van-ban-1": pdf_bytes(9 * 1024 * 1024, seed=77)}, sender="000.00.00.H41",
                         recipients=("000.00.25.H41",), number="7707")
    assert len(package) > rig.settings.claim_threshold_bytes
    digest = hashlib.sha256(package).hexdigest()
    sent = rig.client().send(package, "000.00.00.H41")
    assert sent["ErrorCode"] == "0", sent
    assert (rig.settings.payload_dir / digest[:2] / digest).stat().st_size == len(package)  # stored once
    inbox = rig.district.inbox
    wait_for(lambda: any(digest[:32] in f.name and f.suffix == ".edxml" for f in inbox.iterdir()), timeout=60)
    (delivered,) = [f for f in inbox.iterdir() if digest[:32] in f.name and f.suffix == ".edxml"]
    assert hashlib.sha256(delivered.read_bytes()).hexdigest() == digest
