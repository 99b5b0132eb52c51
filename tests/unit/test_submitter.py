"""Who may submit as whom (router/pipeline/submitter.py): the on-behalf-of claim counts only
from a configured gateway account, and it reaches intake's retries too."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from router.directory.model import load_directory
from router.pipeline.envelope import Submission
from router.pipeline.failure import Failure, FailureKind
from router.pipeline.intake_recovery import IntakeRecovery
from router.pipeline.recovery import Inbound
from router.pipeline.submitter import AUTHENTICATED_BY, ON_BEHALF_OF, GatewayConfigError, Submitter, SubmitterTrust
from router.settings import PACKAGE_DATA
from router.topology.build import TopologyOptions, build_topology

pytestmark = pytest.mark.unit

DIRECTORY = load_directory(PACKAGE_DATA / "nghe_an.yaml")
TRUST = SubmitterTrust(DIRECTORY, ["lt-gw-api"])


def test_a_gateway_account_submits_as_the_system_it_names() -> None:
    got = TRUST.of("lt-gw-api", {ON_BEHALF_OF: b"tinh-nghean", AUTHENTICATED_BY: "axis-hmac"})
    assert got == Submitter("lt-tinh-nghean", via="lt-gw-api", method="axis-hmac")


def test_a_systems_own_account_cannot_claim_another_system() -> None:
    assert TRUST.of("lt-huyen-thanhchuong", {ON_BEHALF_OF: "tinh-nghean"}) == Submitter("lt-huyen-thanhchuong")


def test_a_gateway_without_a_valid_claim_stays_itself_which_is_no_system() -> None:
    assert TRUST.of("lt-gw-api", {}).user == "lt-gw-api"
    assert TRUST.of("lt-gw-api", {ON_BEHALF_OF: "no-such-system"}).user == "lt-gw-api"
    assert DIRECTORY.system_by_user("lt-gw-api") is None  # so intake refuses it (SENDER_UNKNOWN_SYSTEM)


def test_no_user_id_is_no_submitter() -> None:
    assert TRUST.of(None, {ON_BEHALF_OF: "tinh-nghean"}).user is None


def test_a_gateway_account_may_not_be_a_systems_broker_user() -> None:
    with pytest.raises(GatewayConfigError, match="lt-tinh-nghean"):
        SubmitterTrust(DIRECTORY, ["lt-tinh-nghean"])


def test_intakes_retry_copy_carries_the_claimed_system() -> None:
    topology = build_topology(DIRECTORY, TopologyOptions(prefix="P"))
    recovery = IntakeRecovery(DIRECTORY, topology, hub_users={"lt-hub"}, trust=TRUST)
    inbound = Inbound(b"<edXML/>", {ON_BEHALF_OF: "tinh-nghean"}, "lt-gw-api", "d" * 64, "P.intake",
                      datetime.now(UTC))
    assert recovery.submitter(inbound) == "lt-tinh-nghean"
    decision = recovery.retry(inbound, 1, Failure(FailureKind.LEDGER_BEFORE))
    (copy,) = decision.publishes
    assert Submission.decode(copy.headers).submitted_by == "lt-tinh-nghean"
    # and only the hub's own copies are trusted to carry a submitter
    forged = Inbound(b"<edXML/>", copy.headers, "lt-huyen-thanhchuong", "d" * 64, "P.intake", datetime.now(UTC))
    assert recovery.submitter(forged) == "lt-huyen-thanhchuong"
