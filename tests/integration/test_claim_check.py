"""The claim check end to end on the real broker, a real ledger and real files (README "Large
packages"): a 12 MiB package submitted over AMQP is stored once and reaches two recipient
systems byte for byte while only a reference travels through the broker; a 12 MiB file dropped
in a drop folder is streamed into the store by the poller and submitted as a reference; a
system's own `lt-claim` is not trusted; a payload removed from the store before delivery is
parked as PAYLOAD_MISSING with a ledger record and the sender told; a damaged one is never
handed over (PAYLOAD_CORRUPT); the sweep keeps a payload while a copy is on its way and
removes it once every recipient has it. One hub per store: the folder store, and an
S3-compatible bucket on loopback HTTP (tests/support/s3.py)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from adapters.folder_layout import DropFolders
from adapters.folder_poller import FolderPoller
from adapters.payloadstore import ClaimReference, FolderPayloadStore, PayloadStore
from adapters.payloadstore_s3 import S3Location, S3PayloadStore
from adapters.registry import SINKS, SinkPlace
from ops.provision import ensure_user, gateway_grant, revoke_user
from router.ledger.events import TransportState
from router.pipeline.envelope import CLAIM
from tests.support.bigpackage import MiB, file_digest, write_big_package
from tests.support.edxml_factory import edoc_bytes, pdf_bytes
from tests.support.hub import PASSWORD, RunningHub, running_hub
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, Bucket
from tests.support.services import ROOT, delete_broker_objects, unique_prefix
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

A, B, G = "huyen-thanhchuong", "tinh-nghean", "truc-quoc-gia"
DISTRICT, PROVINCE, GOVERNMENT_OFFICE = "000.00.25.H41", "000.00.00.H41", "000.00.00.G22"
THRESHOLD = 8 * MiB


@dataclass
class World:
    hub: RunningHub
    store: PayloadStore
    folders: DropFolders
    poller: FolderPoller
    tmp: Path
    #: the store's settings as an operator's environment gives them (`lienthong payloads sweep`)
    store_flags: tuple[str, ...]
    store_env: dict[str, str]

    def stored(self) -> list[str]:
        """The digests the store holds, one name per payload."""
        if isinstance(self.store, FolderPayloadStore):
            return sorted(p.name for p in self.store.root.rglob("*") if p.is_file() and not p.name.startswith("."))
        assert isinstance(self.store, S3PayloadStore)
        pages = self.store.client.get_paginator("list_objects_v2").paginate(Bucket=self.store.bucket,
                                                                           Prefix=self.store.prefix)
        return sorted(o["Key"].rsplit("/", 1)[-1] for page in pages for o in page.get("Contents", []))

    def remove(self, digest: str) -> None:
        """The payload gone behind the hub's back (an operator's mistake, a lost mount …)."""
        if isinstance(self.store, FolderPayloadStore):
            self.store.path(digest).unlink()
        else:
            assert isinstance(self.store, S3PayloadStore)
            self.store.client.delete_object(Bucket=self.store.bucket, Key=self.store.key(digest))

    def flip_middle_byte(self, digest: str) -> None:
        data = bytearray(self.store.read_verified(digest))
        data[len(data) // 2] ^= 0xFF
        if isinstance(self.store, FolderPayloadStore):
            self.store.path(digest).write_bytes(bytes(data))
        else:
            assert isinstance(self.store, S3PayloadStore)
            self.store.client.put_object(Bucket=self.store.bucket, Key=self.store.key(digest), Body=bytes(data))

    def package(self, number: int, size: int = 9 * MiB) -> bytes:
        """An edoc from the district to the province and the government office, ~4/3 × `size`."""
        return edoc_bytes({"cid:van-ban-1": pdf_bytes(size, seed=number)}, sender=DISTRICT,
                          recipients=(PROVINCE, GOVERNMENT_OFFICE), number=str(number))

    def delivered(self, system: str, digest: str) -> list[Path]:
        return [p for p in self.hub.inbox(system) if digest[:32] in p.name]

    def states(self, digest: str) -> set[TransportState]:
        return {d.state for d in self.hub.hub.ledger.deliveries(digest)}

    @contextmanager
    def routed_not_delivered(self, *numbers: int) -> Iterator[tuple[str, ...]]:
        """Packages accepted and routed while the delivery workers are stopped; they start again
        when the block ends (whatever the block did to the store meanwhile)."""
        self.hub.stop()
        self.hub.start(deliver=False)
        try:
            digests = []
            for n in numbers:
                body = self.package(n)
                done = self.hub.submit(A, body)
                assert done.result is not None and done.result["outcome"] == "accepted", done.result
                digests.append(hashlib.sha256(body).hexdigest())
            yield tuple(digests)
        finally:
            self.hub.start(intake=False, deliver=True)


@pytest.fixture(scope="module", params=["folder", "s3"])
def world(request: pytest.FixtureRequest, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("claim")
    prefix = unique_prefix("cc")
    gateway = f"{prefix}-gw-folders"
    ensure_user(gateway_grant(gateway, prefix), PASSWORD)
    gateway_url = f"amqp://{gateway}:{PASSWORD}@{amqp_url.split('@', 1)[1]}"
    store_settings: dict[str, object] = {"payload_dir": tmp / "payloads"}
    flags: tuple[str, ...] = ("--payload-dir", str(tmp / "payloads"))
    env: dict[str, str] = {}
    if request.param == "s3":
        bucket = Bucket(S3Location(request.getfixturevalue("s3_endpoint"), f"lt-{prefix}", prefix="hub/",
                                   access_key=ACCESS_KEY, secret_key=SECRET_KEY))
        bucket.store().client.create_bucket(Bucket=bucket.location.bucket)
        store_settings = bucket.settings()
        flags = ()
        env = {f"LIENTHONG_{k.upper()}": str(v) for k, v in store_settings.items()}
    try:
        with running_hub(amqp_url, prefix, tmp, claim_threshold_bytes=THRESHOLD,
                         folders_amqp_url=gateway_url, gateway_users=(gateway,), **store_settings) as hub:
            store = hub.hub.payload_store()
            folders = DropFolders(A, tmp / "folders" / A)
            options = SINKS.options("folder", {"root": folders.root.name, "settle_s": 0, "poll_s": 0.05})
            poller = SINKS.source("folder", options, SinkPlace(A, folders.root.parent, payloads=store,
                                                                claim_threshold_bytes=THRESHOLD),
                                  hub.hub.outbox_for(A))
            assert poller is not None
            poller.folders.prepare()
            yield World(hub, store, folders, poller, tmp, flags, env)
    finally:
        revoke_user(gateway)
        delete_broker_objects(prefix)


def test_a_large_package_reaches_two_systems_byte_for_byte_as_a_reference(world: World) -> None:
    body = world.package(801)
    assert len(body) > 12 * MiB
    digest = hashlib.sha256(body).hexdigest()
    done = world.hub.submit(A, body)
    assert done.confirmed and done.result is not None and done.result["outcome"] == "accepted", done.result
    for system in (B, G):
        wait_for(partial(world.delivered, system, digest), 90, f"{system}'s inbox")
        (path,) = [p for p in world.delivered(system, digest) if p.suffix == ".edxml"]
        assert file_digest(path) == digest and path.stat().st_size == len(body)  # the original bytes
        sidecar = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        assert sidecar["headers"][CLAIM] == "1"  # what travelled through the broker was the reference
    assert world.store.has(digest, len(body))  # stored once, under its digest
    assert world.stored().count(digest) == 1
    # the sink writes the file before the ledger records the delivery: wait for the record
    wait_for(lambda: world.states(digest) == {TransportState.DELIVERED}, 30, "both deliveries recorded")


def test_a_large_dropped_file_is_streamed_into_the_store_and_submitted_as_a_reference(world: World) -> None:
    src = world.tmp / "big-802.edxml"
    digest, size = write_big_package(src, 9 * MiB, sender=DISTRICT, recipients=(PROVINCE,), number=802)
    os.rename(src, world.folders.out / "cong-van-802.edxml")
    world.poller.poll_once()
    assert world.store.has(digest, size)
    wait_for(lambda: world.delivered(B, digest), 90, "B's inbox")
    (path,) = [p for p in world.delivered(B, digest) if p.suffix == ".edxml"]
    assert file_digest(path) == digest
    row = world.hub.hub.ledger.get_package(digest)
    assert row is not None and row.submitted_by == A  # the gateway named A; intake followed its reference


def test_a_systems_own_claim_header_is_not_trusted(world: World) -> None:
    """A system publishing itself cannot point intake at stored bytes: its body is the package."""
    body = world.package(803)
    stored = world.store.put(body)  # as if it could guess or knew another package's digest
    ref = ClaimReference.of(stored).encode()
    done = world.hub.submit(A, ref, headers={CLAIM: "1"})
    assert done.result is not None and done.result["outcome"] == "rejected", done.result
    assert done.result["code"] in {"XML_MALFORMED", "NOT_EDXML"}
    assert world.hub.hub.ledger.get_package(stored.digest) is None


def test_a_missing_payload_is_parked_with_a_reason_and_the_sender_told(world: World) -> None:
    hub = world.hub
    with world.routed_not_delivered(804, 805) as (digest, keep_digest):
        # the sweep keeps what is still on its way, however short the retention
        removed = _sweep_cli(world, retention_s=0)
        assert digest not in removed and keep_digest not in removed
        world.remove(digest)
    wait_for(lambda: world.states(digest) == {TransportState.PARKED}, 90, "parked")
    for d in hub.hub.ledger.deliveries(digest):
        details = [t.detail or "" for t in hub.hub.ledger.history(digest, d.recipient_organ)]
        assert any("payload_missing" in t for t in details), details
    wait_for(lambda: _notice_in(world, A, "PAYLOAD_MISSING"), 90, "the hold notice in the sender's inbox")
    assert world.delivered(B, digest) == [] and world.delivered(G, digest) == []
    # the other package, still in the store, is delivered; once every recipient has it, it goes
    wait_for(lambda: world.states(keep_digest) == {TransportState.DELIVERED}, 90, "delivered")
    assert _sweep_cli(world, retention_s=3600) == []  # within the retention after delivery: kept
    assert keep_digest in _sweep_cli(world, retention_s=0)
    assert not world.store.has(keep_digest)


def test_a_damaged_payload_is_never_handed_over(world: World) -> None:
    with world.routed_not_delivered(806) as (digest,):
        world.flip_middle_byte(digest)
    wait_for(lambda: world.states(digest) == {TransportState.PARKED}, 90, "parked")
    assert world.delivered(B, digest) == [] and world.delivered(G, digest) == []
    for system in (B, G):  # not even a temporary file was left in the inbox
        assert not [p for p in (world.hub.sink_root / system).iterdir() if digest[:32] in p.name]
    wait_for(lambda: _notice_in(world, A, "PAYLOAD_CORRUPT"), 90, "the hold notice in the sender's inbox")


def _notice_in(world: World, system: str, code: str) -> bool:
    return any(p.name.startswith("status-") and code.encode() in p.read_bytes()
               for p in world.hub.inbox(system))


def _sweep_cli(world: World, *, retention_s: float) -> list[str]:
    """`lienthong payloads sweep` as an operator runs it, against the hub's ledger and store."""
    settings = world.hub.hub.settings
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lienthong")), "payloads", "sweep", "--ledger", settings.ledger_url,
         *world.store_flags, "--retention-s", str(retention_s)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **world.store_env},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("removed ")
    return lines[:-1]
