"""What carrying out a failure decision means, per stage, as Decisions (no broker needed)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from router.ledger.events import PackageParked, Parked, Retrying
from router.pipeline.delivery_recovery import DeliveryRecovery
from router.pipeline.envelope import Envelope, Submission
from router.pipeline.failure import Failure, FailureKind, park_for
from router.pipeline.intake_recovery import IntakeRecovery
from router.pipeline.outcome import Result
from router.pipeline.recovery import Inbound
from router.settings import HUB_ORGAN
from router.topology.build import TopologyOptions, build_topology
from schemas.codes import PackageKind, StatusCode
from schemas.findings import Code
from schemas.models import StatusHeader, StatusPackage
from schemas.parse import parse_package
from tests.support.hub import test_directory as directory_for
from tests.support.packages import document_id, make_edoc

pytestmark = pytest.mark.unit

DIRECTORY = directory_for("u")
TOPOLOGY = build_topology(DIRECTORY, TopologyOptions(prefix="u", retry_delays_s=(1, 2, 3),
                                                     intake_retry_delays_s=(5, 10)))
N = TOPOLOGY.names
HUB = "hub-user"
SYSTEM_USER = DIRECTORY.systems["tinh-nghean"].broker_user
BODY = make_edoc("000.00.00.H41", ["000.00.13.H41"], 7)
DIGEST = hashlib.sha256(BODY).hexdigest()
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

INTAKE = IntakeRecovery(DIRECTORY, TOPOLOGY, hub_users={HUB})
DELIVERY = DeliveryRecovery(DIRECTORY, TOPOLOGY)


def hub_notice(body: bytes) -> StatusHeader:
    pkg = parse_package(body).package
    assert isinstance(pkg, StatusPackage)
    return pkg.header


def inbound(headers: dict[str, object], user: str | None = SYSTEM_USER, queue: str = "q") -> Inbound:
    return Inbound(BODY, headers, user, DIGEST, queue, AT)


def test_intake_retry_carries_the_submitter_and_counts_the_attempt() -> None:
    first = INTAKE.retry(inbound({}, queue=N.intake_queue), 1, Failure(FailureKind.LEDGER_UNAVAILABLE))
    [copy] = first.publishes
    assert (copy.exchange, copy.routing_key) == ("", N.intake_retry_queue(1))
    assert Submission.decode(copy.headers) == Submission(SYSTEM_USER, attempt=2)
    assert not first.before and not first.after
    back = inbound(dict(copy.headers), user=HUB, queue=N.intake_retried)  # the hub's own copy, back
    assert INTAKE.submitter(back) == SYSTEM_USER and INTAKE.attempt(back) == 2


def test_intake_trusts_the_submitter_header_only_on_the_hubs_own_copies() -> None:
    forged = inbound(Submission("someone-else", attempt=9).to_headers(), user=SYSTEM_USER, queue=N.intake_retried)
    assert INTAKE.submitter(forged) == SYSTEM_USER  # a system cannot name another submitter
    assert INTAKE.attempt(forged) == 1
    assert INTAKE.inbound_failure(inbound(Submission("x").parked("CRASH_LOOP", "r").to_headers())) is None


def test_intake_park_records_the_submitter_document_and_tells_the_sender() -> None:
    park = park_for(Code.HUB_FAILURE)
    decision = INTAKE.park(inbound({}), park, Failure(FailureKind.VERIFIER_ERROR, "RuntimeError('/etc/x')"))
    record = decision.before[0]
    assert isinstance(record, PackageParked)
    assert (record.submitted_by, record.reason_code, record.document_id, record.from_organ) == (
        "tinh-nghean", "HUB_FAILURE", document_id("000.00.00.H41", 7), "000.00.00.H41")
    parked, status = decision.publishes
    assert parked.routing_key == N.intake_parked
    assert Submission.decode(parked.headers).park_code == "HUB_FAILURE"
    assert status.exchange == N.system_exchange("tinh-nghean")
    assert b"/etc/x" not in status.body and b"[HUB_FAILURE]" in status.body
    notice = hub_notice(status.body)  # the hub holds it: its own 05, not a refusal
    assert notice.from_.organ_id == HUB_ORGAN and notice.status_code is StatusCode.PROCESSING
    assert decision.outcome is not None and decision.outcome.result is Result.PARKED
    assert decision.reply["outcome"] == "parked" and decision.reply["code"] == "HUB_FAILURE"


def test_intake_dead_letters_are_parked_without_parsing_again() -> None:
    headers = {"x-death": [{"reason": "delivery_limit", "queue": N.intake_queue, "count": 1}]}
    failure = INTAKE.inbound_failure(inbound(headers, queue=N.intake_dead))
    assert failure is not None and failure.kind is FailureKind.DELIVERY_LIMIT
    decision = INTAKE.park(inbound(headers, queue=N.intake_dead), park_for(Code.CRASH_LOOP), failure)
    record = decision.before[0]
    assert isinstance(record, PackageParked) and record.document_id is None and record.submitted_by == "tinh-nghean"


def test_a_park_that_cannot_be_recorded_waits_in_the_last_tier_marked_pending() -> None:
    later = INTAKE.park_later(inbound({}), park_for(Code.HUB_FAILURE))
    [copy] = later.publishes
    assert copy.routing_key == N.intake_retry_queue(2) and not later.before
    pending = INTAKE.inbound_failure(inbound(dict(copy.headers), user=HUB, queue=N.intake_retried))
    assert pending is not None and pending.kind is FailureKind.PARK_PENDING and pending.code is Code.HUB_FAILURE


ENV = Envelope(digest=DIGEST, kind=PackageKind.EDOC, system="tinh-nghean", recipients=("000.00.13.H41",),
               sender="000.00.00.H41", document_id=document_id("000.00.00.H41", 7), submitted_by="tinh-nghean")


def test_delivery_retry_counts_attempts_but_a_wait_for_the_original_does_not() -> None:
    retry = DELIVERY.retry(inbound(ENV.to_headers()), 2, Failure(FailureKind.SINK_TRANSIENT, "busy"))
    assert retry.publishes[0].routing_key == N.retry_queue("tinh-nghean", 2)
    assert Envelope.decode(retry.publishes[0].headers).attempt == 2  # type: ignore[union-attr]
    assert [type(e) for e in retry.after] == [Retrying] and not retry.before  # best effort, after the confirm
    assert retry.outcome is not None and (retry.outcome.result, retry.outcome.tier_s) == (Result.RETRYING, 2)
    wait = Failure(FailureKind.WAITING_FOR_ORIGINAL)
    first = DELIVERY.retry(inbound(ENV.to_headers()), 1, wait)
    env = Envelope.decode(first.publishes[0].headers)
    assert env.attempt == 1 and env.waiting_since == AT.isoformat()  # type: ignore[union-attr]
    lap = DELIVERY.retry(inbound(dict(first.publishes[0].headers)), 1, wait)
    assert Envelope.decode(lap.publishes[0].headers).waiting_since == AT.isoformat()  # type: ignore[union-attr]
    assert not lap.after  # one record per wait, not one per lap


def test_delivery_park_records_tells_the_sender_and_keeps_detail_out_of_the_status() -> None:
    failure = Failure(FailureKind.SINK_TRANSIENT, "cannot write /srv/in/x: [Errno 28]")
    decision = DELIVERY.park(inbound(ENV.to_headers()), park_for(Code.DELIVERY_FAILED), failure)
    assert isinstance(decision.before[0], Parked) and "Errno 28" in decision.before[0].reason  # the operator's
    parked, status = decision.publishes
    assert parked.routing_key == N.parked_queue("tinh-nghean")
    assert b"Errno" not in status.body and b"/srv/" not in status.body and b"[DELIVERY_FAILED]" in status.body
    notice = hub_notice(status.body)  # the hub's transport notice, never a 02 in the recipient's name
    assert notice.from_.organ_id == HUB_ORGAN != "000.00.13.H41" and notice.status_code is StatusCode.PROCESSING
    assert "000.00.13.H41" in notice.description
    assert decision.outcome is not None and decision.outcome.result is Result.PARKED
    assert decision.outcome.code == "DELIVERY_FAILED" and decision.reply == {}  # a copy has no submitter
    quiet = DELIVERY.park(inbound(ENV.to_headers()), park_for(Code.DELIVERY_FAILED),
                          Failure(FailureKind.MALFORMED_COPY, "digest"))
    assert len(quiet.publishes) == 1  # a damaged copy: nobody to tell reliably


def test_delivery_dead_letters_and_pending_parks_are_read_off_the_message() -> None:
    dead = DELIVERY.inbound_failure(inbound({**ENV.to_headers(), "x-death": [{"reason": "expired"}]},
                                            queue=N.deliver_dead))
    assert dead is not None and dead.kind is FailureKind.DEAD_LETTERED
    refused = DELIVERY.inbound_failure(inbound({**ENV.to_headers(), "x-death": [{"reason": "rejected"}]},
                                               queue=N.deliver_dead))
    assert refused is not None and refused.kind is FailureKind.SINK_PERMANENT  # a direct-AMQP system refused it
    marked = ENV.parked("CRASH_LOOP", "held").to_headers()
    pending = DELIVERY.inbound_failure(inbound(marked))
    assert pending is not None and pending.kind is FailureKind.PARK_PENDING and pending.code is Code.CRASH_LOOP
    assert DELIVERY.inbound_failure(inbound(ENV.to_headers())) is None
