"""The verification stage: signing's verdict, the submitting system's policy, the router's outcome.

Verification runs in signing's process pool (pyhanko is CPU-bound under the GIL), so the
intake worker thread waits on a future while both cores work. A broken pool raises: the
runtime requeues the package (infrastructure trouble is never a rejection of the sender).
"""

from __future__ import annotations

from collections.abc import Mapping

from router.ledger.events import VerdictRecorded
from router.pipeline.signatures import SignatureOutcome
from schemas.findings import Code
from schemas.parse import ParsedPackage
from signing.inputs import facts_from_parsed
from signing.policy import Action, Policy, decide
from signing.stage import VerificationStage
from signing.verdict import Verdict


class SigningCheck:
    def __init__(self, stage: VerificationStage, policies: Mapping[str, str], timeout_s: float = 120.0) -> None:
        self.stage = stage
        self.default = Policy(policies.get("default", "off"))
        self.policies = {k: Policy(v) for k, v in policies.items() if k != "default"}
        self.timeout_s = timeout_s

    def policy_for(self, system_id: str) -> Policy:
        return self.policies.get(system_id, self.default)

    def check(self, body: bytes, parsed: ParsedPackage, system_id: str) -> SignatureOutcome:
        policy = self.policy_for(system_id)
        if policy is Policy.OFF or parsed.kind != "edoc":
            return SignatureOutcome()
        verified = self.stage.submit(body, facts_from_parsed(parsed)).result(timeout=self.timeout_s)
        verdict, cache = verified.verdict, (verified.cache.hits, verified.cache.misses)
        decision = decide(verdict, policy)
        event = VerdictRecorded(
            parsed.digest, verdict.verdict.value, verdict.reason.value if verdict.reason else None,
            verdict.attachment, verdict.to_json(),
        )
        if decision.action is Action.REJECT:
            code = Code.SIGNATURE_MISSING if verdict.verdict is Verdict.UNSIGNED else Code.SIGNATURE_INVALID
            return SignatureOutcome(reject=True, code=code, vi=decision.message_vi, en=decision.message_en,
                                    header=verdict.header_value(), events=(event,), chain_cache=cache)
        warning = decision.message if decision.action is Action.ACCEPT_WITH_WARNING else None
        return SignatureOutcome(header=verdict.header_value(), warning=warning, events=(event,), chain_cache=cache)

    def close(self) -> None:
        self.stage.close()
