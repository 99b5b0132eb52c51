"""Business authorization: a system that serves From may still only do its own business.

Why: intake's served-From check says who is speaking, not what the speaker may say about a
document. Before these rules a district's system revoked, updated and "replaced" documents of
UBND tỉnh it never sent (or that never existed) and posted statuses 13, 15, 16, 06 and 02 about
documents it never received — accepted, delivered and written into the victim's timeline. The
rules, over what the ledger carried (`Ledger.carried`: accepted edoc packages holding a
DocumentId, and the organs each was routed to):

* **A change** (BussinessDocType 1–3) needs an accepted *new* document holding its target
  (`EdocPackage.target_document_id`: `Bussiness/DocumentId`, else its own DocumentId), sent by
  the change's From — or by an organ the submitting system serves (it could send as that organ
  anyway). Never the latter for the national-axis gateway: it stands for every external organ
  at once, so there only the same From counts.
* **Status 13** (withdraw request) only from the document's sender, by the same rule.
* **Every other status** (01–06, 15, 16, and the codes outside the nine, passed through) about
  the document as sent by ResponseFor/OrganId, only from an organ it was routed to (or the
  successor it was forwarded to). *Routed*, not *delivered*: a direct-AMQP system's copy is
  never seen as delivered (the hub sees the queue, not the DMS), and a DMS may answer 01 before
  the hub has recorded the hand-over; what gives standing is that the hub took the document for
  that organ. A code outside the nine may also come from the sender.
* **From a link** — the national-axis gateway, or another province's hub (`shovel`) — a status
  about a document the hub routed to that same link is matched to what the ledger sent: the
  organ answering on the other side may be one the hub never addressed (the other hub itself
  refusing or holding, a sub-unit), and the link is the only party the ledger knows there.
  Not for 13: only the sender withdraws.
* **Documents from before the hub** (`carried_since`: the day the hub began carrying,
  LIENTHONG_CARRIED_SINCE, else the day of the ledger's first package). The national axis
  has carried documents since 2019: a ministry revokes, updates or answers documents it
  exchanged with the province directly, before the hub went live, and the ledger cannot know
  them. From a *link* only, a change or status about a DocumentId the ledger has never
  carried, dated (its second field) before that day, is judged by the identifier itself: a
  change when the DocumentId's organ is the change's From (the sender revoking its own
  document), a status when it is the organ ResponseFor names (a 13: the reporter). The link
  authenticated the external organ; what the ledger does carry is never overruled, and a
  system of the tree gets no such leeway (its own past documents were not the axis's to
  vouch for, and issue 8's ghost replacements came from there).
* **No relay through the gateway**: a package it submits whose every recipient resolves to the
  gateway is refused (`GATEWAY_RELAY`); in a mixed package intake leaves those recipients out
  (the axis delivers to them itself).

One answer for "unknown" and "not yours": a submitter with no standing is told the hub carried
no such document *for it* (`CHANGE_TARGET_UNKNOWN`, `STATUS_DOCUMENT_UNKNOWN`), never that the
document exists elsewhere (issue 8: answers must not leak).

Unknown original vs. the change's wait: the delivery stage holds a change back while its
original — which intake accepted — is still on its way to the same recipient
(`ORIGINAL_NOT_DELIVERED` after `original_wait_s`). An original intake never accepted is not on
its way: the change is refused at once. That refusal depends on what the ledger knew then, so
it is not final (`REVISABLE`): the same bytes sent after the original are decided afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from router.directory.model import Directory, System
from router.ledger.rows import Carried
from router.pipeline.decisions import Rejection
from schemas.codes import BussinessDocType, StatusCode
from schemas.findings import Code
from schemas.models import EdocPackage, StatusPackage

#: `Ledger.carried`: the accepted edoc packages holding a DocumentId
CarriedLookup = Callable[[str], Sequence[Carried]]
#: The day the hub began carrying (None: not known), asked only when a rule needs it
CarriedSince = Callable[[], date | None]

#: Refusals that depend on what the ledger knew at the time: the same bytes are decided afresh.
REVISABLE = frozenset({Code.CHANGE_TARGET_UNKNOWN.value, Code.STATUS_DOCUMENT_UNKNOWN.value})

#: delivery adapter of a link to another province's hub (router/TOPOLOGY.md, "Two provinces")
_LINK_ADAPTER = "shovel"


def is_link(system: System) -> bool:
    """A system standing for a world the hub does not see into: the national axis, another hub."""
    return system.gateway or system.delivery.adapter == _LINK_ADAPTER


def relays_through_gateway(system: System, recipient_systems: Iterable[System | None]) -> bool:
    """The gateway submitting a package whose every recipient leads back to the gateway."""
    targets = list(recipient_systems)
    return system.gateway and bool(targets) and all(s is not None and s.gateway for s in targets)


def relay_refusal(pkg: EdocPackage | StatusPackage, system: System, directory: Directory, on: date) -> Rejection | None:
    """`GATEWAY_RELAY` when the gateway submits a package only for organs outside the tree."""
    if not system.gateway:
        return None
    recipients = tuple(dict.fromkeys(pkg.recipients))
    if not relays_through_gateway(system, (directory.resolve(r, on=on).system for r in recipients)):
        return None
    listed = ", ".join(recipients[:5]) + (f" (+{len(recipients) - 5})" if len(recipients) > 5 else "")
    return Rejection(
        Code.GATEWAY_RELAY,
        f"Gói tin từ cơ quan ngoài tỉnh {pkg.sender} gửi tới cơ quan ngoài tỉnh ({listed}): trục tỉnh không "
        "chuyển tiếp giữa các cơ quan ngoài tỉnh, trục quốc gia chuyển trực tiếp",
        f"a package from {pkg.sender}, outside the province, to organs outside it ({listed}): the provincial "
        "hub does not relay between external organs; the national axis delivers directly",
    )


def pre_hub_sender(document_id: str, carried_since: date | None) -> str | None:
    """The organ a DocumentId (`organ,YYYY/MM/DD,notation`) names, when it is dated before the
    hub began carrying; None when it is not, or the date does not read (an SDK sample's
    `2014/02/30`): then nothing is assumed."""
    if carried_since is None:
        return None
    organ, _, rest = document_id.partition(",")
    try:
        day = datetime.strptime(rest.partition(",")[0].strip(), "%Y/%m/%d").date()
    except ValueError:
        return None
    return (organ.strip() or None) if day < carried_since else None


def business_refusal(
    pkg: EdocPackage | StatusPackage, system: System, directory: Directory, carried: CarriedLookup,
    carried_since: CarriedSince = lambda: None,
) -> Rejection | None:
    """Why `system` may not send this change or status (None: it may). New documents pass.
    `carried_since`: the day the hub began carrying (see the module's docstring), asked only
    for a link's change or status the ledger does not know."""
    if isinstance(pkg, EdocPackage):
        target = pkg.target_document_id
        if pkg.doc_type is BussinessDocType.NEW or target is None:
            return None
        known = carried(target)
        if originals_for(system, directory, pkg.sender, known):
            return None
        if is_link(system) and not known and pre_hub_sender(target, carried_since()) == pkg.sender:
            return None
        return Rejection(
            Code.CHANGE_TARGET_UNKNOWN,
            f"{pkg.doc_type.vi} văn bản {target}: trục chưa chuyển văn bản gốc nào có mã này do cơ quan "
            f"{pkg.sender} gửi",
            f"{pkg.doc_type.name.lower()} of document {target}: the hub has carried no original with this "
            f"DocumentId sent by {pkg.sender}",
        )
    docs = carried(pkg.document_id)
    if is_link(system) and not docs:
        h = pkg.header
        party = pkg.sender if h.status_code is StatusCode.WITHDRAW_REQUEST else h.response_for.organ_id
        if pre_hub_sender(pkg.document_id, carried_since()) == party:
            return None
    return _status_refusal(pkg, system, directory, docs)


def originals_for(
    system: System | None, directory: Directory, sender: str, carried: Sequence[Carried]
) -> list[Carried]:
    """The new documents holding a change's target that `sender`, submitted by `system`, may
    change: what intake authorizes the change by, and what the delivery stage makes it wait for."""
    def may_change(original: Carried) -> bool:
        if original.from_organ == sender:
            return True
        return system is not None and _speaks_for(system, directory, sender, original.from_organ)
    return [c for c in carried if c.doc_type is BussinessDocType.NEW and may_change(c)]


def _status_refusal(
    pkg: StatusPackage, system: System, directory: Directory, docs: Sequence[Carried]
) -> Rejection | None:
    h = pkg.header
    code, reporter, about = h.status_code, pkg.sender, h.response_for.organ_id
    senders = {d.from_organ for d in docs}
    if code is StatusCode.WITHDRAW_REQUEST:
        if any(_speaks_for(system, directory, reporter, s) for s in senders):
            return None
    else:
        sent = [d for d in docs if d.from_organ == about]  # the document as ResponseFor names it
        if any(reporter in d.organs for d in sent):
            return None
        if is_link(system) and any(system.id in d.systems for d in sent):
            return None  # an answer from beyond a link about what the hub routed there
        if not code.known and reporter in senders:
            return None
    return Rejection(
        Code.STATUS_DOCUMENT_UNKNOWN,
        f"Trạng thái {code.value} về văn bản {pkg.document_id}: trục chưa chuyển văn bản nào có mã này giữa "
        f"cơ quan {reporter} và cơ quan {about}",
        f"status {code.value} about document {pkg.document_id}: the hub has carried no document with this "
        f"DocumentId between {reporter} and {about}",
    )


def _speaks_for(system: System, directory: Directory, organ: str, sender: str) -> bool:
    """May `organ`, submitted by `system`, act for a document `sender` sent? The same organ, or
    any organ of the system that serves the sender (never for the gateway: see the docstring)."""
    return organ == sender or (not system.gateway and directory.serves(system.id, sender))
