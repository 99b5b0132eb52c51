"""`Ledger`: the router's record of packages, deliveries, statuses, verdicts and evidence.

Writes go through `append` only: one transaction per batch, under the append lock, so the
evidence chain stays linear however many router processes write. Reads never take the lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, RowMapping, Table, and_, bindparam, func, insert, or_, select, update

from router.ledger import schema as t
from router.ledger.audit import compare_tables, empty_plan, replayer
from router.ledger.chain import GENESIS, ChainVerdict, EvidenceEntry, check_chain
from router.ledger.engine import make_engine, reading, writing
from router.ledger.events import LedgerEvent, Outcome, TransportState, prepared
from router.ledger.plan import Plan, Row, touched
from router.ledger.rows import (
    Carried,
    DedupKey,
    DeliveryRow,
    LedgerCounts,
    PackageRow,
    StatusEntry,
    TransitionRow,
    VerdictRow,
)
from router.ledger.trace import Trace, assemble
from schemas.codes import BussinessDocType, PackageKind, Priority

log = structlog.get_logger()

#: every column but the key: a package parked at intake and accepted later gets its fields then
_PACKAGE_MUTABLE = (
    "seq", "kind", "document_id", "from_organ", "submitted_by", "bussiness_doc_type", "target_document_id",
    "subject", "priority", "due_date", "promulgation_date", "document_type", "outcome", "reason_code", "message",
    "duplicates_absorbed", "last_duplicate_at",
)
_DELIVERY_MUTABLE = (
    "system_id", "forwarded_to", "state", "attempts", "last_at", "last_error", "last_seq", "reopened_at",
)


# The hot path's statements, built once: SQLAlchemy then only looks up the compiled form
# (building a select per message cost about as much as running it; issue 12, PERFORMANCE.md).
_p, _d = t.packages.c, t.deliveries.c
_SAME_DOCUMENT = and_(
    _p.from_organ == bindparam("from_organ"),
    _p.document_id == bindparam("document_id"),
    # a status carries the id of the document it is about, not its own
    _p.kind == PackageKind.EDOC.value,
)
_BY_DOCUMENT = select(t.packages).where(_SAME_DOCUMENT).order_by(_p.received_at, _p.seq)
_BY_DIGEST_OR_DOCUMENT = (
    select(t.packages).where(or_(_p.digest == bindparam("digest"), _SAME_DOCUMENT)).order_by(_p.received_at, _p.seq)
)
_PACKAGE = select(t.packages).where(_p.digest == bindparam("digest"))
_FIRST_RECEIVED = select(func.min(_p.received_at))
_DELIVERY = select(t.deliveries).where(_d.digest == bindparam("digest"), _d.recipient_organ == bindparam("recipient"))
_DELIVERIES = select(t.deliveries).where(_d.digest == bindparam("digest")).order_by(_d.recipient_organ)
_HEAD = select(t.evidence.c.seq, t.evidence.c.hash).order_by(t.evidence.c.seq.desc()).limit(1)
_PACKAGES_IN = select(t.packages).where(_p.digest.in_(bindparam("digests", expanding=True)))
_DELIVERIES_IN = select(t.deliveries).where(_d.digest.in_(bindparam("digests", expanding=True)))
#: a prefetch window's de-duplication reads in one query (router/pipeline/window.py)
_BY_DIGESTS_OR_DOCUMENTS = (
    select(t.packages)
    .where(or_(_p.digest.in_(bindparam("digests", expanding=True)),
               and_(_p.document_id.in_(bindparam("document_ids", expanding=True)),
                    _p.kind == PackageKind.EDOC.value)))
    .order_by(_p.received_at, _p.seq)
)
_SEEN_IN = select(t.seen.c.event_key).where(t.seen.c.event_key.in_(bindparam("keys", expanding=True)))
#: business authorization: every accepted edoc holding a DocumentId, with its recipients (one
#: query, on ix_ledger_packages_doc and the deliveries' primary key)
_CARRIED = (
    select(_p.digest, _p.from_organ, _p.submitted_by, _p.bussiness_doc_type,
           _d.recipient_organ, _d.forwarded_to, _d.system_id, _d.state)
    .select_from(t.packages.outerjoin(t.deliveries, _d.digest == _p.digest))
    .where(_p.document_id == bindparam("document_id"), _p.kind == PackageKind.EDOC.value,
           _p.outcome == Outcome.ACCEPTED.value)
    .order_by(_p.received_at, _p.seq, _d.recipient_organ)
)


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Ledger:
        """Connect and create the tables if absent (under the append lock: safe to race).
        `create=False` is for readers: a missing SQLite file raises `LedgerMissing`."""
        engine = make_engine(url, create=create)
        with writing(engine) as conn:
            t.metadata.create_all(conn)
            for column in t.add_missing_columns(conn):
                log.info("ledger column added", column=column)
        return cls(engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- writing --------------------------------------------------------------------------

    def append(self, events: Sequence[LedgerEvent]) -> None:
        """Record a batch in one transaction. Replays are harmless: a fact already recorded, or a
        transport step the delivery has gone past, changes nothing and adds no evidence."""
        if not events:
            return
        with writing(self._engine) as conn:
            plan = self._load(conn, events).add_all(events)
            _write(conn, plan)
        log.debug("ledger.appended", events=len(events), evidence=len(plan.evidence), head=plan.head_seq)

    def _load(self, conn: Connection, events: Sequence[LedgerEvent]) -> Plan:
        head = conn.execute(_HEAD).first()
        keys = touched(events)
        digests = list(keys.package_digests)
        packages: dict[str, Row] = {}
        deliveries: dict[tuple[str, str], Row] = {}
        if digests:
            for r in conn.execute(_PACKAGES_IN, {"digests": digests}).mappings():
                packages[r["digest"]] = dict(r)
            for r in conn.execute(_DELIVERIES_IN, {"digests": digests}).mappings():
                deliveries[(r["digest"], r["recipient_organ"])] = dict(r)
        status_digests: set[str] = set()
        if keys.status_digests:
            status_digests = set(
                conn.scalars(select(t.statuses.c.digest).where(t.statuses.c.digest.in_(keys.status_digests)))
            )
        ready = {id(e): (e, *prepared(e)) for e in events}
        wanted = [key for _, _, key in ready.values()]
        seen = set(conn.scalars(_SEEN_IN, {"keys": wanted})) if wanted else set()
        verdict_keys: set[tuple[str, str]] = set()
        if keys.verdict_keys:
            rows = conn.execute(
                select(t.verdicts.c.digest, t.verdicts.c.attachment).where(
                    t.verdicts.c.digest.in_({d for d, _ in keys.verdict_keys})
                )
            )
            verdict_keys = {(d, a) for d, a in rows} & keys.verdict_keys
        return Plan(
            head_seq=0 if head is None else int(head.seq),
            head_hash=GENESIS if head is None else str(head.hash),
            packages=packages,
            deliveries=deliveries,
            status_digests=status_digests,
            verdict_keys=verdict_keys,
            seen=seen,
            prepared=ready,
        )

    # -- reading --------------------------------------------------------------------------

    def first_received(self) -> datetime | None:
        """When the ledger took its first package (None: it holds none): the day the hub began
        carrying documents, unless the operator says otherwise (LIENTHONG_CARRIED_SINCE)."""
        with reading(self._engine) as conn:
            at = conn.execute(_FIRST_RECEIVED).scalar()
        return at if isinstance(at, datetime) else None

    def get_package(self, digest: str) -> PackageRow | None:
        with reading(self._engine) as conn:
            row = conn.execute(_PACKAGE, {"digest": digest}).mappings().first()
        return None if row is None else _package(row)

    def find_package(self, from_organ: str, document_id: str) -> PackageRow | None:
        """The edoc package holding (From, DocumentId): the first accepted one. A rejected package
        does not hold its DocumentId (the sender may correct and resend), so without an accepted
        one this returns the latest rejected, for the router to see, or None."""
        return self.dedup_lookup(None, from_organ, document_id)[1]

    def dedup_lookup(
        self, digest: str | None, from_organ: str, document_id: str
    ) -> tuple[PackageRow | None, PackageRow | None]:
        """(`get_package(digest)`, `find_package(from_organ, document_id)`) in one query: the
        route stage asks both for every new document, on its hot path."""
        params = {"from_organ": from_organ, "document_id": document_id}
        stmt = _BY_DOCUMENT if digest is None else _BY_DIGEST_OR_DOCUMENT
        if digest is not None:
            params["digest"] = digest
        with reading(self._engine) as conn:
            rows = [_package(r) for r in conn.execute(stmt, params).mappings()]
        return _dedup_answer(rows, digest, from_organ, document_id)

    def dedup_lookups(self, keys: Sequence[DedupKey]) -> dict[str, tuple[PackageRow | None, PackageRow | None]]:
        """`dedup_lookup` for a whole prefetch window in one query, by digest: a key without
        (From, DocumentId) — a status, a change — asks only for its digest (`get_package`)."""
        if not keys:
            return {}
        digests = sorted({k.digest for k in keys})
        document_ids = sorted({k.document_id for k in keys if k.document_id is not None})
        with reading(self._engine) as conn:
            rows = [_package(r) for r in conn.execute(
                _BY_DIGESTS_OR_DOCUMENTS, {"digests": digests, "document_ids": document_ids}).mappings()]
        answers: dict[str, tuple[PackageRow | None, PackageRow | None]] = {}
        for k in keys:
            if k.from_organ is None or k.document_id is None:
                answers[k.digest] = (next((p for p in rows if p.digest == k.digest), None), None)
            else:
                answers[k.digest] = _dedup_answer(rows, k.digest, k.from_organ, k.document_id)
        return answers

    def carried(self, document_id: str) -> tuple[Carried, ...]:
        """Every accepted edoc package holding `document_id` (an original and the changes that
        carry its DocumentId as their own), oldest first, each with the organs it was routed to:
        who sent the document, and to whom — what business authorization asks (router/pipeline/rights.py)."""
        found: dict[str, tuple[Carried, list[tuple[str, str | None, str | None]]]] = {}
        with reading(self._engine) as conn:
            for r in conn.execute(_CARRIED, {"document_id": document_id}):
                if r.digest not in found:
                    found[r.digest] = (Carried(r.digest, r.from_organ or "", r.submitted_by,
                                               BussinessDocType(r.bussiness_doc_type or 0)), [])
                if r.recipient_organ is not None and r.state != TransportState.REJECTED.value:
                    found[r.digest][1].append((r.recipient_organ, r.forwarded_to, r.system_id))
        return tuple(replace(c, routed=tuple(routed)) for c, routed in found.values())

    def delivery_state(self, digest: str, recipient_organ: str) -> DeliveryRow | None:
        with reading(self._engine) as conn:
            row = conn.execute(_DELIVERY, {"digest": digest, "recipient": recipient_organ}).mappings().first()
        return None if row is None else _delivery(row)

    def deliveries(self, digest: str) -> tuple[DeliveryRow, ...]:
        with reading(self._engine) as conn:
            return tuple(_delivery(r) for r in conn.execute(_DELIVERIES, {"digest": digest}).mappings())

    def window_reads(self, digests: Sequence[str]) -> tuple[dict[str, PackageRow], dict[tuple[str, str], DeliveryRow]]:
        """The packages and every delivery of `digests`, two queries for a whole prefetch window
        (the delivery stage's forged-copy check and "already delivered?")."""
        if not digests:
            return {}, {}
        wanted = sorted(set(digests))
        with reading(self._engine) as conn:
            packages = {r["digest"]: _package(r) for r in conn.execute(_PACKAGES_IN, {"digests": wanted}).mappings()}
            deliveries = {(r["digest"], r["recipient_organ"]): _delivery(r)
                          for r in conn.execute(_DELIVERIES_IN, {"digests": wanted}).mappings()}
        return packages, deliveries

    def history(self, digest: str, recipient_organ: str) -> tuple[TransitionRow, ...]:
        """The transport steps of one delivery, oldest first."""
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(t.transitions)
                .where(t.transitions.c.digest == digest, t.transitions.c.recipient_organ == recipient_organ)
                .order_by(t.transitions.c.at, t.transitions.c.seq)
            ).mappings()
            return tuple(_transition(r) for r in rows)

    def timeline(self, document_id: str) -> tuple[StatusEntry, ...]:
        """Business statuses about a document, in the order they were reported."""
        with reading(self._engine) as conn:
            return _statuses(conn, {document_id})

    def trace(self, document_id: str) -> Trace:
        with reading(self._engine) as conn:
            p = t.packages.c
            about = or_(p.document_id == document_id, p.target_document_id == document_id)
            first = [_package(r) for r in conn.execute(select(t.packages).where(about)).mappings()]
            related = {document_id} | {x.document_id for x in first if x.document_id}
            related |= {x.target_document_id for x in first
                        if x.document_id == document_id and x.target_document_id}
            packages = {x.digest: x for x in first}
            for r in conn.execute(select(t.packages).where(p.document_id.in_(related))).mappings():
                packages.setdefault(r["digest"], _package(r))
            digests = list(packages)
            return assemble(
                document_id,
                packages=packages.values(),
                verdicts=[_verdict(r) for r in _where_digest(conn, t.verdicts, digests)],
                deliveries=[_delivery(r) for r in _where_digest(conn, t.deliveries, digests)],
                history=[_transition(r) for r in _where_digest(conn, t.transitions, digests)],
                statuses=_statuses(conn, related),
            )

    def counts(self) -> LedgerCounts:
        with reading(self._engine) as conn:
            outcomes = dict.fromkeys((o.value for o in Outcome), 0)
            for outcome, n in conn.execute(
                select(t.packages.c.outcome, func.count()).group_by(t.packages.c.outcome)
            ):
                outcomes[outcome] = int(n)
            states = dict.fromkeys((s.value for s in TransportState), 0)
            for state, n in conn.execute(
                select(t.deliveries.c.state, func.count()).group_by(t.deliveries.c.state)
            ):
                states[state] = int(n)
            duplicates = conn.scalar(select(func.coalesce(func.sum(t.packages.c.duplicates_absorbed), 0)))
            n_status = conn.scalar(select(func.count()).select_from(t.statuses))
            n_evidence = conn.scalar(select(func.coalesce(func.max(t.evidence.c.seq), 0)))
        return LedgerCounts(outcomes, states, int(duplicates or 0), int(n_status or 0), int(n_evidence or 0))

    def verify_chain(self) -> ChainVerdict:
        """Recompute the chain from the first entry, then replay it and compare the tables; the
        verdict names the first seq that does not fit (a broken entry, or the entry that last
        justified a row someone changed). Holds every row in memory: an ops check, not a hot path."""
        with reading(self._engine) as conn:
            plan = empty_plan()
            verdict = check_chain(_evidence(conn), accept=replayer(plan))
            return compare_tables(conn, plan, verdict) if verdict.ok else verdict


