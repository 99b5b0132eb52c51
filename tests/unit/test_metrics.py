"""The metrics catalogue follows Prometheus conventions and the intake stage feeds it."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

pytestmark = pytest.mark.unit


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


def test_intake_counts_rejections_by_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from router.ledger.store import Ledger
    from router.pipeline.intake import IntakeStage
    from router.topology.names import Names
    from tests.support.hub import test_directory

    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite3'}")
    stage = IntakeStage(test_directory("m"), ledger, Names("m"))
    before = REGISTRY.get_sample_value("lienthong_rejections_total", {"code": "NOT_EDXML"}) or 0.0
    decision = stage.process(b"<html/>", "m-tinh-nghean")
    assert decision.reply["code"] == "NOT_EDXML"
    after = REGISTRY.get_sample_value("lienthong_rejections_total", {"code": "NOT_EDXML"})
    assert after == before + 1
    ledger.close()
