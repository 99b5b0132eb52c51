"""The envelope: what the hub learnt about a package, carried beside the untouched body.

The package body is never touched (byte-faithful forwarding); everything the hub adds travels
in AMQP headers named `lt-*`. This module is the only place those names are spelled: intake
writes an `Envelope` once (`to_headers`), every later reader decodes it once (`Envelope.decode`)
and works on typed fields. A copy whose headers do not decode is a named outcome
(`EnvelopeError`), never a half-read dict.

Why one value type: the vocabulary used to be built or read in six places, each with its own
defaults (attempt 0 here, 1 there; recipients split by hand) — a retry or a replay that forgot
one header produced a copy the next stage read differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from router.topology.names import LANE_HEADER, LANES, Lane
from schemas.codes import PackageKind

LANE = LANE_HEADER
DIGEST = "lt-digest"
KIND = "lt-kind"
DOCUMENT_ID = "lt-document-id"
SENDER = "lt-sender"
RECIPIENTS = "lt-recipients"
SYSTEM = "lt-system"
ATTEMPT = "lt-attempt"
DOC_TYPE = "lt-doc-type"
TARGET = "lt-target"
FORWARDED = "lt-forwarded"
VERDICT = "lt-verdict"
PARK_REASON = "lt-park-reason"
PARK_CODE = "lt-park-code"
SUBMITTED_BY = "lt-submitted-by"
PRIORITY = "lt-priority"
#: When the first copy was waiting for its original (ISO instant): bounds the wait.
WAITING_SINCE = "lt-waiting-since"
#: The validation warnings of the package (`CODE path:line; …`), for the recipient's DMS
WARNINGS = "lt-warnings"
#: On a refused (forged) copy kept in `P.unknown`: the broker user that published it
PUBLISHER = "lt-publisher"
#: The body is a claim reference (router/pipeline/claimcheck.py), not the package: its bytes are
#: in the payload store. Trusted on intake only from the hub's own and gateway accounts.
CLAIM = "lt-claim"
#: what `lt-warnings` may take at most; past it the list ends in `… (+N)`
WARNINGS_CHARS = 2000

#: Every header the hub owns; anything else starting with `lt-` on an inbound copy is foreign.
HUB_HEADERS = frozenset({
    LANE, DIGEST, KIND, DOCUMENT_ID, SENDER, RECIPIENTS, SYSTEM, ATTEMPT, DOC_TYPE, TARGET, FORWARDED,
    VERDICT, PARK_REASON, PARK_CODE, SUBMITTED_BY, PRIORITY, WAITING_SINCE, WARNINGS, PUBLISHER, CLAIM,
})


@dataclass(frozen=True, slots=True)
class EnvelopeError:
    """Headers that cannot be read as an envelope (missing digest, system or recipients)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Envelope:
    """One routed copy: for one recipient system, naming the recipients it serves there.

    `attempt` counts delivery attempts (1 = first); `forwarded` maps a requested (dissolved)
    organ to its successor; `park_reason`/`park_code` are set only on parked copies.
    """

    digest: str
    kind: PackageKind
    system: str
    recipients: tuple[str, ...]
    sender: str
    document_id: str
    submitted_by: str
    lane: Lane = "normal"
    attempt: int = 1
    priority: int = 0
    doc_type: int = 0
    target: str | None = None
    forwarded: tuple[tuple[str, str], ...] = ()
    verdict: str | None = None
    park_reason: str | None = None
    park_code: str | None = None
    waiting_since: str | None = None
    #: the package's validation warnings, one `CODE path:line` each (what the DMS is told)
    warnings: tuple[str, ...] = ()
    #: the body is a claim reference; the package is in the payload store
    claim: bool = False

    # -- encode ---------------------------------------------------------------------------------
    def to_headers(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            LANE: self.lane,
            DIGEST: self.digest,
            KIND: self.kind.value,
            DOCUMENT_ID: self.document_id,
            SENDER: self.sender,
            RECIPIENTS: ",".join(self.recipients),
            SYSTEM: self.system,
            ATTEMPT: self.attempt,
            SUBMITTED_BY: self.submitted_by,
            PRIORITY: self.priority,
        }
        if self.kind is PackageKind.EDOC:
            out[DOC_TYPE] = self.doc_type
        optional = {
            TARGET: self.target,
            FORWARDED: ";".join(f"{a}>{b}" for a, b in self.forwarded) or None,
            VERDICT: self.verdict,
            PARK_REASON: self.park_reason,
            PARK_CODE: self.park_code,
            WAITING_SINCE: self.waiting_since,
            WARNINGS: _bounded_list(self.warnings, WARNINGS_CHARS),
            CLAIM: "1" if self.claim else None,
        }
        out.update({k: v for k, v in optional.items() if v})
        return out

    @property
    def message_id(self) -> str:
        """A meaningful AMQP message_id: which package, for which system, which attempt."""
        return f"{self.digest}.{self.system}.{self.attempt}"

    def as_text(self) -> dict[str, str]:
        """The headers as plain strings, for sinks that show them to a DMS (metadata files)."""
        return {k: str(v) for k, v in self.to_headers().items()}

    # -- transitions ----------------------------------------------------------------------------
    def next_attempt(self) -> Envelope:
        return replace(self, attempt=self.attempt + 1)

    def parked(self, code: str, reason: str) -> Envelope:
        return replace(self, park_code=code, park_reason=reason)

    def replayed(self) -> Envelope:
        """Out of the parked queue for a fresh start: attempts reset, park marks gone."""
        return replace(self, attempt=1, park_code=None, park_reason=None, waiting_since=None)

    def only(self, recipients: tuple[str, ...]) -> Envelope:
        return replace(self, recipients=recipients)

    # -- decode ---------------------------------------------------------------------------------
    @classmethod
    def decode(cls, headers: Mapping[str, Any] | None) -> Envelope | EnvelopeError:
        h = headers or {}
        digest, system = _text(h, DIGEST), _text(h, SYSTEM)
        recipients = tuple(r for r in _text(h, RECIPIENTS).split(",") if r)
        if not digest or not system or not recipients:
            missing = [n for n, v in ((DIGEST, digest), (SYSTEM, system), (RECIPIENTS, recipients)) if not v]
            return EnvelopeError(f"routing headers missing: {', '.join(missing)}")
        try:
            kind = PackageKind(_text(h, KIND) or PackageKind.EDOC.value)
        except ValueError:
            return EnvelopeError(f"unknown {KIND} {_text(h, KIND)!r}")
        lane_text = _text(h, LANE) or "normal"
        lane: Lane = "urgent" if lane_text == "urgent" else "normal"
        if lane_text not in LANES:
            return EnvelopeError(f"unknown {LANE} {lane_text!r}")
        forwarded = tuple(
            (a, b) for a, _, b in (p.partition(">") for p in _text(h, FORWARDED).split(";") if p) if b
        )
        return cls(
            digest=digest, kind=kind, system=system, recipients=recipients, sender=_text(h, SENDER),
            document_id=_text(h, DOCUMENT_ID), submitted_by=_text(h, SUBMITTED_BY), lane=lane,
            attempt=max(1, _integer(h, ATTEMPT, 1)), priority=_integer(h, PRIORITY, 0),
            doc_type=_integer(h, DOC_TYPE, 0), target=_text(h, TARGET) or None, forwarded=forwarded,
            verdict=_text(h, VERDICT) or None, park_reason=_text(h, PARK_REASON) or None,
            park_code=_text(h, PARK_CODE) or None, waiting_since=_text(h, WAITING_SINCE) or None,
            warnings=tuple(w for w in _text(h, WARNINGS).split("; ") if w), claim=bool(_text(h, CLAIM)),
        )


