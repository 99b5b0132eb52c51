"""Status packages the hub emits itself: rejections at intake, failed deliveries.

The Description starts with the reason code in brackets, so a sender's DMS (or a person) can
act on it without parsing prose: `[UNKNOWN_RECIPIENT] Nơi nhận … / recipient …`. One builder
serves the route and delivery stages: the status, its publish to the destination system's
exchange, and the ledger events that make it show up in `trace` like any other status.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from router.ledger.events import LedgerEvent, PackageReceived, Routed, StatusRecorded
from router.pipeline.decisions import Publish
from router.pipeline.envelope import Envelope
from router.topology.names import Names
from schemas.codes import PackageKind, StatusCode
from schemas.findings import Code
from schemas.models import Organization, ResponseFor, StaffInfo, StatusHeader, StatusPackage
from schemas.policy import VIETNAM, VIETNAM_OFFSET
from schemas.render import render_status

HUB_SUBMITTER = "lienthong"

#: Signs a rendered status package (XML-DSig, the hub's key); None when no key is configured.
StatusSigner = Callable[[bytes], bytes]


def rejection_status(
    *,
    reporter: str,
    reporter_name: str,
    about_organ: str,
    about_document_id: str,
    about_code: str,
    about_date: date | None,
    code: Code,
    message: str,
    at: datetime,
    hub_name: str,
    sign: StatusSigner | None = None,
) -> tuple[StatusPackage, bytes]:
    """A status 02 (từ chối tiếp nhận) from `reporter` to the sender `about_organ`.

    `at` is the moment of the decision in UTC; the package carries Vietnam local time, as the
    standard's zone-less timestamps do. Deterministic for the same inputs, so re-sending the
    outcome of an exact duplicate yields the same bytes (and the sink recognises them).
    """
    local = (at + VIETNAM_OFFSET).replace(tzinfo=None, microsecond=0)
    pkg = StatusPackage(
        header=StatusHeader(
            from_=Organization(organ_id=reporter, organ_name=reporter_name),
            response_for=ResponseFor(
                organ_id=about_organ,
                code=about_code or "-",
                promulgation_date=about_date or local.date(),
                document_id=about_document_id or "-",
            ),
            staff_info=StaffInfo(department=hub_name, staff=HUB_SUBMITTER),
            status_code=StatusCode.REJECTED,
            description=f"[{code.value}] {message}",
            timestamp=local,
        )
    )
    body = render_status(pkg)
    return pkg, sign(body) if sign is not None else body


@dataclass(frozen=True, slots=True)
class HubStatus:
    """A status the hub emits, ready for a Decision: publish it, record it, then mark it routed."""

    publish: Publish
    before: tuple[LedgerEvent, ...]
    after: tuple[LedgerEvent, ...]


def hub_status(
    names: Names,
    *,
    dest_system: str,
    reporter: str,
    reporter_name: str,
    about_organ: str,
    about_document_id: str,
    about_code: str,
    about_date: date | None,
    code: Code,
    message: str,
    at: datetime,
    hub_name: str,
    sign: StatusSigner | None = None,
) -> HubStatus:
    """Straight to the destination system's exchange: the system is known even when the
    package's own From is forged or unknown, so the level exchanges are not needed."""
    status, body = rejection_status(
        reporter=reporter, reporter_name=reporter_name, about_organ=about_organ,
        about_document_id=about_document_id, about_code=about_code, about_date=about_date,
        code=code, message=message, at=at, hub_name=hub_name, sign=sign,
    )
    digest = hashlib.sha256(body).hexdigest()
    doc_id = about_document_id or "-"
    envelope = Envelope(
        digest=digest, kind=PackageKind.STATUS, system=dest_system, recipients=(about_organ,), sender=reporter,
        document_id=doc_id, submitted_by=HUB_SUBMITTER,
    )
    before: tuple[LedgerEvent, ...] = (
        PackageReceived(
            digest=digest, kind=PackageKind.STATUS, from_organ=reporter, submitted_by=HUB_SUBMITTER,
            document_id=doc_id, recipients=(about_organ,), at=at,
        ),
        StatusRecorded(
            document_id=doc_id, reporter_organ=reporter, about_organ=about_organ, status_code="02",
            description=status.header.description, staff=HUB_SUBMITTER,
            reported_at=status.header.timestamp.replace(tzinfo=VIETNAM), digest=digest, at=at,
        ),
    )
    return HubStatus(
        Publish(names.system_exchange(dest_system), "", body, envelope.to_headers(), message_id=envelope.message_id),
        before,
        (Routed(digest, about_organ, dest_system, at=at),),
    )
