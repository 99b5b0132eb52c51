"""Signatures through the router (issue 4 acceptance): a tampered PDF is rejected with a status
02 naming the sub-reason; a properly signed one is delivered with its verdict header."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from schemas.parse import parse_package
from tests.integration.test_pipeline_basic import wait_for
from tests.support.hub import RunningHub, running_hub
from tests.support.pki import Corpus, add_annotation, append_text_update, blob, flip_signed_byte, new_corpus, package
from tests.support.services import delete_broker_objects, unique_prefix

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return new_corpus(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def hub(amqp_url: str, corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    prefix = unique_prefix("sig")
    tmp = tmp_path_factory.mktemp("signed")
    try:
        key, cert = corpus.ident("org-nghe-an")
        (tmp / "hub.key").write_bytes(key)
        (tmp / "hub.crt").write_bytes(cert)
        with running_hub(
            amqp_url, prefix, tmp, signature_policy={"default": "require"}, trust_dir=corpus.trust_dir,
            verify_workers=2, hub_key=tmp / "hub.key", hub_cert=tmp / "hub.crt",
        ) as h:
            yield h
    finally:
        delete_broker_objects(prefix)


def _statuses(hub: RunningHub) -> list[str]:
    out = []
    for f in hub.inbox("tinh-nghean"):
        if f.name.startswith("status-"):
            out.append(parse_package(f.read_bytes()).package.header.description)  # type: ignore[union-attr]
    return out


@pytest.mark.parametrize(("tamper", "reasons"), [
    (append_text_update, {"MODIFIED_AFTER_SIGNING"}),
    (flip_signed_byte, {"INTEGRITY", "MODIFIED_AFTER_SIGNING"}),
])
def test_tampered_pdf_is_rejected_with_the_sub_reason(hub: RunningHub, corpus: Corpus, tamper, reasons) -> None:  # type: ignore[no-untyped-def]
    body = package(blob(tamper(corpus.both)))
    res = hub.submit("tinh-nghean", body).result
    assert res is not None and res["outcome"] == "rejected", res
    assert res["code"] == "SIGNATURE_INVALID"
    assert any(r in res["message"] for r in reasons), res["message"]
    wait_for(lambda: any("[SIGNATURE_INVALID]" in s and "1234-UBND-KGVX.pdf" in s for s in _statuses(hub)))
    assert not any(f.read_bytes() == body for f in hub.inbox("tinh-nghean"))
    verdict = hub.hub.ledger.get_package(res["digest"])
    assert verdict is not None and verdict.reason_code == "SIGNATURE_INVALID"


def test_signed_pdf_is_delivered_with_its_verdict_header(hub: RunningHub, corpus: Corpus) -> None:
    body = package(blob(corpus.both))
    res = hub.submit("tinh-nghean", body).result
    assert res is not None and res["outcome"] == "accepted", (res.get("code"), res.get("message"))
    wait_for(lambda: any(f.read_bytes() == body for f in hub.inbox("tinh-nghean")))
    delivered = next(f for f in hub.inbox("tinh-nghean") if f.read_bytes() == body)
    meta = json.loads(delivered.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["headers"]["lt-verdict"] == "SIGNED"


def _chain_lookups() -> float:
    return sum(REGISTRY.get_sample_value("lienthong_signature_chain_cache_total", {"result": r}) or 0.0
               for r in ("hit", "miss"))


def test_certificate_path_lookups_are_counted_by_the_runtime(hub: RunningHub, corpus: Corpus) -> None:
    """Both signatures of an intact package reach the path step in a worker; the runtime counts
    the lookups from the package's outcome (lienthong_signature_chain_cache_total)."""
    before = _chain_lookups()
    res = hub.submit("tinh-nghean", package(blob(add_annotation(corpus.both)))).result
    assert res is not None and res["outcome"] == "rejected", res
    wait_for(lambda: _chain_lookups() >= before + 2)


def test_unsigned_pdf_is_rejected_under_require(hub: RunningHub, corpus: Corpus) -> None:
    body = package(blob(corpus.plain_pdf))
    res = hub.submit("tinh-nghean", body).result
    assert res is not None and res["code"] == "SIGNATURE_MISSING", res


def test_verdicts_are_in_the_ledger(hub: RunningHub, corpus: Corpus, tmp_path: Path) -> None:
    body = package(blob(corpus.signed(org=None)))  # person only, as document 1235 (1234 is taken)
    body = body.replace(b",1234/UBND-KGVX<", b",1235/UBND-KGVX<").replace(b"<edXML:CodeNumber>1234<", b"<edXML:CodeNumber>1235<")
    res = hub.submit("tinh-nghean", body).result
    assert res is not None and res["outcome"] == "accepted", res  # partially signed: delivered with a warning
    assert any("PARTIALLY_SIGNED" in w or "chữ ký" in w.lower() for w in res.get("warnings", [])), res
    trace = hub.hub.ledger.trace("000.00.00.H41,2025/03/14,1235/UBND-KGVX")
    assert any(v.verdict == "PARTIALLY_SIGNED" for v in trace.verdicts)


def test_statuses_the_hub_emits_are_signed_with_its_key(hub: RunningHub, corpus: Corpus) -> None:
    from signing.inputs import facts_from_parsed
    from signing.xmlsig import XmlSignatureVerifier

    statuses = [f for f in hub.inbox("tinh-nghean") if f.name.startswith("status-")]
    assert statuses, "the rejections above must have produced statuses"
    body = statuses[0].read_bytes()
    parsed = parse_package(body)
    assert parsed.package.signature_present
    report = XmlSignatureVerifier(corpus.trust).verify(body, facts_from_parsed(parsed))
    assert report is not None and report.valid, report
