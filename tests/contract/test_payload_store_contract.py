"""The payload store's promise (adapters/payloadstore.py `PayloadStore`), kept by the folder store
on a real folder and by the S3 store on an S3-compatible server over loopback HTTP: content
addressed, stored once, read back byte for byte and verified, a missing or damaged payload a
named failure, retention that removes only what no recipient needs, and bounded memory."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.payloadstore import FolderPayloadStore, PayloadCorrupt, PayloadMissing, PayloadStore
from adapters.payloadstore_s3 import PayloadStoreUnavailable, S3Location, S3PayloadStore
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, Bucket
from tests.support.services import ROOT

pytestmark = pytest.mark.contract

DAY = 86400.0


@dataclass
class Kit:
    store: PayloadStore
    #: replace the stored bytes of a payload behind the store's back (a disk error, a hand edit)
    damage: Callable[[str, bytes], None]
    #: the code a fresh interpreter runs to get this store
    make_code: str


@pytest.fixture(params=["folder", "s3"])
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kit]:
    if request.param == "folder":
        folder = FolderPayloadStore(tmp_path / "payloads")
        yield Kit(folder, lambda d, data: folder.path(d).write_bytes(data),
                  f"from adapters.payloadstore import FolderPayloadStore\nfrom pathlib import Path\n"
                  f"store = FolderPayloadStore(Path({str(tmp_path / 'payloads')!r}))\n")
        return
    bucket: Bucket = request.getfixturevalue("s3_bucket")
    s3 = bucket.store()
    loc = bucket.location

    def damage(digest: str, data: bytes) -> None:
        s3.client.put_object(Bucket=loc.bucket, Key=s3.key(digest), Body=data)

    yield Kit(s3, damage,
              f"from adapters.payloadstore_s3 import S3Location, S3PayloadStore\n"
              f"store = S3PayloadStore.at(S3Location({loc.endpoint!r}, {loc.bucket!r}, {loc.prefix!r}, "
              f"access_key={loc.access_key!r}, secret_key={loc.secret_key!r}))\n")


def test_stored_once_under_its_digest_and_read_back_byte_for_byte(kit: Kit) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    first = kit.store.put(data)
    assert first.digest == hashlib.sha256(data).hexdigest() and first.size == len(data) and first.written
    again = kit.store.put_stream([data[:1000], data[1000:]])  # a re-delivered intake message
    assert again.digest == first.digest and not again.written
    assert kit.store.has(first.digest) and kit.store.has(first.digest, len(data))
    assert not kit.store.has(first.digest, len(data) + 1)
    assert kit.store.read_verified(first.digest, first.size) == data
    assert b"".join(kit.store.open_verified(first.digest)) == data


def test_a_missing_or_damaged_payload_is_a_named_failure(kit: Kit) -> None:
    absent = "ab" * 32
    assert not kit.store.has(absent)
    with pytest.raises(PayloadMissing):
        kit.store.open_verified(absent)  # before the first chunk: nothing was handed over
    stored = kit.store.put(b"van ban goc " * 1000)
    kit.damage(stored.digest, b"van ban goc " * 999 + b"van ban gia ")
    with pytest.raises(PayloadCorrupt):
        kit.store.read_verified(stored.digest)
    kit.damage(stored.digest, b"van ban goc " * 999)  # cut short
    with pytest.raises(PayloadCorrupt):
        kit.store.read_verified(stored.digest, stored.size)
    for bad in ("../../etc/passwd", "AB" * 32, "ab" * 31):
        with pytest.raises(ValueError, match="SHA-256"):
            kit.store.has(bad)


def test_retention_removes_only_what_every_recipient_has_and_is_old_enough(kit: Kit) -> None:
    delivered, pending = kit.store.put(b"a" * 10), kit.store.put(b"b" * 10)
    assert kit.store.sweep(lambda d: False, retention_s=7 * DAY) == []  # too fresh, needed or not
    removed = kit.store.sweep(lambda d: d == pending.digest, retention_s=7 * DAY, now=time.time() + 8 * DAY)
    assert removed == [delivered.digest]
    assert not kit.store.has(delivered.digest) and kit.store.has(pending.digest)


def test_a_200_mib_payload_streams_both_ways_in_bounded_memory(kit: Kit) -> None:
    """In a fresh interpreter: peak RSS stays at a few chunks, not the payload's size."""
    code = kit.make_code + """
import hashlib
chunks = (bytes([i % 251]) * (1024 * 1024) for i in range(200))
stored = store.put_stream(chunks)
h = hashlib.sha256()
for chunk in store.open_verified(stored.digest, stored.size):
    h.update(chunk)
assert h.hexdigest() == stored.digest and stored.size == 200 * 1024 * 1024
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) // 1024)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    peak_mb = int(done.stdout.strip())
    print(f"\nPAYLOAD-STORE {type(kit.store).__name__} 200 MiB peak RSS {peak_mb} MB")
    assert peak_mb < 120, peak_mb  # an interpreter with boto3 and a client is ~50 MB of it


def test_an_unreachable_bucket_is_the_store_unavailable_not_a_missing_payload(tmp_path: Path) -> None:
    """A bucket that does not answer is waited out like a mount gone (an OSError: the failure
    policy's HANDLER_CRASHED tiers), never parked as PAYLOAD_MISSING; the text names the bucket,
    not the credentials."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    store = S3PayloadStore.at(S3Location(f"http://127.0.0.1:{port}", "no-such", access_key=ACCESS_KEY,
                                         secret_key=SECRET_KEY))
    for call in (lambda: store.has("ab" * 32), lambda: store.open_verified("ab" * 32), lambda: store.put(b"x"),
                 lambda: store.sweep(lambda d: False, 0)):
        with pytest.raises(PayloadStoreUnavailable) as caught:
            call()
        assert isinstance(caught.value, OSError) and not isinstance(caught.value, PayloadMissing)
        assert "s3://no-such" in str(caught.value) and SECRET_KEY not in str(caught.value)


def test_the_settings_choose_the_store(s3_bucket: Bucket, tmp_path: Path) -> None:
    from router.hub import payload_store_of as payload_store
    from router.settings import settings_from

    folder = payload_store(settings_from(payload_dir=tmp_path / "p"))
    assert isinstance(folder, FolderPayloadStore) and folder.root == tmp_path / "p"
    s3 = payload_store(settings_from(**s3_bucket.settings()))
    assert isinstance(s3, S3PayloadStore) and s3.name == "s3"
    stored = s3.put(b"chon kho theo cau hinh")
    assert s3_bucket.store().read_verified(stored.digest) == b"chon kho theo cau hinh"
    with pytest.raises(ValueError, match="LIENTHONG_PAYLOAD_S3_BUCKET"):
        settings_from(payload_store="s3")

