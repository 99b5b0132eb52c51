"""Status packages the hub emits itself, always in its own name.

Why its own name: a status speaks for whoever is in From. The hub used to report a failed
delivery as status 02 from the *recipient* — a business refusal the recipient never made — and
package-level refusals as the province's People's Committee. Now every status the hub creates
comes from `HubIdentity` (LIENTHONG_HUB_ORGAN / LIENTHONG_HUB_NAME), names the hub in
StaffInfo, and says in its Description that it is the hub's. What it may say (domain.md §2.2–2.3):

* refused at intake → 02 Từ chối tiếp nhận: the hub itself refused to take the package in;
* parked (could not deliver, held for an operator) → 05 Đang xử lý: transport state, not a
  refusal by anyone — the hub still holds the package and its operator is handling it;
* delivered after such a notice → 01 Đã đến: the package reached the recipient's system;
  it supersedes the hub's earlier 05 (retries are not announced: `trace` shows them).

The Description starts with the reason code in brackets, so a sender's DMS (or a person) can
act on it without parsing prose: `[UNKNOWN_RECIPIENT] Trục liên thông từ chối tiếp nhận: …`.
The texts are clerk-readable, vi and en kept apart until rendered; operator detail (paths,
errno, exception text) never goes in — it is logged. One builder serves both stages: the
status, its publish to the destination system's exchange, and the ledger events that make it
show up in `trace` like any other status.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from router.directory.model import Directory
from router.ledger.events import LedgerEvent, PackageReceived, Routed, StatusRecorded
from router.pipeline.decisions import Publish
from router.pipeline.envelope import Envelope
from router.pipeline.failure import Park
from router.settings import HUB_NAME, HUB_ORGAN
from router.topology.names import Names
from schemas.codes import PackageKind, StatusCode
from schemas.findings import Code
from schemas.models import Organization, ResponseFor, StaffInfo, StatusHeader, StatusPackage
from schemas.organ import OrganId
from schemas.policy import VIETNAM, VIETNAM_OFFSET
from schemas.render import render_status

HUB_SUBMITTER = "lienthong"

#: Signs a rendered status package (XML-DSig, the hub's key); None when no key is configured.
StatusSigner = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class HubIdentity:
    """The organ the hub speaks as: its own code and name, never a recipient's or the
    province's. Invalid codes are refused at start (a status with a bad From is refused
    by every DMS)."""

    organ: str
    name: str

    def __post_init__(self) -> None:
        if not OrganId.is_valid(self.organ):
            raise ValueError(f"hub organ {self.organ!r} is not an organ code LLL.KK.JJ.XNN (LIENTHONG_HUB_ORGAN)")


class NoticeKind(Enum):
    """What the hub may say, and with which status code (see the module docstring)."""

    REFUSED = (StatusCode.REJECTED, "Trục liên thông từ chối tiếp nhận: ", "Refused by the hub: ")
    HELD = (StatusCode.PROCESSING, "Thông báo vận chuyển của trục liên thông: ", "Hub transport notice: ")
    DELIVERED = (StatusCode.ARRIVED, "Thông báo vận chuyển của trục liên thông: ", "Hub transport notice: ")

    @property
    def status(self) -> StatusCode:
        return self.value[0]


@dataclass(frozen=True, slots=True)
class Notice:
    """A clerk-readable notice: a reason code and its text in Vietnamese and English."""

    kind: NoticeKind
    code: Code | None
    vi: str
    en: str

    @property
    def description(self) -> str:
        _, vi_lead, en_lead = self.kind.value
        text = f"{vi_lead}{self.vi} / {en_lead}{self.en}"
        return f"[{self.code.value}] {text}" if self.code is not None else text


@dataclass(frozen=True, slots=True)
class About:
    """The document a status is about (ResponseFor)."""

    organ: str
    document_id: str
    code: str = "-"
    promulgation_date: date | None = None


def organ_label(directory: Directory, organ: str) -> str:
    """How a clerk reads an organ: its name from the directory and its code."""
    found = directory.organ(organ) if OrganId.is_valid(organ) else None
    return f"{found.name} ({organ})" if found is not None else organ


def held_notice(park: Park, who: str) -> Notice:
    """A copy parked for the operator: the policy's clerk text for its reason code, naming the
    recipient (`who`, see `organ_label`), without the sink's error (that is in the log and the
    ledger's reason)."""
    return Notice(
        NoticeKind.HELD, park.code,
        f"chưa chuyển được văn bản tới {who}: {park.vi}; trục đang giữ văn bản để quản trị trục xử lý",
        f"the document could not be delivered to {who} yet: {park.en}; the hub holds it for its operator",
    )


