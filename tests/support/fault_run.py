"""Counting a fault run: every confirmed package must end delivered, or parked with a ledger
record and its sender told; none silent, none written twice at a sink."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from router.ledger.events import Outcome, TransportState
from schemas.parse import parse_package
from tests.support.faults import ScriptedSink
from tests.support.hub import RunningHub


@dataclass
class Figures:
    scenario: str
    confirmed: int
    delivered: int = 0
    parked_with_record: int = 0
    silent: int = 0
    duplicated: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return f"FAULT-RUN {json.dumps(asdict(self))}"


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def statuses_about(hub: RunningHub, sid: str) -> dict[str, list[str]]:
    """Status packages in a system's inbox: document id → the descriptions received about it."""
    out: dict[str, list[str]] = {}
    for f in hub.inbox(sid):
        if f.name.startswith("status-"):
            h = parse_package(f.read_bytes()).package.header
            out.setdefault(h.response_for.document_id, []).append(h.description or "")  # type: ignore[union-attr]
    return out


def count(
    hub: RunningHub, scenario: str, bodies: Sequence[bytes], recipients: Mapping[str, str], sender_system: str,
    sinks: Mapping[str, ScriptedSink], seconds: float = 0.0,
) -> Figures:
    """`recipients`: organ → the system that serves it (every package goes to all of them)."""
    ledger = hub.hub.ledger
    told = statuses_about(hub, sender_system)
    fig = Figures(scenario, len(bodies), seconds=seconds)
    for body in bodies:
        d = digest(body)
        pkg = ledger.get_package(d)
        rows = {r.recipient_organ: r for r in ledger.deliveries(d)}
        inboxes = {sid: {f.name for f in hub.inbox(sid)} for sid in set(recipients.values())}
        delivered = pkg is not None and pkg.outcome is Outcome.ACCEPTED and all(
            (row := rows.get(organ)) is not None and row.state is TransportState.DELIVERED
            and f"edoc-{d[:32]}.edxml" in inboxes[sid] for organ, sid in recipients.items())
        parked = pkg is not None and (pkg.outcome is Outcome.PARKED or any(
            r.state is TransportState.PARKED for r in rows.values()))
        document = pkg.document_id if pkg is not None else None
        if delivered:
            fig.delivered += 1
        elif parked and document and told.get(document):
            fig.parked_with_record += 1
        else:
            fig.silent += 1
    fig.duplicated = sum(n - 1 for s in sinks.values() for n in s.written.values() if n > 1)
    return fig


def settle(
    hub: RunningHub, scenario: str, bodies: Sequence[bytes], recipients: Mapping[str, str], sender_system: str,
    sinks: Mapping[str, ScriptedSink], timeout: float, started: float,
) -> Figures:
    """Count until nothing is silent any more (or the time is up), then count once more."""
    deadline = time.monotonic() + timeout
    while True:
        fig = count(hub, scenario, bodies, recipients, sender_system, sinks, time.monotonic() - started)
        if fig.silent == 0 or time.monotonic() > deadline:
            print("\n" + fig.line())
            return fig
        time.sleep(0.5)