def _evidence(conn: Connection) -> Iterator[EvidenceEntry]:
    e = t.evidence.c
    result = conn.execution_options(yield_per=2000).execute(
        select(e.seq, e.event_type, e.at, e.payload, e.prev_hash, e.hash).order_by(e.seq)
    )
    for r in result:
        yield EvidenceEntry(int(r.seq), r.event_type, r.at, r.payload, r.prev_hash, r.hash)


def _write(conn: Connection, plan: Plan) -> None:
    if plan.new_seen:
        conn.execute(insert(t.seen), [{"event_key": k} for k in plan.new_seen])
    if plan.evidence:
        conn.execute(insert(t.evidence), plan.evidence)
    _upsert(conn, t.packages, key=("digest",), mutable=_PACKAGE_MUTABLE, rows=plan.packages,
            new=plan.new_packages, changed=plan.changed_packages)
    _upsert(conn, t.deliveries, key=("digest", "recipient_organ"), mutable=_DELIVERY_MUTABLE,
            rows=plan.deliveries, new=plan.new_deliveries, changed=plan.changed_deliveries)
    for table, rows in ((t.transitions, plan.transitions), (t.statuses, plan.statuses),
                        (t.verdicts, plan.verdicts)):
        if rows:
            conn.execute(insert(table), rows)