def held_package_notice(park: Park) -> Notice:
    """A submitted package parked at intake (before routing): the hub holds it, no recipient yet."""
    return Notice(
        NoticeKind.HELD, park.code,
        f"gói tin chưa được xử lý xong: {park.vi}; trục đang giữ gói tin để quản trị trục xử lý",
        f"the package has not been processed yet: {park.en}; the hub holds it for its operator",
    )


def delivered_notice(who: str) -> Notice:
    """After a held notice: the copy reached the recipient's system after all."""
    return Notice(
        NoticeKind.DELIVERED, None,
        f"văn bản đã được chuyển tới hệ thống của {who} (thay cho thông báo tạm giữ trước đó)",
        f"the document has been delivered to the system of {who} (supersedes the earlier hold notice)",
    )


def notice_status(
    hub: HubIdentity, about: About, notice: Notice, at: datetime, sign: StatusSigner | None = None
) -> tuple[StatusPackage, bytes]:
    """The status package of a notice, from the hub to the sender of `about`.

    `at` is the moment of the decision in UTC; the package carries Vietnam local time, as the
    standard's zone-less timestamps do. Deterministic for the same inputs, so re-sending the
    outcome of an exact duplicate yields the same bytes (and the sink recognises them).
    """
    local = (at + VIETNAM_OFFSET).replace(tzinfo=None, microsecond=0)
    pkg = StatusPackage(
        header=StatusHeader(
            from_=Organization(organ_id=hub.organ, organ_name=hub.name),
            response_for=ResponseFor(
                organ_id=about.organ,
                code=about.code or "-",
                promulgation_date=about.promulgation_date or local.date(),
                document_id=about.document_id or "-",
            ),
            staff_info=StaffInfo(department=hub.name, staff=HUB_SUBMITTER),
            status_code=notice.kind.status,
            description=notice.description,
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


@dataclass(frozen=True, slots=True)
class HubVoice:
    """How the hub speaks: who it is (`identity`) and how it signs (`sign`, None without a key).

    One value for every place that emits a status (the intake stage, the delivery stage and both
    recoveries), so none of them carries organ code, name and signer as loose arguments."""

    identity: HubIdentity = field(default_factory=lambda: HubIdentity(HUB_ORGAN, HUB_NAME))
    sign: StatusSigner | None = None

    def status(
        self, names: Names, dest_system: str, about: About, notice: Notice, at: datetime, *, timeline: bool = True
    ) -> HubStatus:
        """Straight to the destination system's exchange: the system is known even when the
        package's own From is forged or unknown, so the level exchanges are not needed.
        `timeline` False: recorded as a package only, not in the status timeline of
        `about.document_id` (a refused package's DocumentId may be another document's)."""
        hub = self.identity
        status, body = notice_status(hub, about, notice, at, self.sign)
        digest = hashlib.sha256(body).hexdigest()
        doc_id = about.document_id or "-"
        envelope = Envelope(
            digest=digest, kind=PackageKind.STATUS, system=dest_system, recipients=(about.organ,),
            sender=hub.organ, document_id=doc_id, submitted_by=HUB_SUBMITTER,
        )
        before: tuple[LedgerEvent, ...] = (
            PackageReceived(
                digest=digest, kind=PackageKind.STATUS, from_organ=hub.organ, submitted_by=HUB_SUBMITTER,
                document_id=doc_id, recipients=(about.organ,), at=at,
            ),
        )
        if timeline:
            before += (StatusRecorded(
                document_id=doc_id, reporter_organ=hub.organ, about_organ=about.organ,
                status_code=notice.kind.status.value, description=status.header.description, staff=HUB_SUBMITTER,
                reported_at=status.header.timestamp.replace(tzinfo=VIETNAM), digest=digest, at=at,
            ),)
        return HubStatus(
            Publish(names.system_exchange(dest_system), "", body, envelope.to_headers(),
                    message_id=envelope.message_id),
            before,
            (Routed(digest, about.organ, dest_system, at=at),),
        )

    def about_copy(
        self, directory: Directory, names: Names, env: Envelope, notice: Notice, at: datetime
    ) -> HubStatus | None:
        """A notice about a routed copy to the system serving its sender (None: no such system)."""
        sender = env.sender
        dest = directory.server_of(sender) if OrganId.is_valid(sender) else None
        if dest is None:
            return None
        parts = env.document_id.split(",", 2)
        about = About(sender, env.document_id or "-", parts[2] if len(parts) == 3 else "-")
        return self.status(names, dest.id, about, notice, at)
