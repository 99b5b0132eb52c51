"""The claim check's parts: the payload store on a real folder and the reference it travels as
(end to end on the broker: tests/integration/test_claim_check.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.payloadstore import FolderPayloadStore, PayloadCorrupt, PayloadMissing
from router.pipeline.claimcheck import ClaimError, ClaimReference, should_claim
from tests.support.services import ROOT

pytestmark = pytest.mark.unit


def test_stored_once_and_read_back_byte_for_byte(tmp_path: Path) -> None:
    store = FolderPayloadStore(tmp_path / "payloads")
    data = os.urandom(3 * 1024 * 1024 + 17)
    first = store.put(data)
    assert first.digest == hashlib.sha256(data).hexdigest() and first.size == len(data) and first.written
    again = store.put_stream([data[:1000], data[1000:]])  # a re-delivered intake message
    assert again.digest == first.digest and not again.written
    assert store.read_verified(first.digest, first.size) == data
    assert [p.name for p in (tmp_path / "payloads").rglob("*") if p.is_file()] == [first.digest]


def test_a_missing_or_damaged_payload_is_a_named_failure(tmp_path: Path) -> None:
    store = FolderPayloadStore(tmp_path)
    with pytest.raises(PayloadMissing):
        store.read_verified("ab" * 32)
    stored = store.put(b"van ban goc " * 1000)
    path = store.path(stored.digest)
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    with pytest.raises(PayloadCorrupt):
        store.read_verified(stored.digest)
    with pytest.raises(ValueError, match="SHA-256"):
        store.path("../../etc/passwd")


def test_retention_removes_only_what_every_recipient_has_and_is_old_enough(tmp_path: Path) -> None:
    store = FolderPayloadStore(tmp_path)
    delivered, pending, fresh = store.put(b"a" * 10), store.put(b"b" * 10), store.put(b"c" * 10)
    old = time.time() - 8 * 86400
    for s in (delivered, pending):
        os.utime(store.path(s.digest), (old, old))
    removed = store.sweep(lambda d: d == pending.digest, retention_s=7 * 86400)
    assert removed == [delivered.digest]
    assert not store.path(delivered.digest).exists()
    assert store.path(pending.digest).exists() and store.path(fresh.digest).exists()


def test_a_200_mb_payload_streams_through_in_bounded_memory(tmp_path: Path) -> None:
    """Stored and read back in a fresh interpreter: peak RSS stays near one chunk, not 200 MB."""
    code = f"""
import hashlib, sys
from pathlib import Path
from adapters.payloadstore import FolderPayloadStore
store = FolderPayloadStore(Path({str(tmp_path)!r}))
chunks = (bytes([i % 251]) * (1024 * 1024) for i in range(200))
stored = store.put_stream(chunks)
h = hashlib.sha256()
for chunk in store.open_verified(stored.digest, stored.size):
    h.update(chunk)
assert h.hexdigest() == stored.digest and stored.size == 200 * 1024 * 1024
# VmHWM is this interpreter's own peak: ru_maxrss would carry over the forking pytest's across exec
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) // 1024)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stdout.strip())
    print(f"\nCLAIM-STORE 200 MiB peak RSS {peak_mb} MB")
    assert peak_mb < 100, peak_mb


def test_the_reference_is_small_and_read_strictly() -> None:
    ref = ClaimReference("ab" * 32, 200 * 1024 * 1024)
    body = ref.encode()
    assert len(body) < 200 and ClaimReference.decode(body) == ref
    for bad in (b"<edXML/>", b'{"format": "other"}', b'{"format": "lienthong-claim/1", "digest": "x", "size": 1,'
                b' "store": "folder"}'):
        with pytest.raises(ClaimError):
            ClaimReference.decode(bad)
    assert should_claim(8 * 1024 * 1024 + 1) and not should_claim(8 * 1024 * 1024)
    assert not should_claim(10**9, threshold_bytes=0)


def test_intake_stores_a_large_package_once_and_routes_references_but_bytes_to_a_self_consuming_system(
    tmp_path: Path,
) -> None:
    """The route stage's decision (no broker): each copy carries the reference and `lt-claim`,
    except the copy for a system that reads its own queue (adapter `amqp`), which cannot reach
    the store; the store holds the package once, under its digest."""
    import yaml

    from router.directory.model import Directory
    from router.ledger.store import Ledger
    from router.pipeline.envelope import CLAIM
    from router.pipeline.intake import IntakeStage
    from router.settings import PACKAGE_DATA
    from router.topology.names import Names
    from tests.support.edxml_factory import edoc_bytes, pdf_bytes

    data = yaml.safe_load((PACKAGE_DATA / "nghe_an.yaml").read_text(encoding="utf-8"))
    for system in data["systems"]:
        system["broker_user"] = f"cc-{system['id']}"
        if system["id"] == "truc-quoc-gia":
            system["delivery"] = {"adapter": "amqp"}
    directory = Directory.from_dict(data)
    store = FolderPayloadStore(tmp_path / "payloads")
    body = edoc_bytes({"cid:van-ban-1": pdf_bytes(9 * 1024 * 1024)}, sender="000.00.25.H41",
                      recipients=("000.00.00.H41", "000.00.00.G22"), number="91")
    digest = hashlib.sha256(body).hexdigest()
    with Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite3'}") as ledger:
        stage = IntakeStage(directory, ledger, Names("cc"), payloads=store, claim_threshold_bytes=8 * 1024 * 1024)
        decision = stage.process(body, "cc-huyen-thanhchuong")
    assert decision.outcome is not None and decision.outcome.result.value == "accepted", decision.outcome
    copies = {str(pub.headers["lt-system"]): pub for pub in decision.publishes}
    assert set(copies) == {"tinh-nghean", "truc-quoc-gia"}
    ref = ClaimReference.decode(copies["tinh-nghean"].body)
    assert (ref.digest, ref.size) == (digest, len(body)) and copies["tinh-nghean"].headers[CLAIM] == "1"
    assert copies["truc-quoc-gia"].body == body and CLAIM not in copies["truc-quoc-gia"].headers
    assert store.read_verified(digest, len(body)) == body
