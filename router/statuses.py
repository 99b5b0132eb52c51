"""Status packages the hub emits itself: rejections at intake, failed deliveries.

The Description starts with the reason code in brackets, so a sender's DMS (or a person) can
act on it without parsing prose: `[UNKNOWN_RECIPIENT] Nơi nhận … / recipient …`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from schemas.codes import StatusCode
from schemas.findings import Code
from schemas.models import Organization, ResponseFor, StaffInfo, StatusHeader, StatusPackage
from schemas.render import render_status

VIETNAM = timedelta(hours=7)

#: Signs a rendered status package (XML-DSig, the hub's key); None when no key is configured.
StatusSigner = Callable[[bytes], bytes]


def rejection_status(
    *,
    reporter: str,
    reporter_name: str,
    about_organ: str,
    about_document_id: str,
    about_code: str,
    about_date: datetime | None,
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
    local = (at + VIETNAM).replace(tzinfo=None, microsecond=0)
    pkg = StatusPackage(
        header=StatusHeader(
            from_=Organization(organ_id=reporter, organ_name=reporter_name),
            response_for=ResponseFor(
                organ_id=about_organ,
                code=about_code or "-",
                promulgation_date=(about_date or local).date(),
                document_id=about_document_id or "-",
            ),
            staff_info=StaffInfo(department=hub_name, staff="lienthong"),
            status_code=StatusCode.REJECTED,
            description=f"[{code.value}] {message}",
            timestamp=local,
        )
    )
    body = render_status(pkg)
    return pkg, sign(body) if sign is not None else body
