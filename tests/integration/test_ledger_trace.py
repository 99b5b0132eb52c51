"""`trace` and `lienthong trace` on the real databases: the acceptance scenario of issue 3 (a
commune writes to a department of another district, a second district's commune and a ministry;
statuses 01, 03, 06 come back), a revocation that refers to it, rendering and JSON."""

# The shared fixtures are imported from test_ledger_backends (I may not edit conftest.py), so
# test parameters named after them look like redefinitions to ruff.

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from router.cli.trace import register
from router.ledger import (
    Delivered,
    Ledger,
    PackageKind,
    PackageReceived,
    Retrying,
    Routed,
    StatusRecorded,
    Trace,
    TransportState,
    VerdictRecorded,
    render_trace_text,
)
from schemas.codes import BussinessDocType
from tests.integration.test_ledger_backends import (
    at,
    digest,
    doc_id,
    edoc,
)

pytestmark = pytest.mark.integration

COMMUNE = "001.03.12.H41"  # a commune of district 12
DEPT_OTHER = "000.05.15.H41"  # a department-level office in district 15
COMMUNE_OTHER = "002.01.15.H41"  # a commune of district 15
MINISTRY = "000.00.00.G12"
DOC = doc_id(45, COMMUNE)
ORIGINAL, REVOKE = digest("original"), digest("revoke")


def scenario() -> list[object]:
    recipients = (DEPT_OTHER, COMMUNE_OTHER, MINISTRY)
    events: list[object] = [
        edoc("original", 45, recipients, organ=COMMUNE),
        VerdictRecorded(ORIGINAL, "valid", None, "cong-van-45.pdf", '{"signatures": 2}', at=at(0)),
        Routed(ORIGINAL, DEPT_OTHER, "sys-district-15", at=at(1)),
        Routed(ORIGINAL, COMMUNE_OTHER, "sys-district-15", at=at(1)),
        Routed(ORIGINAL, MINISTRY, "national-axis", at=at(1)),
        Delivered(ORIGINAL, DEPT_OTHER, "sys-district-15", 1, at=at(2)),
        Delivered(ORIGINAL, COMMUNE_OTHER, "sys-district-15", 1, at=at(2)),
        Retrying(ORIGINAL, MINISTRY, "national-axis", 1, "30s", "trục quốc gia không phản hồi", at=at(3)),
        Delivered(ORIGINAL, MINISTRY, "national-axis", 2, at=at(40)),
    ]
    for n, (code, organ, minute) in enumerate(
        [("01", DEPT_OTHER, 5), ("03", DEPT_OTHER, 20), ("06", DEPT_OTHER, 50),
         ("01", COMMUNE_OTHER, 6), ("01", MINISTRY, 10), ("03", MINISTRY, 30)]
    ):
        events.append(StatusRecorded(DOC, organ, COMMUNE, code, None, "Nguyễn Thị Lan", at(60 * minute),
                                     digest(f"st{n}"), at=at(60 * minute + 1)))
    revoke = PackageReceived(REVOKE, PackageKind.EDOC, COMMUNE, "sys-district-12", doc_id(46, COMMUNE),
                             (DEPT_OTHER,), BussinessDocType.REVOKE, DOC, "Thu hồi công văn 45",
                             at=at(3600))
    events += [revoke, Routed(REVOKE, DEPT_OTHER, "sys-district-15", at=at(3601)),
               Delivered(REVOKE, DEPT_OTHER, "sys-district-15", 1, at=at(3602)),
               StatusRecorded(doc_id(46, COMMUNE), DEPT_OTHER, COMMUNE, "15", "Đã hủy văn bản", None,
                              at(3700), digest("st-15"), at=at(3701))]
    return events


@pytest.fixture
def traced(ledger_url: str) -> Iterator[tuple[Ledger, str]]:
    with Ledger.open(ledger_url) as ledger:
        ledger.append(scenario())  # type: ignore[arg-type]
        yield ledger, ledger_url


