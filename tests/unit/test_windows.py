"""Work per window (router/pipeline/window.py): the stages' read-ahead for messages taken at
once answers what each message would have read for itself, in one query instead of one or two
per message — on a real SQLite ledger, with the events of each decision written before the
next one is decided, as the runtime's group commit does."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from router.ledger.store import Ledger
from router.pipeline.decisions import Decision
from router.pipeline.delivery import DeliveryStage
from router.pipeline.intake import IntakeStage
from router.pipeline.window import Submission
from router.topology.build import TopologyOptions, build_topology
from schemas.codes import BussinessDocType
from schemas.findings import Code
from tests.support.hub import test_directory as hub_directory
from tests.support.memory_sink import MemorySink
from tests.support.packages import document_id, make_edoc

pytestmark = pytest.mark.unit

PREFIX = "lt-window"
USER = f"{PREFIX}-tinh-nghean"
AT = datetime(2025, 3, 14, 3, 0, tzinfo=UTC)
PROVINCE, DEPARTMENT, DISTRICT = "000.00.00.H41", "000.00.13.H41", "000.00.25.H41"


def _apply(ledger: Ledger, decision: Decision) -> None:
    """What the runtime writes for a decision carried out: `before`, (publish, confirm) `after`."""
    if decision.before:
        ledger.append(decision.before)
    if decision.after:
        ledger.append(decision.after)


def _answer(decision: Decision) -> tuple[str, str | None, str | None]:
    if decision.failure is not None:
        return "failure", decision.failure.kind.value, None
    assert decision.outcome is not None
    return decision.outcome.result.value, decision.outcome.code, decision.outcome.note


@contextmanager
def _selects(ledger: Ledger) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = ledger._engine  # the test counts the statements the stage sends
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _submissions() -> tuple[bytes, list[bytes]]:
    """The ledger already has `earlier`; then a window of: two new documents, a second package
    claiming the first one's DocumentId with other content, an exact copy of `earlier`, bytes
    that are not XML, and a revocation of a document of the same window."""
    earlier = make_edoc(PROVINCE, [DEPARTMENT], 901)
    first = make_edoc(PROVINCE, [DEPARTMENT, DISTRICT], 902)
    other = make_edoc(PROVINCE, [DISTRICT], 903)
    conflict = make_edoc(PROVINCE, [DEPARTMENT], 902, subject="V/v cùng số, nội dung khác")
    revoke = make_edoc(PROVINCE, [DISTRICT], 904, doc_type=BussinessDocType.REVOKE,
                       target=document_id(PROVINCE, 903), subject="Thu hồi")
    return earlier, [first, other, conflict, earlier, b"<not xml", revoke]


def _intake(tmp_path: Path, name: str) -> tuple[Ledger, IntakeStage]:
    directory = hub_directory(PREFIX)
    ledger = Ledger.open(f"sqlite:///{tmp_path / name}")
    return ledger, IntakeStage(directory, ledger, build_topology(directory, TopologyOptions(prefix=PREFIX)).names)


def _per_message(stage: IntakeStage, bodies: Sequence[bytes]) -> list[Decision]:
    decisions = []
    for body in bodies:
        decision = stage.process(body, USER, AT, hashlib.sha256(body).hexdigest())
        _apply(stage.ledger, decision)
        decisions.append(decision)
    return decisions


def _windowed(stage: IntakeStage, bodies: Sequence[bytes]) -> list[Decision]:
    items = [Submission(i, body, USER, hashlib.sha256(body).hexdigest()) for i, body in enumerate(bodies)]
    window = stage.window(items)
    decisions = []
    try:
        for item in items:
            decision = stage.process(item.body, USER, AT, item.digest, window=window, key=item.key)
            _apply(stage.ledger, decision)
            decisions.append(decision)
    finally:
        window.close()
    return decisions


def test_an_intake_window_decides_as_each_message_would_alone(tmp_path: Path) -> None:
    earlier, bodies = _submissions()
    alone_ledger, alone = _intake(tmp_path, "alone.db")
    window_ledger, windowed = _intake(tmp_path, "window.db")
    with alone_ledger, window_ledger:
        _per_message(alone, [earlier])
        _per_message(windowed, [earlier])
        with _selects(alone_ledger) as per_message_reads:
            expected = [_answer(d) for d in _per_message(alone, bodies)]
        with _selects(window_ledger) as window_reads:
            got = [_answer(d) for d in _windowed(windowed, bodies)]
        assert got == expected
        assert [r for r, _, _ in got] == ["accepted", "accepted", "rejected", "duplicate", "rejected", "accepted"]
        assert got[2][1] == Code.DUPLICATE_CONFLICT.value
        # the de-duplication reads: one per message alone, one for the whole window
        dedup = [s for s in window_reads if "ledger_packages" in s and "document_id IN" in s]
        assert len(dedup) == 1, window_reads
        assert len(window_reads) < len(per_message_reads)
        assert window_ledger.verify_chain().ok and alone_ledger.verify_chain().ok


def test_a_second_document_id_in_one_window_is_refused_before_any_commit(tmp_path: Path) -> None:
    """The window's own acceptance holds its (From, DocumentId): the second package is refused
    DUPLICATE_CONFLICT at once, although nothing of the first is in the ledger yet."""
    ledger, stage = _intake(tmp_path, "ledger.db")
    first = make_edoc(PROVINCE, [DEPARTMENT], 905)
    second = make_edoc(PROVINCE, [DEPARTMENT], 905, subject="V/v nội dung khác")
    items = [Submission(i, b, USER, hashlib.sha256(b).hexdigest()) for i, b in enumerate((first, second))]
    with ledger:
        window = stage.window(items)
        answers = [_answer(stage.process(i.body, USER, AT, i.digest, window=window, key=i.key)) for i in items]
        window.close()
        assert answers[0][0] == "accepted"
        assert answers[1][:2] == ("rejected", Code.DUPLICATE_CONFLICT.value)
        assert ledger.get_package(hashlib.sha256(first).hexdigest()) is None  # nothing was written


def test_the_same_bytes_twice_in_one_window_each_read_for_themselves(tmp_path: Path) -> None:
    ledger, stage = _intake(tmp_path, "ledger.db")
    body = make_edoc(PROVINCE, [DEPARTMENT], 906)
    digest = hashlib.sha256(body).hexdigest()
    with ledger:
        window = stage.window([Submission("a", body, USER, digest), Submission("b", body, USER, digest)])
        assert window.lookup(digest, PROVINCE, document_id(PROVINCE, 906)) is None
        window.close()


def test_a_window_closes_what_no_message_asked_for(tmp_path: Path) -> None:
    ledger, stage = _intake(tmp_path, "ledger.db")
    body = make_edoc(PROVINCE, [DEPARTMENT], 907)
    with ledger:
        window = stage.window([Submission("a", body, USER, hashlib.sha256(body).hexdigest())])
        read = window.reads["a"]
        window.close()
        assert not window.reads
        assert window.take("a") is None
        assert read is not None


def test_a_delivery_window_decides_as_each_copy_would_alone(tmp_path: Path) -> None:
    directory = hub_directory(PREFIX)
    topology = build_topology(directory, TopologyOptions(prefix=PREFIX))
    earlier, bodies = _submissions()
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        intake = IntakeStage(directory, ledger, topology.names)
        copies = [p for d in _per_message(intake, [earlier, *bodies]) for p in d.publishes
                  if p.headers.get("lt-digest")]
        stranger = make_edoc(PROVINCE, [DEPARTMENT], 999)  # never submitted: the ledger does not know it
        forged = dict(copies[0].headers, **{"lt-digest": hashlib.sha256(stranger).hexdigest()})
        wanted = [(p.body, dict(p.headers)) for p in copies] + [(stranger, forged)]

        def run(window: bool) -> list[tuple[str, str | None, str | None]]:
            sinks = {sid: MemorySink() for sid in directory.systems}
            stage = DeliveryStage(directory, ledger, topology, sinks)
            w = stage.window([h for _, h in wanted]) if window else None
            answers = []
            for body, headers in wanted:
                answers.append(_answer(stage.process(body, headers, AT, hashlib.sha256(body).hexdigest(), window=w)))
            return answers

        alone = run(window=False)  # nothing recorded: both runs see the same ledger
        assert run(window=True) == alone
        assert alone[-1] == ("failure", "copy_forged", None)
        # the revocation waits: its original (same window) was routed, not yet delivered
        assert alone[-2] == ("failure", "waiting_for_original", None)
        assert {a for a, _, _ in alone[:-2]} == {"delivered"}
