"""The claim check's parts: the reference it travels
as, intake's decision (the store's promise, for both stores, 200 MiB in bounded memory included: tests/contract/
test_payload_store_contract.py; end to end on the broker: tests/integration/test_claim_check.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from adapters.payloadstore import FolderPayloadStore
from router.pipeline.claimcheck import ClaimError, ClaimReference, should_claim

pytestmark = pytest.mark.unit


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
