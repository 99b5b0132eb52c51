"""Nothing ordinary is poison (issue 7, item 2), on the real broker and both real ledgers.

Before: a 200 KB DocumentId passed validation, the published copy outgrew the AMQP frame, the
intake connection dropped again and again, the package was dead-lettered with the ledger saying
`accepted` and no word to the sender; a DocumentId over 255 characters broke PostgreSQL's
varchar(255). Refusals were recorded without the submitting system or the DocumentId.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from router.ledger.events import Outcome, PackageKind, TransportState
from schemas.limits import Bounded, bound
from tests.integration.test_pipeline_acceptance import digest, statuses_in
from tests.integration.test_pipeline_basic import wait_for
from tests.support.hub import RunningHub, running_hub
from tests.support.packages import document_id, make_edoc
from tests.support.services import delete_broker_objects, pg_schema, unique_prefix

pytestmark = pytest.mark.integration

PROVINCE = "000.00.00.H41"
DEPT = "000.00.13.H41"  # served by the province DMS, like the province itself
LIENTHONG = Path(sys.executable).with_name("lienthong")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    tmp = tmp_path_factory.mktemp(f"bounds-{request.param}")
    prefix = unique_prefix("bnd")
    try:
        if request.param == "sqlite":
            with running_hub(amqp_url, prefix, tmp) as h:
                yield h
        else:
            with pg_schema(request.getfixturevalue("pg_url"), "lt_bounds") as url, \
                    running_hub(amqp_url, prefix, tmp, ledger_url=url) as h:
                yield h
    finally:
        delete_broker_objects(prefix)


def reconnects() -> float:
    return REGISTRY.get_sample_value("lienthong_reconnects_total", {"consumer": "intake"}) or 0.0


@pytest.mark.parametrize("length", [200_000, bound(Bounded.DOCUMENT_ID) + 45])
def test_an_oversized_document_id_is_refused_told_and_recorded(hub: RunningHub, length: int) -> None:
    before = reconnects()
    body = make_edoc(PROVINCE, [DEPT], length % 1000, doc_id="Đ" * length)
    res = hub.submit("tinh-nghean", body, wait_s=20).result
    assert res is not None and res["outcome"] == "rejected" and res["code"] == "FIELD_TOO_LONG", res
    assert "document_id" not in res  # never echoed past its bound
    said = f"[FIELD_TOO_LONG] Trục liên thông từ chối tiếp nhận: DocumentId dài {length} ký tự"
    wait_for(lambda: any(said in s for s in statuses_in(hub, "tinh-nghean")))
    status = next(s for s in statuses_in(hub, "tinh-nghean") if said in s)
    assert status.startswith("02 ") and len(status) < 600
    row = hub.hub.ledger.get_package(digest(body))
    assert row is not None and row.outcome is Outcome.REJECTED and row.reason_code == "FIELD_TOO_LONG"
    assert (row.submitted_by, row.from_organ, row.kind, row.document_id) == \
        ("tinh-nghean", PROVINCE, PackageKind.EDOC, None)
    assert not any(f.read_bytes() == body for sid in hub.hub.sinks for f in hub.inbox(sid))
    # the intake connection stayed up and keeps routing
    assert reconnects() == before
    assert hub.consumers[0].ready.is_set()
    ok = hub.submit("tinh-nghean", make_edoc(PROVINCE, [DEPT], 901 if length > 1000 else 902)).result
    assert ok is not None and ok["outcome"] == "accepted", ok


def test_a_document_id_at_its_bound_is_routed_and_stored_intact(hub: RunningHub) -> None:
    doc = "Đ" * bound(Bounded.DOCUMENT_ID)
    body = make_edoc(PROVINCE, [DEPT], 301, doc_id=doc)
    res = hub.submit("tinh-nghean", body).result
    assert res is not None and res["outcome"] == "accepted", res
    wait_for(lambda: (d := hub.hub.ledger.delivery_state(digest(body), DEPT)) is not None
             and d.state is TransportState.DELIVERED)
    row = hub.hub.ledger.get_package(digest(body))
    assert row is not None and row.document_id == doc


def test_a_package_refused_by_validation_is_traced_by_its_document_id(hub: RunningHub) -> None:
    body = make_edoc(PROVINCE, [DEPT], 302, subject="MẬT - V/v thử nghiệm")  # refused under any profile
    doc = document_id(PROVINCE, 302)
    res = hub.submit("tinh-nghean", body).result
    assert res is not None and res["code"] == "SECRET_DOCUMENT" and res["document_id"] == doc, res
    row = hub.hub.ledger.get_package(digest(body))
    assert row is not None and (row.submitted_by, row.from_organ, row.kind, row.document_id) == \
        ("tinh-nghean", PROVINCE, PackageKind.EDOC, doc)
    out = subprocess.run([str(LIENTHONG), "trace", doc, "--ledger", hub.hub.settings.ledger_url],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "SECRET_DOCUMENT" in out.stdout and f"Từ {PROVINCE} qua hệ thống tinh-nghean" in out.stdout


def test_a_forged_sender_is_recorded_with_the_system_that_sent_it(hub: RunningHub) -> None:
    body = make_edoc(PROVINCE, [DEPT], 303)  # the district DMS pretends to be the province
    res = hub.submit("huyen-thanhchuong", body).result
    assert res is not None and res["code"] == "SENDER_NOT_SERVED", res
    trace = hub.hub.ledger.trace(document_id(PROVINCE, 303))
    assert [(p.outcome, p.submitted_by, p.from_organ) for p in trace.packages if p.kind is PackageKind.EDOC] == [
        (Outcome.REJECTED, "huyen-thanhchuong", PROVINCE)]
