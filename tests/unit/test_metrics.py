"""The metrics catalogue follows Prometheus conventions, and only the runtime's observer feeds
it — from each decision's typed outcome, once per message, with one canonical log event."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from router.amqp.observe import Observer
from router.ledger.store import Ledger
from router.pipeline.decisions import Decision
from router.pipeline.envelope import Envelope
from router.pipeline.intake import IntakeStage
from router.pipeline.outcome import EVENTS, Result, Stage, StageOutcome
from router.topology.names import Names
from schemas.codes import PackageKind
from tests.support.hub import test_directory as directory_for
from tests.support.packages import make_edoc

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Msg:
    """A message as the observer reads it (a double of router.amqp.consumer.Message)."""

    body: bytes
    user_id: str | None
    digest: str = "ab" * 32
    queue: str = "q"
    delivery_count: int = 0
    headers: dict[str, Any] = field(default_factory=dict)
    handled_s: float = 0.0


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def stage(tmp_path: Path) -> Any:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite3'}")
    yield IntakeStage(directory_for("m"), ledger, Names("m"))
    ledger.close()


def test_every_lienthong_metric_is_prefixed_and_counters_end_in_total() -> None:
    import ops.metrics  # noqa: F401 - registers the catalogue

    names = [m for m in REGISTRY.collect() if m.name.startswith("lienthong")]
    assert names
    for m in names:
        assert m.name.startswith("lienthong_")
        if m.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in m.samples), m.name
        if m.type == "histogram":
            assert m.name.endswith("_seconds"), m.name


#: pipeline modules that may log (never count): the submitter trust check notes refused gateway
#: claims as they happen, a security trail beside the package's canonical event
MAY_LOG = {"submitter.py"}


def test_stages_import_no_metrics_and_no_logger() -> None:
    """Stages decide; the runtime counts and narrates (router/amqp/observe.py)."""
    bad = []
    for path in sorted((ROOT / "router" / "pipeline").rglob("*.py")):
        banned = ("ops.metrics",) if path.name in MAY_LOG else ("ops.metrics", "structlog")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) and node.module
                else [])
            bad += [f"{path.name}: {n}" for n in names if n.startswith(banned)]
    assert not bad, bad


def test_stage_counts_nothing_itself(stage: IntakeStage) -> None:
    before = sample("lienthong_rejections_total", {"code": "NOT_EDXML"})
    decision = stage.process(b"<html/>", "m-tinh-nghean")
    assert decision.outcome is not None and decision.outcome.code == "NOT_EDXML"
    assert sample("lienthong_rejections_total", {"code": "NOT_EDXML"}) == before


def test_observer_counts_a_rejection_once_and_logs_one_canonical_event(stage: IntakeStage) -> None:
    before = sample("lienthong_rejections_total", {"code": "NOT_EDXML"})
    packages = sample("lienthong_packages_total", {"kind": "unknown", "outcome": "rejected"})
    msg = Msg(b"<html/>", "m-tinh-nghean")
    observer = Observer("intake")
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        decision = observer.decide(msg, lambda m: stage.process(m.body, m.user_id, digest=m.digest))
        assert logs == [] and sample("lienthong_rejections_total", {"code": "NOT_EDXML"}) == before  # not yet
        observer.settled(msg, decision.outcome)  # carried out and acked: now it happened
    assert sample("lienthong_rejections_total", {"code": "NOT_EDXML"}) == before + 1
    assert sample("lienthong_packages_total", {"kind": "unknown", "outcome": "rejected"}) == packages + 1
    assert [e["event"] for e in logs] == ["package.refused"]
    event = logs[0]
    assert event["code"] == "NOT_EDXML" and event["outcome"] == "rejected" and event["system"] == "tinh-nghean"
    assert event["stage"] == "intake" and event["digest"] == msg.digest[:16] and event["attempt"] == 1
    assert decision.reply["outcome"] == "rejected" and decision.reply["code"] == "NOT_EDXML"


def test_accepted_packages_have_their_event_and_the_reply_comes_from_the_outcome(stage: IntakeStage) -> None:
    body = make_edoc("000.00.00.H41", ["000.00.13.H41"], 7)
    msg, observer = Msg(body, "m-tinh-nghean"), Observer("intake")
    with capture_logs() as logs:
        decision = observer.decide(msg, lambda m: stage.process(m.body, m.user_id))
        observer.settled(msg, decision.outcome)
    assert [e["event"] for e in logs] == ["package.routed"]
    assert logs[0]["recipients"] == ["000.00.13.H41"] and logs[0]["kind"] == "edoc"
    assert decision.outcome is not None and decision.outcome.result is Result.ACCEPTED
    assert decision.reply == decision.outcome.reply()
    assert decision.reply["routed"] == {"tinh-nghean": ["000.00.13.H41"]}


def test_the_handlers_own_lines_carry_the_bound_context() -> None:
    seen: list[dict[str, Any]] = []

    def handler(m: Msg) -> Decision:
        seen.append(structlog.contextvars.get_contextvars())
        return Decision()

    env = Envelope(digest="d" * 64, kind=PackageKind.EDOC, system="s1", recipients=("000.00.13.H41",),
                   sender="000.00.00.H41", document_id="x", submitted_by="s0", attempt=3)
    Observer("deliver").decide(Msg(b"", None, headers=env.to_headers()), handler)
    assert seen[0]["stage"] == "deliver" and seen[0]["system"] == "s1" and seen[0]["attempt"] == 3


def test_delivery_outcomes_are_counted_with_bounded_system_labels() -> None:
    observer = Observer("deliver", systems={"tinh-nghean"})
    out = StageOutcome(Stage.DELIVERY, Result.PARKED, "c" * 64, kind=PackageKind.EDOC, system="made-up",
                       code="DELIVERY_FAILED", reason="[Errno 28] No space left on device: '/srv/x'")
    before = sample("lienthong_deliveries_total", {"system": "other", "result": "parked"})
    parked = sample("lienthong_parked_total", {"stage": "deliver", "code": "DELIVERY_FAILED"})
    with capture_logs() as logs:
        observer.outcome(out)
    assert sample("lienthong_deliveries_total", {"system": "other", "result": "parked"}) == before + 1
    assert sample("lienthong_parked_total", {"stage": "deliver", "code": "DELIVERY_FAILED"}) == parked + 1
    assert logs[0]["event"] == "delivery.parked" and logs[0]["log_level"] == "warning"
    assert "Errno 28" in logs[0]["reason"]  # operator detail goes to the log …
    assert Decision(outcome=out).reply == {}  # … and a copy has no submitter to answer


def test_a_retry_at_intake_is_a_failure_decision_not_a_package_outcome() -> None:
    out = StageOutcome(Stage.INTAKE, Result.RETRYING, "e" * 64, reason="ledger down")
    before = sample("lienthong_packages_total", {"kind": "unknown", "outcome": "retrying"})
    with capture_logs() as logs:
        Observer("intake").outcome(out)
    assert logs[0]["event"] == "package.retry_scheduled"
    assert sample("lienthong_packages_total", {"kind": "unknown", "outcome": "retrying"}) == before
    assert Decision(outcome=out).reply == {}  # the retry copy has no reply route; the final word comes later


def test_every_outcome_has_a_canonical_event_name() -> None:
    for (stage, result), name in EVENTS.items():
        assert StageOutcome(stage, result, "0" * 64).event == name
        assert name.startswith(("package.", "delivery."))


def test_certificate_path_cache_lookups_are_counted_from_the_outcome() -> None:
    name = "lienthong_signature_chain_cache_total"
    hits, misses = sample(name, {"result": "hit"}), sample(name, {"result": "miss"})
    Observer(Stage.INTAKE.value).outcome(StageOutcome(Stage.INTAKE, Result.ACCEPTED, "cd" * 32, chain_cache=(3, 1)))
    assert (sample(name, {"result": "hit"}), sample(name, {"result": "miss"})) == (hits + 3, misses + 1)
