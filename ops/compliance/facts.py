"""What the compliance figures need to know about one sent document, as read from the ledger.

Plain values, so the figures are a pure function of them (and of the calendar and rules) and the
reader that fills them (router/ledger/compliance.py) is the only part that knows the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class SignState(StrEnum):
    """The document's signature verdict as the figures count it (signing/verdict.py)."""

    SIGNED = "SIGNED"
    PARTIALLY_SIGNED = "PARTIALLY_SIGNED"
    UNSIGNED = "UNSIGNED"  # no signature
    INVALID = "INVALID"  # a signature that fails
    UNVERIFIED = "UNVERIFIED"  # no verdict recorded (verification off for this sender)


@dataclass(frozen=True, slots=True)
class Receipt:
    """One recipient's side: when the hub delivered it, and the first 01/03, 02 and 06 that
    recipient reported about it (each the hub's receipt time of the status package)."""

    organ: str
    system_id: str | None
    delivered_at: datetime | None
    first_ack_at: datetime | None  # 01 (arrived) or 03 (accepted), whichever came first
    refused_at: datetime | None  # 02
    done_at: datetime | None  # 06


@dataclass(frozen=True, slots=True)
class SentDocument:
    digest: str
    document_id: str
    from_organ: str
    system_id: str | None  # the submitting system
    received_at: datetime  # the hub's receipt time: the sending time
    due_date: date | None
    promulgation_date: date | None
    sign_state: SignState
    signed_at: datetime | None  # the latest signing time in the verdict report, if any
    receipts: tuple[Receipt, ...]
    document_type: str | None = None  # DocumentType/TypeName as sent (None in ledgers older than it)
