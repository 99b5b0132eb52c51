"""Drop folders both ways on the real broker and real files: a package dropped in A's out/
reaches B's in/ folder and a webhook receiver; refusals land in failed/ with reasons in
Vietnamese and English (at once from the intake result, or later from the hub's status 02);
statuses travel status/out → status/in; a link dropped in out/ is never followed; two hub
instances on one folder submit each file once; a poller killed at each point of a claim
leaves every file delivered once. One hub for the module (slow to set up on a loaded machine)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.amqp import Submitter
from adapters.folder_drop import DropFolderSink
from adapters.folder_layout import DropFolders
from adapters.folder_poller import FolderPoller, PollerOptions
from adapters.folder_sent import SentJournal
from adapters.registry import SINKS, SinkPlace
from adapters.sink import Sink
from ops.provision import ensure_user, gateway_grant, revoke_user
from router.ledger.events import TransportState
from router.pipeline.submitter import AUTHENTICATED_BY, ON_BEHALF_OF
from schemas.codes import StatusCode
from tests.support import folder_crash
from tests.support.hub import PASSWORD, RunningHub, running_hub
from tests.support.packages import document_id, make_edoc, make_status
from tests.support.services import delete_broker_objects, unique_prefix
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import Receiver, receiver

pytestmark = pytest.mark.integration

A, B, GATEWAY = "huyen-thanhchuong", "tinh-nghean", "truc-quoc-gia"
DISTRICT, PROVINCE, GOVERNMENT_OFFICE = "000.00.25.H41", "000.00.00.H41", "000.00.00.G22"


@dataclass
class World:
    hub: RunningHub
    rx: Receiver
    folders: dict[str, DropFolders]
    pollers: dict[str, FolderPoller]
    running: dict[str, tuple[threading.Event, threading.Thread]]

    def start(self, system: str) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=self.pollers[system].run, args=(stop,), daemon=True)
        thread.start()
        self.running[system] = (stop, thread)

    def pause(self, system: str) -> None:
        stop, thread = self.running.pop(system)
        stop.set()
        thread.join(30)

    def drop(self, system: str, name: str, body: bytes, *, status: bool = False) -> Path:
        """As a DMS should: write under a dot-name, then rename into the folder."""
        folder = self.folders[system].status_out if status else self.folders[system].out
        tmp = folder / f".{name}.part"
        tmp.write_bytes(body)
        os.rename(tmp, folder / name)
        return folder / name

    def poller(self, system: str, *, wait_s: float = 10.0) -> FolderPoller:
        """A poller for `system` built the way the hub builds it (registry + the hub's outbox)."""
        folders = self.folders[system]
        if wait_s == 10.0:
            poller = SINKS.source("folder", _options(folders), SinkPlace(system, folders.root.parent),
                                  self.hub.hub.outbox_for(system))
            assert poller is not None
            return poller
        headers = {ON_BEHALF_OF: system, AUTHENTICATED_BY: "folder"}
        url, exchange = self.hub.hub.settings.folders_amqp_url or "", self.hub.hub.topology.names.intake_exchange
        return FolderPoller(folders, lambda: Submitter(url, exchange).outbox(headers=headers, wait_s=wait_s),
                            SentJournal(folders), PollerOptions(settle_s=0, poll_s=0.05))


def _options(folders: DropFolders) -> object:
    return SINKS.options("folder", {"root": folders.root.name, "settle_s": 0, "poll_s": 0.05})


@pytest.fixture(scope="module")
def world(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp_path = tmp_path_factory.mktemp("folders")
    prefix = unique_prefix("fo")
    folders = {sid: DropFolders(sid, tmp_path / "folders" / sid) for sid in (A, B)}
    with receiver() as rx, pytest.MonkeyPatch.context() as mp:
        mp.setenv("LT_TEST_GW_SECRET", rx.secret)
        sinks: dict[str, Sink] = {}
        for sid, f in folders.items():
            sinks[sid] = SINKS.build("folder", _options(f), SinkPlace(sid, f.root.parent))  # type: ignore[arg-type]
            assert isinstance(sinks[sid], DropFolderSink)
        gw = SINKS.options("webhook", {"url": rx.url, "secret_env": "LT_TEST_GW_SECRET", "timeout_s": 2})
        sinks[GATEWAY] = SINKS.build("webhook", gw, SinkPlace(GATEWAY, tmp_path))
        gateway = f"{prefix}-gw-folders"  # the folder watcher's own account: write P.intake, read reply-to
        ensure_user(gateway_grant(gateway, prefix), PASSWORD)
        gateway_url = f"amqp://{gateway}:{PASSWORD}@{amqp_url.split('@', 1)[1]}"
        try:
            with running_hub(amqp_url, prefix, tmp_path, sinks=sinks, folders_amqp_url=gateway_url,
                             gateway_users=(gateway,)) as hub:
                w = World(hub, rx, folders, {}, {})
                for sid in (A, B):
                    w.pollers[sid] = w.poller(sid)
                    w.pollers[sid].folders.prepare()  # before a test drops anything
                    w.start(sid)
                yield w
                for sid in list(w.running):
                    w.pause(sid)
        finally:
            revoke_user(gateway)
            delete_broker_objects(prefix)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def test_a_dropped_package_reaches_the_in_folder_and_the_webhook(world: World) -> None:
    body = make_edoc(DISTRICT, [PROVINCE, GOVERNMENT_OFFICE], 301)
    world.drop(A, "cong-van-301.xml", body)
    inbox = world.folders[B].inbox
    wait_for(lambda: any(p.read_bytes() == body for p in inbox.glob("*.edxml")), 90, "B's in/")
    wait_for(lambda: body in world.rx.inbox.values(), 90, "the webhook")
    wait_for(lambda: list(world.folders[A].claimed.iterdir()) == [], 60, "the claim finished")
    assert _files(world.folders[A].out) == []
    sent = _files(world.folders[A].sent)
    assert any(p.suffix == ".edxml" and p.read_bytes() == body for p in sent)  # kept for a late refusal
    row = world.hub.hub.ledger.get_package(hashlib.sha256(body).hexdigest())
    assert row is not None and row.submitted_by == A  # the gateway account named A; intake trusted it
    (delivered,) = [p for p in inbox.glob("*.edxml") if p.read_bytes() == body]
    assert delivered.name.startswith("edoc-") and delivered.with_suffix(".json").exists()  # id in the name


def test_a_refused_package_goes_to_failed_with_its_reason_in_both_languages(world: World) -> None:
    forged = make_edoc(PROVINCE, [DISTRICT], 302)  # the district's DMS does not serve the province
    world.drop(A, "gia-mao.edxml", forged)
    failed = world.folders[A].failed
    wait_for(lambda: any(p.name.endswith(".reason.txt") and "gia-mao" in p.name for p in failed.iterdir()),
             what="failed/")
    (kept,) = [p for p in failed.glob("gia-mao.*.edxml")]
    assert kept.read_bytes() == forged
    reason = kept.with_suffix(".reason.txt").read_text(encoding="utf-8")
    assert "SENDER_NOT_SERVED" in reason and "Tiếng Việt:" in reason and "English:" in reason
    assert str(world.folders[A].root) not in reason and "Traceback" not in reason  # no paths, no exceptions
    wait_for(lambda: any(b"SENDER_NOT_SERVED" in p.read_bytes() for p in world.folders[A].status_in.glob("*.edxml")),
             what="the status 02 in status/in/")


def test_a_refusal_arriving_later_as_a_status_moves_the_file_to_failed(world: World) -> None:
    """Without the intake result (the poller did not wait for it), the hub's status 02 about the
    DocumentId, delivered to A's status/in/, files the refusal."""
    world.pause(A)  # only the poller that does not wait for intake results reads A's out/ now
    late = world.poller(A, wait_s=0)
    try:
        body = make_edoc(PROVINCE, [DISTRICT], 303)
        world.drop(A, "muon.edxml", body)
        assert late.poll_once() == 1
        assert list(world.folders[A].failed.glob("muon.*")) == []  # not known yet: no answer awaited
        failed = world.folders[A].failed
        wait_for(lambda: list(failed.glob("muon.*.reason.txt")), what="the late refusal in failed/")
        assert "SENDER_NOT_SERVED" in next(failed.glob("muon.*.reason.txt")).read_text(encoding="utf-8")
        assert next(failed.glob("muon.*.edxml")).read_bytes() == body
    finally:
        late._drop_outbox()
        world.start(A)


def test_statuses_travel_both_ways_through_the_status_folders(world: World) -> None:
    body = make_edoc(DISTRICT, [PROVINCE], 304)
    world.drop(A, "cv-304.edxml", body)
    wait_for(lambda: any(p.read_bytes() == body for p in world.folders[B].inbox.glob("*.edxml")), what="B's in/")
    status = make_status(PROVINCE, DISTRICT, 304, StatusCode.ACCEPTED)
    assert document_id(DISTRICT, 304) in status.decode()
    world.drop(B, "tiep-nhan-304.edxml", status, status=True)
    wait_for(lambda: any(p.read_bytes() == status for p in world.folders[A].status_in.glob("*.edxml")),
             what="A's status/in/")
    trace = world.hub.hub.ledger.trace(document_id(DISTRICT, 304))
    assert [s.status_code for o in trace.organs for s in o.statuses] == ["03"]


def test_a_link_dropped_in_out_is_never_followed(world: World, tmp_path: Path) -> None:
    secret = tmp_path / "outside.edxml"
    secret.write_bytes(make_edoc(DISTRICT, [PROVINCE], 305))
    (world.folders[A].out / "link.edxml").symlink_to(secret)
    failed = world.folders[A].failed
    wait_for(lambda: list(failed.glob("link.edxml.*.reason.txt")), what="the link in failed/")
    (moved,) = [p for p in failed.glob("link.edxml.*") if not p.name.endswith(".txt")]
    assert moved.is_symlink() and secret.exists()  # the link itself was moved, its target untouched
    assert "NOT_A_FILE" in next(failed.glob("link.edxml.*.reason.txt")).read_text(encoding="utf-8")


def test_two_hub_instances_on_one_folder_submit_each_file_once(world: World) -> None:
    second = world.poller(A)  # a second hub instance polling A's folder beside the module's
    stop = threading.Event()
    thread = threading.Thread(target=second.run, args=(stop,), daemon=True)
    thread.start()
    before = world.pollers[A].submitted
    bodies = [make_edoc(DISTRICT, [PROVINCE], 400 + i) for i in range(40)]
    for i, body in enumerate(bodies):
        world.drop(A, f"batch-{i:02d}.edxml", body)
    inbox = world.folders[B].inbox
    wanted = set(bodies)
    wait_for(lambda: wanted <= {p.read_bytes() for p in inbox.glob("*.edxml")}, timeout=60, what="all 40 in B")
    stop.set()
    thread.join(10)
    assert (world.pollers[A].submitted - before) + second.submitted == 40
    assert second.submitted > 0 and world.pollers[A].submitted > before  # both took some
    led = world.hub.hub.ledger
    for body in bodies:
        row = led.get_package(hashlib.sha256(body).hexdigest())
        assert row is not None
    second._drop_outbox()


@pytest.mark.parametrize("point", folder_crash.POINTS)
def test_a_poller_killed_mid_claim_resumes_without_a_second_copy(world: World, point: str) -> None:
    """Killed with SIGKILL after the claim, after the broker's confirm, after the sent/ record:
    the next poller's sweep finishes the file and the recipient has it once."""

    root = world.folders[A].root.parent / f"crash-{point}"
    folders = DropFolders(A, root)
    folders.prepare()
    body = make_edoc(DISTRICT, [PROVINCE], 500 + folder_crash.POINTS.index(point))
    (folders.out / "cv.edxml").write_bytes(body)
    proc = folder_crash.start(root, world.hub.hub.settings.folders_amqp_url or "",
                              world.hub.hub.topology.names.intake_exchange, A, point)
    assert proc.wait(60) == -9, proc.stderr.read() if proc.stderr else ""
    assert _files(folders.out) == [] and len(list(folders.claimed.iterdir())) == 1  # died holding the claim
    digest = hashlib.sha256(body).hexdigest()
    submitted_before = world.hub.hub.ledger.get_package(digest) is not None
    assert submitted_before == (point != "claimed")
    survivor = FolderPoller(folders, world.hub.hub.outbox_for(A), SentJournal(folders), PollerOptions(settle_s=0))
    assert survivor.sweep() == 1
    assert survivor.submitted == (0 if point == "recorded" else 1)  # a recorded claim is only moved on
    assert list(folders.claimed.iterdir()) == [] and (folders.sent / f"{digest}.edxml").read_bytes() == body
    wait_for(lambda: (row := world.hub.hub.ledger.delivery_state(digest, PROVINCE)) is not None
             and row.state is TransportState.DELIVERED, what="delivered")
    copies = [p for p in world.folders[B].inbox.glob("*.edxml") if p.read_bytes() == body]
    assert len(copies) == 1
    survivor._drop_outbox()
