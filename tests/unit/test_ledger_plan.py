"""The fold from events to rows, without a database: replay rules, the transition table and the
hash chain the plan writes. The integration tests run the same fold through both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.ledger.audit import empty_plan
from router.ledger.chain import GENESIS, EvidenceEntry, check_chain, link
from router.ledger.events import (
    Delivered,
    DuplicateAbsorbed,
    LedgerEvent,
    PackageKind,
    PackageReceived,
    PackageRejected,
    Parked,
    Retrying,
    Routed,
    StatusRecorded,
    TransportState,
    VerdictRecorded,
)
from router.ledger.plan import Plan
from router.ledger.transitions import ALLOWED, FINAL, Current, Step, step

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)
DIGESTS = ("a" * 64, "b" * 64)
ORGANS = ("000.12.00.H41", "000.00.00.G22")


def at(n: int) -> datetime:
    return T0 + timedelta(seconds=n)


def entries(plan: Plan) -> list[EvidenceEntry]:
    return [EvidenceEntry(e["seq"], e["event_type"], e["at"], e["payload"], e["prev_hash"], e["hash"])
            for e in plan.evidence]


# -- the transition table ---------------------------------------------------------------------


def cur(state: TransportState, attempts: int = 1, last: int = 10, reopened: int | None = None) -> Current:
    return Current(state, attempts, at(last), None if reopened is None else at(reopened))


def test_delivered_and_rejected_are_final() -> None:
    for new in TransportState:
        assert step(cur(TransportState.DELIVERED), new, 9, at(99)) in (Step.REPEAT, Step.STALE)
        assert step(cur(TransportState.REJECTED), new, 9, at(99)) in (Step.REPEAT, Step.STALE)


def test_delivered_is_the_truth_from_any_other_state() -> None:
    for state in set(TransportState) - FINAL:
        assert step(cur(state, attempts=5, reopened=50), TransportState.DELIVERED, 1, at(0)) is Step.APPLY


def test_every_state_has_a_row_and_repeats_are_not_steps() -> None:
    assert set(ALLOWED) == set(TransportState)
    for state in set(TransportState) - {TransportState.RETRYING}:
        assert step(cur(state), state, 1, at(20)) is Step.REPEAT


def test_a_further_retry_is_a_step_the_same_retry_a_repeat() -> None:
    retrying = cur(TransportState.RETRYING, attempts=2)
    assert step(retrying, TransportState.RETRYING, 3, at(20)) is Step.APPLY
    assert step(retrying, TransportState.RETRYING, 2, at(20)) is Step.REPEAT
    assert step(retrying, TransportState.PARKED, 1, at(20)) is Step.STALE  # parked at an older attempt


def test_going_back_is_stale() -> None:
    assert step(cur(TransportState.DELIVERED), TransportState.ROUTED, 0, at(20)) is Step.STALE
    assert step(cur(TransportState.RETRYING), TransportState.ROUTED, 0, at(20)) is Step.STALE
    assert step(None, TransportState.DELIVERED, 1, at(0)) is Step.APPLY


def test_parked_reopens_only_for_a_newer_event_and_then_ignores_older_ones() -> None:
    parked = cur(TransportState.PARKED, attempts=5, last=10)
    assert step(parked, TransportState.ROUTED, 0, at(11)) is Step.REOPEN
    assert step(parked, TransportState.ROUTED, 0, at(10)) is Step.STALE  # the first journey's, replayed
    reopened = cur(TransportState.ROUTED, attempts=5, last=11, reopened=11)
    assert step(reopened, TransportState.PARKED, 5, at(10)) is Step.STALE
    assert step(reopened, TransportState.RETRYING, 6, at(12)) is Step.APPLY


# -- the fold -----------------------------------------------------------------------------------


def test_plan_links_each_entry_to_the_previous_one() -> None:
    plan = empty_plan().add_all([
        PackageReceived(DIGESTS[0], PackageKind.EDOC, "000.00.00.H41", "s", "doc-1", ORGANS, at=at(0)),
        Routed(DIGESTS[0], ORGANS[0], "sys", at=at(1)),
        Delivered(DIGESTS[0], ORGANS[0], "sys", 1, at=at(2)),
    ])
    assert [e["seq"] for e in plan.evidence] == [1, 2, 3]
    assert plan.evidence[0]["prev_hash"] == GENESIS
    for prev, entry in zip(plan.evidence, plan.evidence[1:], strict=False):
        assert entry["prev_hash"] == prev["hash"] == link(prev["prev_hash"], prev["payload"])
    assert check_chain(entries(plan)).ok
    # one evidence entry moved both recipients to accepted
    assert [(r["seq"], r["state"]) for r in plan.transitions[:2]] == [(1, "accepted"), (1, "accepted")]


def test_check_chain_names_the_first_entry_that_does_not_fit() -> None:
    plan = empty_plan().add_all([DuplicateAbsorbed(DIGESTS[0], at=at(i)) for i in range(5)])
    good = entries(plan)
    assert check_chain(good).length == 5
    edited = [*good[:2], EvidenceEntry(3, good[2].event_type, good[2].at, good[2].payload.replace("Z", "+00:00"),
                                       good[2].prev_hash, good[2].hash), *good[3:]]
    assert check_chain(edited).broken_seq == 3
    assert check_chain([*good[:1], *good[2:]]).broken_seq == 2  # entry 2 removed
    assert check_chain([good[1], good[0], *good[2:]]).broken_seq == 1  # reordered
    wrong_at = EvidenceEntry(1, good[0].event_type, at(99), good[0].payload, good[0].prev_hash, good[0].hash)
    assert check_chain([wrong_at, *good[1:]]).broken_seq == 1


def event_strategy() -> st.SearchStrategy[LedgerEvent]:
    digest = st.sampled_from(DIGESTS)
    organ = st.sampled_from(ORGANS)
    when = st.integers(0, 50).map(at)
    attempt = st.integers(1, 4)
    return st.one_of(
        st.builds(lambda d, t: PackageReceived(d, PackageKind.EDOC, "000.00.00.H41", "s", "doc-" + d[0],
                                               ORGANS, at=t), digest, when),
        st.builds(lambda d, t: PackageRejected(d, "SCHEMA_VIOLATION", "m", at=t), digest, when),
        st.builds(lambda d, o, t: PackageRejected(d, "RECIPIENT_UNKNOWN", "m", o, at=t), digest, organ, when),
        st.builds(lambda d, o, t: Routed(d, o, "sys", at=t), digest, organ, when),
        st.builds(lambda d, o, n, t: Delivered(d, o, "sys", n, at=t), digest, organ, attempt, when),
        st.builds(lambda d, o, n, t: Retrying(d, o, "sys", n, "30s", "e", at=t), digest, organ, attempt, when),
        st.builds(lambda d, o, n, t: Parked(d, o, "sys", n, "r", at=t), digest, organ, attempt, when),
        st.builds(lambda d, c, t: StatusRecorded("doc-" + d[0], ORGANS[0], "000.00.00.H41", c, None, None, t,
                                                  d[::-1] + c, at=t), digest, st.sampled_from(["01", "03", "09"]),
                  when),
        st.builds(lambda d, t: VerdictRecorded(d, "valid", None, None, "{}", at=t), digest, when),
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(event_strategy(), max_size=25))
def test_replaying_any_history_adds_nothing(events: list[LedgerEvent]) -> None:
    """At-least-once: the same events again (the router crashed before its ack) change no row
    and add no evidence."""
    plan = empty_plan().add_all(events)
    rows = (repr(plan.packages), repr(plan.deliveries), len(plan.transitions), len(plan.statuses))
    head = plan.head_seq
    plan.add_all(events)
    assert (repr(plan.packages), repr(plan.deliveries), len(plan.transitions), len(plan.statuses)) == rows
    assert plan.head_seq == head
    assert check_chain(entries(plan)).ok


@settings(max_examples=200, deadline=None)
@given(st.lists(event_strategy(), max_size=25))
def test_terminal_deliveries_stay_terminal(events: list[LedgerEvent]) -> None:
    plan = empty_plan()
    terminal: dict[tuple[str, str], str] = {}
    for event in events:
        plan.add(event)
        for key, row in plan.deliveries.items():
            if key in terminal:
                assert row["state"] == terminal[key]
            elif row["state"] in ("delivered", "rejected"):
                terminal[key] = row["state"]
