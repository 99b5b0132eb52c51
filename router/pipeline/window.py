"""Work per prefetch window: what the messages a worker takes at once need from the ledger,
read in one query for all of them instead of one or two per message (issue 12, item 1).

Why this is safe — the guarantees are those of the per-message path:

* Reads are snapshots either way. Per message, a read made while another worker's events
  still wait in the group commit does not see them; a window read is the same snapshot taken
  a little earlier. What makes the outcome right is unchanged: copies with the same key
  (system, digest) are never in one window nor worked on at once (the runtime's copy rule
  waits for the first to be settled and committed, router/amqp/consumer.py), and the ledger's
  unique index on an accepted (From, DocumentId) fails the commit of a second holder.
* Inside one window the route stage goes further than the per-message path: a new document
  the window already accepted holds its (From, DocumentId) for the window's later packages, so
  a second, different package with the same DocumentId is refused `DUPLICATE_CONFLICT` at once
  instead of failing its commit, being requeued and refused on redelivery.
* Nothing but reads is done ahead: each message is still decided, published, confirmed,
  recorded and settled on its own, so a message that fails fails alone. A window that cannot
  be read (the ledger down) is simply not used: each message then reads for itself, and meets
  the failure on its own path.

Validation is done ahead too, because the route stage's key (From, DocumentId) is in the
package: the window holds each submission's report until its message is decided, and closes
what was never asked for (attachment spools).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from adapters.payloadstore import ClaimReference
from router.ledger.events import Outcome
from router.ledger.rows import DeliveryRow, PackageRow
from router.pipeline.decisions import Decision
from schemas.codes import BussinessDocType, PackageKind
from schemas.parse import ValidationReport


class Window(Protocol):
    """What the runtime holds for the messages it handed one worker at once."""

    def close(self) -> None: ...


@dataclass
class Validated:
    """A submission read and validated (from the body, or from the payload store for a claim
    reference), not yet decided."""

    digest: str
    report: ValidationReport
    claim: ClaimReference | None = None

    def close(self) -> None:
        if self.report.parsed is not None:
            self.report.parsed.close()


@dataclass(frozen=True, slots=True)
class Submission:
    """One message of an intake window, as the route stage reads it: `key` is the runtime's
    handle on the message (the stage's `process` is given it back), `user_id` the submitter the
    recovery established, `claim` whether the body is a reference intake may follow."""

    key: Hashable
    body: bytes
    user_id: str | None
    digest: str
    claim: bool = False


#: a submission that could not even be read (a claim reference to a missing payload): its
#: decision is already made
Read = Validated | Decision
Known = tuple[PackageRow | None, PackageRow | None]


@dataclass
class IntakeWindow:
    """The route stage's window: each submission's validation, keyed by the runtime's handle on
    its message, and the ledger's answer to (package by digest, holder of
    (From, DocumentId)) for all of them, from one query."""

    reads: dict[Hashable, Read]
    #: by package digest; a digest twice in one window is left out (each copy reads for itself)
    known: Mapping[str, Known]
    #: (From, DocumentId) → the new document this window accepted for it, and when
    accepted: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)

    def take(self, key: Hashable) -> Read | None:
        """The submission's read, handed over once (the caller closes it)."""
        return self.reads.pop(key, None)

    def lookup(self, digest: str, sender: str | None, document_id: str | None) -> Known | None:
        """The ledger's answer as of the window's read, with the window's own acceptances
        holding their DocumentId; None: not read for this window (the stage reads itself)."""
        if digest not in self.known:
            return None
        prior, holder = self.known[digest]
        if sender is not None and document_id is not None:
            taken = self.accepted.get((sender, document_id))
            if taken is not None and taken[0] != digest and (holder is None or holder.outcome is not Outcome.ACCEPTED):
                return prior, _holding(taken[0], sender, document_id, taken[1])
        return prior, holder

    def accept(self, sender: str, document_id: str, digest: str, at: datetime) -> None:
        """A new document of this window was accepted: it holds (From, DocumentId) from now on."""
        self.accepted.setdefault((sender, document_id), (digest, at))

    def close(self) -> None:
        for read in self.reads.values():
            if isinstance(read, Validated):
                read.close()
        self.reads.clear()


@dataclass(frozen=True)
class DeliveryWindow:
    """The delivery stage's window: the packages and the delivery rows of every copy's digest,
    from two queries (the forged-copy check and "already delivered?")."""

    digests: frozenset[str]
    packages: Mapping[str, PackageRow]
    deliveries: Mapping[tuple[str, str], DeliveryRow]

    def covers(self, digest: str) -> bool:
        return digest in self.digests

    def close(self) -> None:
        """Nothing held but rows."""


def _holding(digest: str, sender: str, document_id: str, at: datetime) -> PackageRow:
    """The row an acceptance earlier in this window will write, as far as de-duplication reads
    it (accepted, holding (From, DocumentId))."""
    return PackageRow(
        digest=digest, kind=PackageKind.EDOC, document_id=document_id, from_organ=sender, submitted_by=None,
        bussiness_doc_type=BussinessDocType.NEW, target_document_id=None, subject=None, priority=None,
        due_date=None, promulgation_date=None, received_at=at,
        outcome=Outcome.ACCEPTED, reason_code=None, message=None, duplicates_absorbed=0, last_duplicate_at=None,
    )
