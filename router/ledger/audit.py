"""Check the tables against the evidence: replay every chained event and compare.

The hash chain alone proves the *events* were not altered; the tables (deliveries, statuses, …)
are what `trace` shows, and an UPDATE behind the ledger's back would change them without
touching the chain. Because the tables are a pure fold of the events (`Plan`), replaying the
chain from empty must give them back row for row; the first row that differs is named together
with the evidence entry that last justified it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, Table, select

from router.ledger import schema as t
from router.ledger.chain import GENESIS, ChainVerdict, EvidenceEntry
from router.ledger.events import EVENT_TYPES, LedgerEvent
from router.ledger.plan import Plan, Row


def decode_event(payload: str) -> LedgerEvent:
    data = json.loads(payload)
    event: LedgerEvent = _adapter(data.pop("type")).validate_python(data)
    return event


@cache
def _adapter(event_type: str) -> TypeAdapter[Any]:
    return TypeAdapter(EVENT_TYPES[event_type])


def empty_plan() -> Plan:
    return Plan(head_seq=0, head_hash=GENESIS, packages={}, deliveries={}, status_digests=set(),
                verdict_keys=set())


def replayer(plan: Plan) -> Callable[[EvidenceEntry], None]:
    def feed(entry: EvidenceEntry) -> None:
        plan.add(decode_event(entry.payload))

    return feed


# (table, columns naming a row, column holding the justifying seq, rows the replay expects)
def _expected(plan: Plan) -> list[tuple[Table, tuple[str, ...], str, list[Row]]]:
    return [
        (t.packages, ("digest",), "seq", list(plan.packages.values())),
        (t.deliveries, ("digest", "recipient_organ"), "last_seq", list(plan.deliveries.values())),
        (t.transitions, ("seq", "digest", "recipient_organ"), "seq", plan.transitions),
        (t.statuses, ("digest",), "seq", plan.statuses),
        (t.verdicts, ("digest", "attachment"), "seq", plan.verdicts),
    ]


def compare_tables(conn: Connection, plan: Plan, chain: ChainVerdict) -> ChainVerdict:
    """`chain` if every table matches the replay, else a verdict naming the first mismatch."""
    for table, key, seq_col, rows in _expected(plan):
        columns = [c.name for c in table.columns]
        expected = {tuple(r[k] for k in key): r for r in rows}
        found = {
            tuple(r[k] for k in key): dict(r)
            for r in conn.execute(select(*(table.c[c] for c in columns))).mappings()
        }
        problem = _first_difference(table.name, columns, seq_col, expected, found)
        if problem is not None:
            seq, reason = problem
            return ChainVerdict(False, chain.length, chain.head_hash, broken_seq=seq, reason=reason)
    return chain


def _first_difference(
    name: str,
    columns: Iterable[str],
    seq_col: str,
    expected: Mapping[tuple[Any, ...], Row],
    found: Mapping[tuple[Any, ...], Row],
) -> tuple[int, str] | None:
    problems: list[tuple[int, str]] = []
    for ident, want in expected.items():
        have = found.get(ident)
        if have is None:
            problems.append((int(want[seq_col]), f"{name} {ident}: row missing"))
            continue
        for col in columns:
            if have[col] != want[col]:
                problems.append((int(want[seq_col]),
                                 f"{name} {ident}: {col} is {have[col]!r}, the evidence says {want[col]!r}"))
                break
    for ident, have in found.items():
        if ident not in expected:
            problems.append((int(have[seq_col] or 0), f"{name} {ident}: row not justified by any evidence"))
    return min(problems, default=None)
