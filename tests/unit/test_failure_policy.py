"""The failure policy is one table: every kind, on both stages, at every attempt."""

from __future__ import annotations

import pytest

from router.pipeline.failure import (
    PARK_CODES,
    PARK_TEXTS,
    TRANSIENT,
    Failure,
    FailureKind,
    FailurePolicy,
    Park,
    RetryAfter,
)
from router.pipeline.outcome import Stage
from schemas.findings import Code

pytestmark = pytest.mark.unit

POLICY = FailurePolicy(intake_tiers=2, deliver_tiers=4, original_wait_s=600)
STAGES: tuple[Stage, ...] = (Stage.INTAKE, Stage.DELIVERY)
TIERS = {Stage.INTAKE: 2, Stage.DELIVERY: 4}


def expected(kind: FailureKind, stage: Stage, attempt: int) -> RetryAfter | Code:
    if kind in TRANSIENT:
        return RetryAfter(attempt) if attempt <= TIERS[stage] else PARK_CODES[kind]
    return PARK_CODES[kind]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("kind", sorted(set(FailureKind) - {FailureKind.PARK_PENDING, FailureKind.WAITING_FOR_ORIGINAL}))
def test_every_kind_at_every_attempt(kind: FailureKind, stage: Stage) -> None:
    for attempt in range(1, TIERS[stage] + 3):
        action = POLICY.decide(Failure(kind, "boom"), stage, attempt)
        want = expected(kind, stage, attempt)
        if isinstance(want, RetryAfter):
            assert action == want, (kind, stage, attempt)
        else:
            assert isinstance(action, Park) and action.code is want, (kind, stage, attempt)


def test_outages_are_waited_out_through_every_tier_then_parked_with_a_code() -> None:
    for kind in (FailureKind.LEDGER_UNAVAILABLE, FailureKind.LEDGER_BEFORE, FailureKind.LEDGER_AFTER,
                 FailureKind.VERIFIER_ERROR, FailureKind.PUBLISH_NACKED, FailureKind.HANDLER_CRASHED):
        tiers = [POLICY.decide(Failure(kind), Stage.INTAKE, a) for a in (1, 2)]
        assert tiers == [RetryAfter(1), RetryAfter(2)]
        last = POLICY.decide(Failure(kind), Stage.INTAKE, 3)
        assert isinstance(last, Park) and last.code is Code.HUB_FAILURE


def test_what_no_delay_can_fix_is_parked_at_once() -> None:
    codes = {k: POLICY.decide(Failure(k), Stage.DELIVERY, 1) for k in (
        FailureKind.SINK_PERMANENT, FailureKind.DELIVERY_LIMIT, FailureKind.DEAD_LETTERED,
        FailureKind.PUBLISH_RETURNED, FailureKind.MALFORMED_COPY)}
    assert {k: a.code for k, a in codes.items() if isinstance(a, Park)} == {
        FailureKind.SINK_PERMANENT: Code.DELIVERY_REFUSED, FailureKind.DELIVERY_LIMIT: Code.CRASH_LOOP,
        FailureKind.DEAD_LETTERED: Code.CRASH_LOOP, FailureKind.PUBLISH_RETURNED: Code.HUB_FAILURE,
        FailureKind.MALFORMED_COPY: Code.DELIVERY_FAILED,
    }


def test_a_change_waits_for_its_original_in_tier_one_for_a_bounded_time() -> None:
    wait = FailureKind.WAITING_FOR_ORIGINAL
    for attempt in (1, 5, 50):  # attempts are not what bounds a wait (they are not counted)
        assert POLICY.decide(Failure(wait, waited_s=0), Stage.DELIVERY, attempt) == RetryAfter(1)
        assert POLICY.decide(Failure(wait, waited_s=599.9), Stage.DELIVERY, attempt) == RetryAfter(1)
    late = POLICY.decide(Failure(wait, waited_s=600), Stage.DELIVERY, 1)
    assert isinstance(late, Park) and late.code is Code.ORIGINAL_NOT_DELIVERED


@pytest.mark.parametrize("code", sorted(PARK_TEXTS))
def test_a_pending_park_keeps_its_code_whatever_the_attempt(code: Code) -> None:
    for stage in STAGES:
        action = POLICY.decide(Failure(FailureKind.PARK_PENDING, "x", code=code), stage, 99)
        assert isinstance(action, Park) and action.code is code


def test_clerk_texts_carry_no_detail_and_exist_for_every_park_code() -> None:
    assert set(PARK_CODES.values()) <= set(PARK_TEXTS)
    secret = "OperationalError('/var/lib/x.db: [Errno 13]')"
    for kind in FailureKind:
        action = POLICY.decide(Failure(kind, secret, waited_s=1e9, code=Code.HUB_FAILURE), Stage.DELIVERY, 99)
        assert isinstance(action, Park), kind
        assert action.vi and action.en and secret not in action.vi + action.en
        assert "Errno" not in action.vi + action.en
