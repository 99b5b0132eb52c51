"""The verification stage's hook: the router asks, a policy answers accept/warn/reject.

Kept as a protocol so the router does not care whether verification is off, in-process or in
a process pool (signing.stage), and tests can run the pipeline with any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from router.ledger.events import LedgerEvent
from schemas.findings import Code
from schemas.parse import ParsedPackage


@dataclass(frozen=True, slots=True)
class SignatureOutcome:
    reject: bool = False
    code: Code | None = None
    #: Why it was refused, for the sender's clerk (vi) and integrator (en).
    vi: str = ""
    en: str = ""
    header: str | None = None  # compact verdict for the recipient (AMQP header lt-verdict)
    warning: str | None = None
    events: tuple[LedgerEvent, ...] = ()
    #: certificate-path cache lookups of this package in the verifying worker (hits, misses),
    #: carried to the StageOutcome for the runtime to count
    chain_cache: tuple[int, int] = (0, 0)


class SignatureCheck(Protocol):
    def check(self, body: bytes, parsed: ParsedPackage, system_id: str) -> SignatureOutcome: ...

    def close(self) -> None: ...


class NoSignatureCheck:
    """Policy `off` for every system."""

    def check(self, body: bytes, parsed: ParsedPackage, system_id: str) -> SignatureOutcome:
        return SignatureOutcome()

    def close(self) -> None:
        return None