def test_trace_gathers_every_recipient_in_time_order(traced: tuple[Ledger, str]) -> None:
    trace = traced[0].trace(DOC)
    assert [p.digest for p in trace.packages] == [ORIGINAL, REVOKE]
    organs = {o.organ: o for o in trace.organs}
    assert set(organs) == {DEPT_OTHER, COMMUNE_OTHER, MINISTRY}
    ministry = organs[MINISTRY].deliveries[0]
    assert [s.state for s in ministry.history] == [
        TransportState.ACCEPTED, TransportState.ROUTED, TransportState.RETRYING, TransportState.DELIVERED]
    dept = organs[DEPT_OTHER]
    assert [s.status_code for s in dept.statuses] == ["01", "03", "06", "15"]
    assert {d.delivery.digest for d in dept.deliveries} == {ORIGINAL, REVOKE}
    assert [v.attachment for v in trace.verdicts] == ["cong-van-45.pdf"]
    for organ in trace.organs:
        times = [s.reported_at for s in organ.statuses]
        assert times == sorted(times)


def test_tracing_the_revocation_shows_the_original_it_revokes(traced: tuple[Ledger, str]) -> None:
    trace = traced[0].trace(doc_id(46, COMMUNE))
    assert {p.digest for p in trace.packages} == {ORIGINAL, REVOKE}


def test_unknown_document_is_an_empty_trace(traced: tuple[Ledger, str]) -> None:
    trace = traced[0].trace("000.00.00.H41,2025/01/01,1/XX")
    assert not trace.found and trace.packages == () and trace.organs == ()
    assert "Không tìm thấy" in render_trace_text(trace)


def test_text_names_statuses_in_vietnamese_and_aligns_columns(traced: tuple[Ledger, str]) -> None:
    text = render_trace_text(traced[0].trace(DOC))
    for name in ("Đã đến", "Đã tiếp nhận", "Hoàn thành", "Đồng ý lấy lại/cập nhật", "Thu hồi",
                 "Đang thử lại", "trục quốc gia không phản hồi", f"Nơi nhận {MINISTRY}"):
        assert name in text, name
    assert "2025-03-03 08:30:00" in text  # Vietnam time: T0 is 01:30 UTC
    block = text.split(f"Nơi nhận {DEPT_OTHER}")[1].split("\n\n")[0].splitlines()[1:]
    status_col = {line.index("trạng thái") for line in block if "trạng thái" in line}
    assert len(status_col) == 1


def test_json_round_trips(traced: tuple[Ledger, str]) -> None:
    trace = traced[0].trace(DOC)
    text = trace.to_json()
    assert Trace.from_json(text) == trace
    assert "Nguyễn Thị Lan" in text  # UTF-8 kept, not \\u-escaped
    assert json.loads(text)["document_id"] == DOC


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """lienthong (test mount)."""

    register(app)
    return app


def test_cli_trace_text_and_json(traced: tuple[Ledger, str]) -> None:
    url = traced[1]
    runner = CliRunner()
    text = runner.invoke(cli(), ["trace", DOC, "--ledger", url])
    assert text.exit_code == 0, text.output
    assert "Hoàn thành" in text.output and DOC in text.output
    as_json = runner.invoke(cli(), ["trace", DOC, "--format", "json", "--ledger", url])
    assert as_json.exit_code == 0
    assert Trace.from_json(as_json.output) == traced[0].trace(DOC)
    missing = runner.invoke(cli(), ["trace", "000.00.00.H41,2025/01/01,1/XX", "--ledger", url])
    assert missing.exit_code == 1


def test_cli_ledger_verify(traced: tuple[Ledger, str]) -> None:
    ledger, url = traced
    runner = CliRunner()
    ok = runner.invoke(cli(), ["ledger", "verify", "--ledger", url])
    assert ok.exit_code == 0 and "nguyên vẹn" in ok.output
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger_statuses SET staff = 'Người khác' WHERE status_code = '06'")
    broken = runner.invoke(cli(), ["ledger", "verify", "--ledger", url])
    assert broken.exit_code == 1 and "seq" in broken.output


def test_cli_is_mounted_on_lienthong() -> None:
    from router.cli import COMMAND_MODULES

    assert "router.cli.trace" in COMMAND_MODULES
