"""Ledger append throughput: events/s for batches of 1, 10 and 100 on SQLite and PostgreSQL.

Run: .venv/bin/python -m tests.perf.bench_ledger [--events N]

The stream is what the router writes: per package a PackageReceived (two recipients), two
Routed, two Delivered, and a status for every fifth package. Each batch is one `append` (one
transaction holding the append lock). Also times `verify_chain` (chain + replay + compare).
PostgreSQL runs in a schema created for the run and dropped after.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ops.logging import configure_logging
from router.ledger import (
    Delivered,
    Ledger,
    LedgerEvent,
    PackageKind,
    PackageReceived,
    Routed,
    StatusRecorded,
)
from schemas.codes import Priority
from tests.support.services import PG_URL, answers, pg_schema

T0 = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)
SENDER, DISTRICT, MINISTRY = "000.00.00.H41", "000.12.00.H41", "000.00.00.G12"


def stream(run: str, events: int) -> list[LedgerEvent]:
    out: list[LedgerEvent] = []
    i = 0
    while len(out) < events:
        d = hashlib.sha256(f"{run}-{i}".encode()).hexdigest()
        doc = f"{SENDER},2025/03/03,{i}/UBND-VP"
        when = T0 + timedelta(milliseconds=10 * i)
        out += [
            PackageReceived(d, PackageKind.EDOC, SENDER, "sys-province", doc, (DISTRICT, MINISTRY),
                            subject="Về việc báo cáo số liệu quý I", priority=Priority.NORMAL, at=when),
            Routed(d, DISTRICT, "sys-district", at=when),
            Routed(d, MINISTRY, "national-axis", at=when),
            Delivered(d, DISTRICT, "sys-district", 1, at=when + timedelta(milliseconds=3)),
            Delivered(d, MINISTRY, "national-axis", 1, at=when + timedelta(milliseconds=4)),
        ]
        if i % 5 == 0:
            out.append(StatusRecorded(doc, DISTRICT, SENDER, "01", None, "Văn thư", when + timedelta(minutes=1),
                                      hashlib.sha256(f"{run}-status-{i}".encode()).hexdigest(), at=when))
        i += 1
    return out[:events]


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def postgres_url() -> AbstractContextManager[str]:
    return pg_schema(PG_URL, "lt_bench")


def measure(url: str, batch: int, events: int) -> tuple[float, float]:
    """(events/s appending, entries/s verifying) on a fresh ledger."""
    data = stream(uuid.uuid4().hex, events)
    with Ledger.open(url) as ledger:
        started = time.perf_counter()
        for i in range(0, len(data), batch):
            ledger.append(data[i:i + batch])
        appended = time.perf_counter() - started
        started = time.perf_counter()
        verdict = ledger.verify_chain()
        verified = time.perf_counter() - started
        assert verdict.ok and verdict.length == len(data), verdict
    return len(data) / appended, len(data) / verified


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=3000, help="events per measurement (batch 1: a third)")
    args = parser.parse_args()
    configure_logging("console", "WARNING")  # the per-append debug line would be measured too
    backends = [("SQLite (file, WAL)", sqlite_url)]
    if answers(5432):
        backends.append(("PostgreSQL 127.0.0.1", postgres_url))
    else:
        print("PostgreSQL does not answer on 127.0.0.1:5432: measuring SQLite only")
    print("| backend | batch | events | append events/s | verify entries/s |")
    print("|---|---:|---:|---:|---:|")
    for name, make in backends:
        for batch in (1, 10, 100):
            events = args.events // 3 if batch == 1 else args.events
            with make() as url:
                rate, verify_rate = measure(url, batch, events)
            print(f"| {name} | {batch} | {events} | {rate:,.0f} | {verify_rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