def _upsert(
    conn: Connection,
    table: Table,
    *,
    key: tuple[str, ...],
    mutable: tuple[str, ...],
    rows: Mapping[Any, Row],
    new: set[Any],
    changed: set[Any],
) -> None:
    """New rows are inserted, known ones updated: the plan knows which, because it loaded them
    under the same lock, so no dialect-specific ON CONFLICT is needed."""
    if new:
        conn.execute(insert(table), [rows[k] for k in new])
    if changed:
        stmt = (
            update(table)
            .where(*(table.c[k] == bindparam(f"k_{k}") for k in key))
            .values({c: bindparam(f"v_{c}") for c in mutable})
        )
        params = [
            {**{f"k_{k}": rows[ident][k] for k in key}, **{f"v_{c}": rows[ident][c] for c in mutable}}
            for ident in changed
        ]
        conn.execute(stmt, params)


def _where_digest(conn: Connection, table: Table, digests: list[str]) -> list[RowMapping]:
    if not digests:
        return []
    return list(conn.execute(select(table).where(table.c.digest.in_(digests))).mappings())


def _statuses(conn: Connection, document_ids: set[str]) -> tuple[StatusEntry, ...]:
    s = t.statuses.c
    rows = conn.execute(
        select(t.statuses)
        .where(s.document_id.in_(document_ids))
        .order_by(s.reported_at, s.received_at, s.seq)
    ).mappings()
    return tuple(StatusEntry(**dict(r)) for r in rows)


