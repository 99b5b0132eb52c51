"""The ledger read for the compliance figures: every new document the hub accepted in a window,
with its signature verdict, its deliveries and the statuses its recipients reported.

Read-only and in chunks (a province's year is hundreds of thousands of deliveries): the
packages of the window are streamed in digest order, and each chunk's deliveries, delivered
steps, verdicts and statuses are fetched with one query per table. The answer is
`ops.compliance.facts` values; the figures themselves are computed in ops/compliance/figures.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from ops.compliance.facts import Receipt, SentDocument, SignState
from router.ledger import schema as t
from router.ledger.engine import reading
from router.ledger.events import Outcome, TransportState
from router.ledger.store import Ledger
from schemas.codes import BussinessDocType, PackageKind, StatusCode

#: (done, total) after each chunk
Progress = Callable[[int, int], None]

_ACK = {StatusCode.ARRIVED.value, StatusCode.ACCEPTED.value}
_WANTED = (*_ACK, StatusCode.REJECTED.value, StatusCode.DONE.value)


def _window(start: datetime, end: datetime) -> Any:
    p = t.packages.c
    return and_(
        p.kind == PackageKind.EDOC.value,
        p.outcome == Outcome.ACCEPTED.value,
        or_(p.bussiness_doc_type.is_(None), p.bussiness_doc_type == BussinessDocType.NEW.value),
        p.received_at >= start,
        p.received_at < end,
    )


def count_documents(ledger: Ledger, start: datetime, end: datetime) -> int:
    with reading(ledger.engine) as conn:
        return int(conn.scalar(select(func.count()).select_from(t.packages).where(_window(start, end))) or 0)


def sent_documents(
    ledger: Ledger, start: datetime, end: datetime, *, chunk: int = 500, progress: Progress | None = None
) -> Iterator[SentDocument]:
    """New documents (edoc, accepted, BussinessDocType new) the hub received in [start, end)."""
    total = count_documents(ledger, start, end) if progress else 0
    done = 0
    after = ""
    p = t.packages.c
    while True:
        with reading(ledger.engine) as conn:
            rows = list(conn.execute(
                select(t.packages).where(_window(start, end), p.digest > after).order_by(p.digest).limit(chunk)
            ).mappings())
            if not rows:
                return
            documents = _assemble(conn, rows)
        yield from documents
        after = rows[-1]["digest"]
        done += len(rows)
        if progress:
            progress(done, total)


def _assemble(conn: Connection, rows: Sequence[Any]) -> list[SentDocument]:
    digests = [r["digest"] for r in rows]
    d, tr, v, s = t.deliveries.c, t.transitions.c, t.verdicts.c, t.statuses.c
    deliveries: dict[str, list[Any]] = {}
    for r in conn.execute(select(t.deliveries).where(d.digest.in_(digests)).order_by(d.recipient_organ)):
        deliveries.setdefault(r.digest, []).append(r)
    delivered = {
        (r.digest, r.recipient_organ): r.at
        for r in conn.execute(
            select(tr.digest, tr.recipient_organ, func.min(tr.at).label("at"))
            .where(tr.digest.in_(digests), tr.state == TransportState.DELIVERED.value)
            .group_by(tr.digest, tr.recipient_organ)
        )
    }
    verdicts: dict[str, list[Any]] = {}
    for r in conn.execute(select(v.digest, v.verdict, v.report_json).where(v.digest.in_(digests))):
        verdicts.setdefault(r.digest, []).append(r)
    # (document_id, about_organ, reporter_organ) → code → first hub receipt time
    firsts: dict[tuple[str, str, str], dict[str, datetime]] = {}
    doc_ids = list({r["document_id"] for r in rows})
    for r in conn.execute(
        select(s.document_id, s.about_organ, s.reporter_organ, s.status_code, func.min(s.received_at).label("at"))
        .where(s.document_id.in_(doc_ids), s.status_code.in_(_WANTED))
        .group_by(s.document_id, s.about_organ, s.reporter_organ, s.status_code)
    ):
        firsts.setdefault((r.document_id, r.about_organ, r.reporter_organ), {})[r.status_code] = r.at
    out = []
    for row in rows:
        state, signed_at = _signature(verdicts.get(row["digest"], []))
        receipts = []
        for dl in deliveries.get(row["digest"], []):
            organ = dl.forwarded_to or dl.recipient_organ
            codes = firsts.get((row["document_id"], row["from_organ"], organ), {})
            acks = [codes[c] for c in _ACK if c in codes]
            receipts.append(Receipt(
                organ=organ, system_id=dl.system_id,
                delivered_at=delivered.get((row["digest"], dl.recipient_organ))
                if dl.state == TransportState.DELIVERED.value else None,
                first_ack_at=min(acks) if acks else None,
                refused_at=codes.get(StatusCode.REJECTED.value),
                done_at=codes.get(StatusCode.DONE.value),
            ))
        out.append(SentDocument(
            digest=row["digest"], document_id=row["document_id"], from_organ=row["from_organ"],
            system_id=row["submitted_by"], received_at=row["received_at"], due_date=row["due_date"],
            promulgation_date=row["promulgation_date"], sign_state=state, signed_at=signed_at,
            receipts=tuple(receipts), document_type=row["document_type"],
        ))
    return out


_RANK = {SignState.INVALID: 0, SignState.UNSIGNED: 1, SignState.PARTIALLY_SIGNED: 2, SignState.SIGNED: 3}


def _signature(rows: list[Any]) -> tuple[SignState, datetime | None]:
    """The worst verdict recorded for the package (the pipeline records one), and the latest
    signing time its report names (valid signatures first): the document's signing moment."""
    if not rows:
        return SignState.UNVERIFIED, None
    states = [SignState(r.verdict) if r.verdict in SignState.__members__ else SignState.INVALID for r in rows]
    times: list[tuple[bool, datetime]] = []
    for r in rows:
        times.extend(_signing_times(json.loads(r.report_json)))
    valid = [at for ok, at in times if ok]
    chosen = valid or [at for _, at in times]
    return min(states, key=_RANK.__getitem__), max(chosen) if chosen else None


