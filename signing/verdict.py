"""Frozen verification results: one bottom line per package, the evidence per attachment/signature.

Modelled on pyHanko's status objects (one judgment, the details beside it) but with our own closed
vocabulary, because the router stores the verdict in the ledger, sends it in an AMQP header and
names the sub-reason in a status 02: those consumers must never see a library's exception text as
a code.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote, unquote


class Verdict(StrEnum):
    SIGNED = "SIGNED"  # the competent person AND the organization (Decree 30 Art. 5)
    PARTIALLY_SIGNED = "PARTIALLY_SIGNED"  # only one of the two
    UNSIGNED = "UNSIGNED"
    INVALID = "INVALID"  # some signature present but failing; see Reason


class Reason(StrEnum):
    """Closed set of sub-reasons.  Declaration order is severity: the first one found wins."""

    INTEGRITY = "INTEGRITY"  # signed bytes changed / signature value does not verify
    MODIFIED_AFTER_SIGNING = "MODIFIED_AFTER_SIGNING"  # later revision beyond signatures/form filling
    MALFORMED = "MALFORMED"  # unreadable PDF/ZIP/XML or CMS structure, disallowed algorithm
    REVOKED = "REVOKED"
    UNTRUSTED_CHAIN = "UNTRUSTED_CHAIN"  # no path to a configured root
    KEY_USAGE = "KEY_USAGE"  # neither digitalSignature nor nonRepudiation
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SIGNER_MISMATCH = "SIGNER_MISMATCH"  # signed, but not by SignerInfo/FullName nor by the From organ


class SignerKind(StrEnum):
    PERSONAL = "personal"
    ORGANIZATIONAL = "organizational"
    UNKNOWN = "unknown"


def most_severe(reasons: list[Reason]) -> Reason | None:
    order = list(Reason)
    return min(reasons, key=order.index) if reasons else None


@dataclass(frozen=True)
class SignatureReport:
    """One signature: who, what kind, whether it holds, and if not, why.

    `matches` says whether the signer is the one the package header names (person: SignerInfo/
    FullName, organization: From/OrganId or OrganName); None when there was no header to compare.
    """

    field: str
    signer_subject: str
    organization: str
    issuer: str
    kind: SignerKind
    matches: bool | None
    valid: bool
    reason: Reason | None
    detail: str
    signing_time: dt.datetime | None


@dataclass(frozen=True)
class AttachmentVerdict:
    """`applicable` is False for attachments that are not PDFs (after unwrapping a ZIP): they
    carry no PAdES signature to check and do not count toward the package verdict."""

    content_id: str
    name: str
    declared_type: str
    detected_type: str
    applicable: bool
    verdict: Verdict
    reason: Reason | None
    signatures: tuple[SignatureReport, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PackageVerdict:
    verdict: Verdict
    reason: Reason | None
    attachment: str | None
    attachments: tuple[AttachmentVerdict, ...] = ()
    xml_signature: SignatureReport | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def signed(self) -> bool:
        return self.verdict is Verdict.SIGNED

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[no-any-return]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    def header_value(self) -> str:
        """Compact, ASCII-only (percent-encoded attachment name) for an AMQP header, e.g.
        `INVALID;MODIFIED_AFTER_SIGNING;1234-UBND-KGVX.pdf`.  Parse back with `parse_header_value`."""
        parts = [self.verdict.value, self.reason.value if self.reason else ""]
        parts.append(quote(self.attachment, safe="") if self.attachment else "")
        return ";".join(parts).rstrip(";")


def parse_header_value(value: str) -> tuple[Verdict, Reason | None, str | None]:
    verdict, _, rest = value.partition(";")
    reason, _, attachment = rest.partition(";")
    return Verdict(verdict), Reason(reason) if reason else None, unquote(attachment) if attachment else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value
