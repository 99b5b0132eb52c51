"""Each part failing on the real broker and a real SQLite ledger (issue 7): SQLite locked, the
verifier raising, a sink failing then recovering (and failing for good), a message at its
delivery limit at intake and at delivery, a change whose original never arrives, and the
reconnect backoff resetting after a healthy connection. Every parked package has a ledger
record with its reason code and submitting system, its sender was told, and `parked list` /
`replay` reach it."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pika
import pytest

from adapters.folder import FolderSink
from adapters.sink import TransientFailure
from router.amqp.parked import INTAKE, list_parked, replay_parked
from router.ledger import engine as ledger_engine
from router.ledger.events import Outcome, PackageReceived, Routed, TransportState
from router.pipeline.signatures import NoSignatureCheck
from schemas.codes import BussinessDocType, PackageKind
from tests.support.fault_run import settle, statuses_about
from tests.support.faults import FlakySignatures, ScriptedSink
from tests.support.flood import Flood
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import document_id, make_edoc
from tests.support.services import unique_prefix

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PROVINCE, SYSTEM = "000.00.00.H41", "tinh-nghean"
DEPT = "000.00.13.H41"
COMMUNE_TC = "000.31.25.H41"
RECIPIENTS = {DEPT: "tinh-nghean", COMMUNE_TC: "huyen-thanhchuong"}
TIERS = (1, 2, 4)
LIMIT = 3
ROUNDS = int(os.environ.get("LIENTHONG_RECONNECT_ROUNDS", "3"))


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def wait_for(cond: Callable[[], object], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not reached within {timeout}s")


@pytest.fixture(scope="module")
def sinks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScriptedSink]:
    root = tmp_path_factory.mktemp("sinks")
    return {sid: ScriptedSink(FolderSink(root / sid)) for sid in ("tinh-nghean", "huyen-thanhchuong", "truc-quoc-gia")}


@pytest.fixture(scope="module")
def flaky() -> FlakySignatures:
    return FlakySignatures(NoSignatureCheck())


@pytest.fixture(scope="module")
def hub(amqp_url: str, sinks: dict[str, ScriptedSink], flaky: FlakySignatures,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """One hub for the module (setting one up on the shared broker takes ~20 s). The SQLite
    busy timeout is shortened so a lock outlasts it within seconds, not 30 s."""
    tmp = tmp_path_factory.mktemp("parts")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ledger_engine, "SQLITE_BUSY_TIMEOUT_MS", 300)
        with running_hub(amqp_url, unique_prefix("part"), tmp, retry_delays_s=TIERS, delivery_limit=LIMIT,
                         sinks=sinks, signatures=flaky, original_wait_s=3.0) as h:
            yield h


def told(hub: RunningHub, code: str, document: str | None = None) -> bool:
    """Did the submitting system receive a hub status carrying `code` (about `document`)?"""
    got = statuses_about(hub, SYSTEM)
    return any(f"[{code}]" in d for doc, ds in got.items() if document in (None, doc) for d in ds)


def raw_channel(hub: RunningHub) -> tuple[pika.BlockingConnection, object]:
    conn = pika.BlockingConnection(pika.URLParameters(hub.amqp_url))
    return conn, conn.channel()


def spend_delivery_limit(hub: RunningHub, queue: str) -> None:
    """A consumer that dies on the message every time (what a hub crash loop looks like to the
    broker): take it and give it back until the broker dead-letters it at the delivery limit."""
    conn, ch = raw_channel(hub)
    try:
        returns = 0
        wait_for(lambda: hub.queue_depth(queue) > 0, 30, f"a message in {queue}")
        while True:
            method, _, _ = ch.basic_get(queue)  # type: ignore[attr-defined]
            if method is None:
                break
            ch.basic_reject(method.delivery_tag, requeue=True)  # type: ignore[attr-defined]
            returns += 1
            assert returns <= 10, "delivery limit not enforced"
    finally:
        conn.close()


# -- the ledger locked -----------------------------------------------------------------------------

def test_sqlite_locked_by_another_connection(hub: RunningHub, sinks: dict[str, ScriptedSink]) -> None:
    db = hub.hub.settings.ledger_url.removeprefix("sqlite:///")
    locker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(4.0, lambda: locker.execute("COMMIT"))
    release.start()
    bodies = [make_edoc(PROVINCE, list(RECIPIENTS), 100 + i, notation="LOCK") for i in range(20)]
    started = time.monotonic()
    assert Flood(hub.user_url(SYSTEM), hub.hub.topology.names.intake_exchange, bodies).run().done
    release.join()
    locker.close()
    fig = settle(hub, "sqlite-locked", bodies, RECIPIENTS, SYSTEM, sinks, timeout=90, started=started)
    assert (fig.silent, fig.duplicated, fig.delivered) == (0, 0, len(bodies)), fig


# -- the verifier raising --------------------------------------------------------------------------

def test_verifier_raising_is_waited_out_then_parked_with_a_record(hub: RunningHub, flaky: FlakySignatures) -> None:
    passing = make_edoc(PROVINCE, [DEPT], 201, notation="SIG")
    broken = make_edoc(PROVINCE, [DEPT], 202, notation="SIG")
    flaky.raises[digest(passing)] = 2  # verification comes back after two failures
    flaky.raises[digest(broken)] = -1  # and for this one, never
    hub.submit(SYSTEM, passing, want_reply=False)
    hub.submit(SYSTEM, broken, want_reply=False)
    ledger = hub.hub.ledger
    wait_for(lambda: (st := ledger.delivery_state(digest(passing), DEPT)) is not None
             and st.state is TransportState.DELIVERED, what="the package the verifier recovered for")
    assert flaky.calls[digest(passing)] == 3
    wait_for(lambda: (p := ledger.get_package(digest(broken))) is not None and p.outcome is Outcome.PARKED,
             what="the package the verifier kept failing on parked")
    row = ledger.get_package(digest(broken))
    assert row is not None and row.reason_code == "HUB_FAILURE" and row.submitted_by == SYSTEM
    assert row.document_id == document_id(PROVINCE, 202, "SIG") and row.from_organ == PROVINCE
    assert flaky.calls[digest(broken)] == 1 + len(TIERS)  # waited out through every intake tier
    wait_for(lambda: told(hub, "HUB_FAILURE", row.document_id), what="the sender told")
    texts = statuses_about(hub, SYSTEM)[row.document_id or ""]
    assert not any("Errno" in t or "/etc/" in t for t in texts), texts  # no paths, errno, exceptions
    assert ledger.trace(row.document_id or "").found
    # parked list and replay reach intake's parked packages
    items = [i for i in list_parked(hub.hub.topology, hub.amqp_url, INTAKE) if i.digest == digest(broken)]
    assert [(i.code, i.submitted_by) for i in items] == [("HUB_FAILURE", hub.hub.directory.systems[SYSTEM].broker_user)]
    del flaky.raises[digest(broken)]  # the verifier is fixed
    assert replay_parked(hub.hub.topology, hub.amqp_url, INTAKE) >= 1
    wait_for(lambda: (st := ledger.delivery_state(digest(broken), DEPT)) is not None
             and st.state is TransportState.DELIVERED, what="the replayed package delivered")
    replayed = ledger.get_package(digest(broken))
    assert replayed is not None and replayed.outcome is Outcome.ACCEPTED and replayed.submitted_by == SYSTEM
    assert ledger.verify_chain().ok


# -- a sink failing ----------------------------------------------------------------------------------

def _transient(_h: object) -> TransientFailure:
    return TransientFailure("cannot write /srv/dms/inbox/x.edxml: [Errno 28] No space left on device")


def test_sink_failing_then_recovering_and_failing_for_good(hub: RunningHub, sinks: dict[str, ScriptedSink]) -> None:
    recovers = make_edoc(PROVINCE, [DEPT], 301, notation="SINK")
    never = make_edoc(PROVINCE, [DEPT], 302, notation="SINK")
    sink = sinks["tinh-nghean"]
    sink.script(digest(recovers), _transient, _transient)
    sink.always[digest(never)] = _transient
    hub.submit(SYSTEM, recovers, want_reply=False)
    hub.submit(SYSTEM, never, want_reply=False)
    ledger = hub.hub.ledger
    wait_for(lambda: (st := ledger.delivery_state(digest(recovers), DEPT)) is not None
             and st.state is TransportState.DELIVERED)
    assert [a for d, a in sink.calls if d == digest(recovers)] == [1, 2, 3]
    assert sink.written[(SYSTEM, digest(recovers))] == 1
    assert not told(hub, "DELIVERY_FAILED", document_id(PROVINCE, 301, "SINK"))
    wait_for(lambda: (st := ledger.delivery_state(digest(never), DEPT)) is not None
             and st.state is TransportState.PARKED, what="parked after the tiers")
    assert [a for d, a in sink.calls if d == digest(never)] == [1, 2, 3, 4]
    wait_for(lambda: told(hub, "DELIVERY_FAILED", document_id(PROVINCE, 302, "SINK")), what="the sender told")
    texts = statuses_about(hub, SYSTEM)[document_id(PROVINCE, 302, "SINK")]
    assert not any("Errno" in t or "/srv/" in t for t in texts), texts
    del sink.always[digest(never)]


# -- a message at its delivery limit -------------------------------------------------------------------

def test_intake_message_at_its_delivery_limit_is_recorded_told_and_replayable(hub: RunningHub) -> None:
    names = hub.hub.topology.names
    body = make_edoc(PROVINCE, [DEPT], 401, notation="LIMIT")
    hub.stop()
    try:
        hub.submit(SYSTEM, body, want_reply=False)
        spend_delivery_limit(hub, names.intake_queue)
        wait_for(lambda: hub.queue_depth(names.intake_dead) == 1, 20, "dead-lettered by the broker")
    finally:
        hub.start()
    ledger = hub.hub.ledger
    wait_for(lambda: (p := ledger.get_package(digest(body))) is not None and p.outcome is Outcome.PARKED,
             what="recorded by the hub")
    row = ledger.get_package(digest(body))
    assert row is not None and row.reason_code == "CRASH_LOOP" and row.submitted_by == SYSTEM  # user_id kept
    wait_for(lambda: told(hub, "CRASH_LOOP"), what="the sender told")
    assert hub.queue_depth(names.intake_dead) == 0
    items = [i for i in list_parked(hub.hub.topology, hub.amqp_url, INTAKE) if i.digest == digest(body)]
    assert [i.code for i in items] == ["CRASH_LOOP"]
    assert replay_parked(hub.hub.topology, hub.amqp_url, INTAKE) >= 1
    wait_for(lambda: (st := ledger.delivery_state(digest(body), DEPT)) is not None
             and st.state is TransportState.DELIVERED, what="the replayed package delivered")


def test_delivery_copy_at_its_delivery_limit_is_recorded_and_told(hub: RunningHub) -> None:
    names = hub.hub.topology.names
    body = make_edoc(PROVINCE, [DEPT], 402, notation="LIMIT")
    hub.stop()
    try:
        hub.start(intake=True, deliver=False)
        hub.submit(SYSTEM, body, want_reply=False)
        spend_delivery_limit(hub, names.system_queue(SYSTEM, "normal"))
        wait_for(lambda: hub.queue_depth(names.deliver_dead) == 1, 20, "dead-lettered by the broker")
    finally:
        hub.stop()
        hub.start()
    ledger = hub.hub.ledger
    wait_for(lambda: (st := ledger.delivery_state(digest(body), DEPT)) is not None
             and st.state is TransportState.PARKED, what="recorded by the hub")
    assert "delivery_limit" in (ledger.delivery_state(digest(body), DEPT).last_error or "")  # type: ignore[union-attr]
    wait_for(lambda: told(hub, "CRASH_LOOP", document_id(PROVINCE, 402, "LIMIT")), what="the sender told")
    items = [i for i in list_parked(hub.hub.topology, hub.amqp_url, SYSTEM) if i.digest == digest(body)]
    assert [i.code for i in items] == ["CRASH_LOOP"]


# -- a change whose original never arrives -------------------------------------------------------------

def test_a_change_waiting_for_its_original_gives_up_after_a_bounded_time(hub: RunningHub) -> None:
    """The original stays `routed` (its copy never comes): the revoke used to retry at tier 1
    for ever with its attempt stuck at 1; now it is parked after `original_wait_s` (3 s here)."""
    original_id = document_id(PROVINCE, 501, "WAIT")
    ghost = "f" * 64
    ledger = hub.hub.ledger
    ledger.append([
        PackageReceived(ghost, PackageKind.EDOC, PROVINCE, SYSTEM, original_id, (DEPT,),
                        bussiness_doc_type=BussinessDocType.NEW),
        Routed(ghost, DEPT, SYSTEM),
    ])
    revoke = make_edoc(PROVINCE, [DEPT], 502, notation="WAIT", doc_type=BussinessDocType.REVOKE, target=original_id)
    started = time.monotonic()
    hub.submit(SYSTEM, revoke, want_reply=False)
    wait_for(lambda: (st := ledger.delivery_state(digest(revoke), DEPT)) is not None
             and st.state is TransportState.PARKED, 30, "the waiting change parked")
    assert time.monotonic() - started >= 3.0
    steps = [t.state for t in ledger.history(digest(revoke), DEPT)]
    assert steps.count(TransportState.RETRYING) == 1, steps  # one record per wait, not one per lap
    assert ledger.delivery_state(digest(revoke), DEPT).attempts == 1  # type: ignore[union-attr]
    wait_for(lambda: told(hub, "ORIGINAL_NOT_DELIVERED", document_id(PROVINCE, 502, "WAIT")), what="sender told")
    assert digest(revoke) not in {d for d, _ in hub.hub.sinks[SYSTEM].calls}  # type: ignore[attr-defined]


# -- reconnecting ---------------------------------------------------------------------------------------

def _connection_pids(name: str) -> list[str]:
    out = subprocess.run(["rabbitmqctl", "-q", "list_connections", "pid", "client_properties",
                          "--no-table-headers"], capture_output=True, text=True, timeout=60, check=False).stdout
    return [line.split("\t")[0] for line in out.splitlines() if f'"{name}"' in line or f"<<\"{name}\">>" in line
            or re.search(rf"\b{re.escape(name)}\b", line)]


def reconnect_rounds(hub: RunningHub, rounds: int) -> list[float]:
    name = f"rc-{unique_prefix('c')}"
    consumer = hub.hub.delivery_consumer([SYSTEM], name=name, healthy_after_s=1.0)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        assert consumer.ready.wait(20)
        for n in range(rounds):
            time.sleep(1.3)  # healthy: consuming for longer than healthy_after_s
            pids = _connection_pids(f"lienthong:{name}")
            assert len(pids) == 1, pids
            subprocess.run(["rabbitmqctl", "-q", "close_connection", pids[0], "test: connection closed"],
                           capture_output=True, timeout=60, check=True)
            # from the loss of the connection to consuming again, as the consumer measured it
            wait_for(lambda: len(consumer.recoveries) > n, 90, "reconnected")  # noqa: B023
    finally:
        consumer.stop()
        thread.join(30)
    took = list(consumer.recoveries)
    print(f"\nRECONNECT seconds per round: {[round(t, 2) for t in took]}")
    return took


def test_reconnect_backoff_resets_after_a_healthy_connection(hub: RunningHub) -> None:
    took = reconnect_rounds(hub, ROUNDS)
    assert all(t < 2.0 for t in took), took


@pytest.mark.slow
def test_eight_close_connection_rounds_each_recover_quickly(hub: RunningHub) -> None:
    took = reconnect_rounds(hub, 8)
    assert len(took) == 8 and all(t < 2.0 for t in took), took