def _bounded_list(items: tuple[str, ...], limit: int) -> str | None:
    """`a; b; c` within `limit` characters; what does not fit is counted: `a; b; … (+1)`."""
    whole = "; ".join(items)
    if len(whole) <= limit:
        return whole or None
    out: list[str] = []
    used = 0
    for i, item in enumerate(items):
        tail = f"… (+{len(items) - i - 1})"  # what follows if this item is the last one kept
        if used + len(item) + 2 + len(tail) + (2 if out else 0) > limit:
            break
        out.append(item)
        used += len(item) + (2 if len(out) > 1 else 0)
    out.append(f"… (+{len(items) - len(out)})")
    return "; ".join(out)


def _text(headers: Mapping[str, Any], name: str) -> str:
    value = headers.get(name)
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _integer(headers: Mapping[str, Any], name: str, default: int) -> int:
    try:
        return int(_text(headers, name) or default)
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class Submission:
    """A submitted package on its way back into intake (a retry, a replay, a pending park).

    The hub re-publishes what a system submitted; it cannot carry the system's AMQP `user_id`
    (the broker checks it against the publishing connection's user), so the submitter travels
    here as `submitted_by` (the system's broker user). Trusted only on a copy whose own
    `user_id` is the hub's (router/TOPOLOGY.md, "Who submitted a retried package").
    """

    submitted_by: str
    attempt: int = 1
    park_code: str | None = None
    park_reason: str | None = None
    #: the body is a claim reference (kept on every retry and replay of a claim-checked package)
    claim: bool = False

    def to_headers(self) -> dict[str, Any]:
        out: dict[str, Any] = {SUBMITTED_BY: self.submitted_by, ATTEMPT: self.attempt}
        out.update({k: v for k, v in ((PARK_CODE, self.park_code), (PARK_REASON, self.park_reason),
                                      (CLAIM, "1" if self.claim else None)) if v})
        return out

    def next_attempt(self) -> Submission:
        return replace(self, attempt=self.attempt + 1)

    def parked(self, code: str, reason: str) -> Submission:
        return replace(self, park_code=code, park_reason=reason)

    def replayed(self) -> Submission:
        return replace(self, attempt=1, park_code=None, park_reason=None)

    @classmethod
    def decode(cls, headers: Mapping[str, Any] | None) -> Submission:
        h = headers or {}
        return cls(submitted_by=_text(h, SUBMITTED_BY), attempt=max(1, _integer(h, ATTEMPT, 1)),
                   park_code=_text(h, PARK_CODE) or None, park_reason=_text(h, PARK_REASON) or None,
                   claim=bool(_text(h, CLAIM)))