def _package(r: RowMapping) -> PackageRow:
    values = {k: v for k, v in r.items() if k != "seq"}
    values["kind"] = None if r["kind"] is None else PackageKind(r["kind"])
    values["outcome"] = Outcome(r["outcome"])
    bdt, priority = r["bussiness_doc_type"], r["priority"]
    values["bussiness_doc_type"] = None if bdt is None else BussinessDocType(bdt)
    values["priority"] = None if priority is None else Priority(priority)
    return PackageRow(**values)


def _delivery(r: RowMapping) -> DeliveryRow:
    values = {k: v for k, v in r.items() if k != "last_seq"}
    values["state"] = TransportState(r["state"])
    return DeliveryRow(**values)


def _transition(r: RowMapping) -> TransitionRow:
    return TransitionRow(**{**r, "state": TransportState(r["state"])})


def _verdict(r: RowMapping) -> VerdictRow:
    values = {k: v for k, v in r.items() if k != "seq"}
    values["attachment"] = r["attachment"] or None
    return VerdictRow(**values)


def _dedup_answer(
    rows: Sequence[PackageRow], digest: str | None, from_organ: str, document_id: str
) -> tuple[PackageRow | None, PackageRow | None]:
    by_digest = next((p for p in rows if p.digest == digest), None)
    # only a new document holds its DocumentId: a revoke/update/replace may carry its
    # original's as its own (the SDK's convention), and is never the original it waits for
    holders = [p for p in rows if p.kind is PackageKind.EDOC and p.from_organ == from_organ
               and p.document_id == document_id and not p.bussiness_doc_type]
    accepted = [p for p in holders if p.outcome is Outcome.ACCEPTED]
    return by_digest, accepted[0] if accepted else (holders[-1] if holders else None)