def _signing_times(report: Any) -> Iterator[tuple[bool, datetime]]:
    if not isinstance(report, dict):
        return
    signatures = [report.get("xml_signature")]
    for attachment in report.get("attachments") or []:
        if isinstance(attachment, dict):
            signatures.extend(attachment.get("signatures") or [])
    for sig in signatures:
        if isinstance(sig, dict) and isinstance(sig.get("signing_time"), str):
            try:
                at = datetime.fromisoformat(sig["signing_time"])
            except ValueError:
                continue
            if at.tzinfo is not None:
                yield bool(sig.get("valid")), at


#: transport states of a copy not (yet) in the recipient's hands
_WAITING = (TransportState.ACCEPTED.value, TransportState.ROUTED.value, TransportState.RETRYING.value,
            TransportState.PARKED.value)


def oldest_undelivered(ledger: Ledger) -> dict[str | None, datetime]:
    """Per recipient system (None: not routed yet), when its oldest waiting copy arrived."""
    d = t.deliveries.c
    with reading(ledger.engine) as conn:
        rows = conn.execute(select(d.system_id, func.min(d.first_at)).where(d.state.in_(_WAITING))
                            .group_by(d.system_id))
        return {system: at for system, at in rows}


def parked_by_system(ledger: Ledger) -> tuple[dict[str | None, int], int]:
    """Copies parked per recipient system, and packages parked at intake (outcome parked)."""
    d, p = t.deliveries.c, t.packages.c
    with reading(ledger.engine) as conn:
        copies = {s: int(n) for s, n in conn.execute(
            select(d.system_id, func.count()).where(d.state == TransportState.PARKED.value).group_by(d.system_id))}
        intake = int(conn.scalar(select(func.count()).select_from(t.packages)
                                 .where(p.outcome == Outcome.PARKED.value)) or 0)
    return copies, intake
