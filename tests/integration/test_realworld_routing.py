"""Issue 9 acceptance on the real broker and ledger: packages real software produced are routed
and delivered with their warnings — in the ledger, in the delivered copy's headers (the folder
sink's `.json`) — and the SDK's revocation, which carries its original's DocumentId as its own,
reaches a recipient after that original."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from adapters.folder import FolderSink
from adapters.sink import Handover, SinkResult, TransientFailure
from router.ledger import schema as t
from router.ledger.engine import reading
from router.ledger.events import TransportState
from router.pipeline.envelope import WARNINGS
from tests.integration.test_pipeline_basic import wait_for
from tests.support.faults import ScriptedSink
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import make_edoc
from tests.support.samples import REALWORLD

pytestmark = pytest.mark.integration

GATEWAY = "truc-quoc-gia"  # the national axis: what it downloads, it submits to the hub
AXIS_2025 = "pvn-axis-2025-10-874e0f18-90dc-45fb-989a-65401470ba84.edxml"


@pytest.fixture(scope="module")
def hub(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    from tests.support.services import delete_broker_objects, unique_prefix

    prefix = unique_prefix("rw")
    tmp = tmp_path_factory.mktemp("realworld")
    sinks = {sid: ScriptedSink(FolderSink(tmp / "deliver" / sid)) for sid in ("tinh-nghean", GATEWAY)}
    try:
        with running_hub(amqp_url, prefix, tmp, sinks=sinks, retry_delays_s=(1, 1, 1), delivery_limit=3) as h:
            yield h
    finally:
        delete_broker_objects(prefix)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sidecar(hub: RunningHub, sid: str, body: bytes) -> dict[str, Any]:
    """The `.json` the folder sink wrote beside the delivered copy of `body`."""
    for f in hub.inbox(sid):
        if f.read_bytes() == body:
            return dict(json.loads(f.with_suffix(".json").read_text(encoding="utf-8")))
    raise AssertionError(f"{sid} has no copy of {digest(body)[:12]}")


def ledger_warnings(hub: RunningHub, body: bytes) -> list[list[Any]]:
    with reading(hub.hub.ledger._engine) as conn:
        for row in conn.execute(select(t.evidence.c.payload).where(t.evidence.c.event_type == "PackageReceived")):
            payload = json.loads(row.payload)
            if payload["digest"] == digest(body):
                return list(payload.get("warnings", []))
    raise AssertionError("no PackageReceived in the evidence chain")


def delivered(hub: RunningHub, body: bytes, recipient: str) -> bool:
    row = hub.hub.ledger.delivery_state(digest(body), recipient)
    return row is not None and row.state is TransportState.DELIVERED


def _to_the_province(body: bytes) -> bytes:
    """The axis package re-addressed to UBND tỉnh Nghệ An (To/OrganId only, same lines): as it
    stands it goes from connector vxp.saas.03 to itself, both outside the tree."""
    head, sep, rest = body.partition(b"<edXML:To>")
    return head + sep + rest.replace(b"vxp.saas.03", b"000.00.00.H41", 1)


def test_a_2025_axis_package_is_routed_and_delivered_with_its_warnings(hub: RunningHub) -> None:
    real = (REALWORLD / AXIS_2025).read_bytes()
    relay = hub.submit(GATEWAY, real).result  # from outside the tree to outside it: not relayed (issue 8)
    assert relay is not None and (relay["outcome"], relay["code"]) == ("rejected", "GATEWAY_RELAY"), relay
    body = _to_the_province(real)
    res = hub.submit(GATEWAY, body).result
    assert res is not None and res["outcome"] == "accepted", res
    assert {"SCHEMA_VIOLATION", "ORGAN_ID_CONNECTOR", "ORGAN_ID_INVALID"} <= set(res["warnings"])
    wait_for(lambda: delivered(hub, body, "000.00.00.H41"), timeout=30)
    header = sidecar(hub, "tinh-nghean", body)["headers"][WARNINGS]
    assert "ORGAN_ID_CONNECTOR /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId:7" in header
    stored = ledger_warnings(hub, body)
    assert [w[0] for w in stored] == [part.split(" ")[0] for part in header.split("; ")]
    assert stored[[w[0] for w in stored].index("ORGAN_ID_INVALID")][:3] == \
        ["ORGAN_ID_INVALID", "/edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList/TraceHeader[1]/OrganId", 59]


def test_the_sdk_update_sample_reaches_the_province_and_not_back_to_the_axis(hub: RunningHub) -> None:
    """The update names its target in Bussiness/DocumentId: taken once the hub carried that
    original (issue 8), routed to the province; H14 and G17 are the axis's to reach (not relayed)."""
    body = (REALWORLD / "pvn-sdk-edoc_update.edxml").read_bytes()
    early = hub.submit(GATEWAY, body).result
    assert early is not None and (early["outcome"], early["code"]) == ("rejected", "CHANGE_TARGET_UNKNOWN"), early
    target = "000.00.00.G22,2014/02/30,7806/VPCP-TTĐT"
    original = make_edoc("000.00.00.G22", ["000.00.00.H41"], 7806, notation="VPCP-TTĐT", doc_id=target)
    first = hub.submit(GATEWAY, original).result
    assert first is not None and first["outcome"] == "accepted", first
    res = hub.submit(GATEWAY, body).result
    assert res is not None and res["outcome"] == "accepted", res
    assert res["routed"] == {"tinh-nghean": ["000.00.00.H41"]}
    assert res["rejected_recipients"] == ["000.00.00.H14", "000.00.00.G17"]
    wait_for(lambda: delivered(hub, body, "000.00.00.H41"), timeout=30)
    headers = sidecar(hub, "tinh-nghean", body)["headers"]
    assert headers[WARNINGS].startswith("DOCUMENT_ID_INCONSISTENT /edXML/edXMLEnvelope/edXMLHeader/"
                                        "MessageHeader/DocumentId:46")
    assert headers["lt-doc-type"] == "2" and headers["lt-target"] == target
    [(code, _path, line, message)] = ledger_warnings(hub, body)
    assert (code, line) == ("DOCUMENT_ID_INCONSISTENT", 46) and "PromulgationDate" in message


def _transient(h: Handover) -> SinkResult:
    return TransientFailure(f"DMS busy (attempt {h.attempt})")


def test_the_sdk_revocation_reaches_the_province_after_its_original(hub: RunningHub) -> None:
    """Target = its own DocumentId (no Bussiness/DocumentId): it waits for the new document
    holding that DocumentId, which the province DMS refuses twice before taking it."""
    original = make_edoc("000.00.00.G22", ["000.00.00.H41"], 7816, notation="VPCP-TTĐT", day=date(2015, 9, 30))
    revocation = (REALWORLD / "pvn-sdk-edoc_revocation.edxml").read_bytes()
    sink = hub.hub.sinks["tinh-nghean"]
    assert isinstance(sink, ScriptedSink)
    sink.script(digest(original), _transient, _transient)
    first = hub.submit(GATEWAY, original).result
    assert first is not None and first["outcome"] == "accepted", first
    second = hub.submit(GATEWAY, revocation).result
    assert second is not None and second["outcome"] == "accepted", second  # not DUPLICATE_CONFLICT
    assert second["document_id"] == first["document_id"]
    wait_for(lambda: digest(revocation) in sink.order, timeout=40)
    assert sink.order.index(digest(original)) < sink.order.index(digest(revocation))
    assert sidecar(hub, "tinh-nghean", revocation)["headers"]["lt-target"] == first["document_id"]
