"""Apply a `Topology` to a broker: idempotent declares, clear reports on conflicts.

Declaring an existing object with equal arguments is a no-op in AMQP, so applying twice
changes nothing. Declaring it with different arguments makes the broker close the channel with
PRECONDITION_FAILED (406); a raw pika traceback would hide which of ~100 objects and which
argument. So apply first *checks*: every object that already exists (passive declare) is
declared with our arguments — a no-op when equal, a 406 that changes nothing when not — and
each conflict is collected as a `Mismatch` (object, argument, broker text) on a fresh channel.
Any conflict raises one `TopologyMismatchError` listing them all before anything is declared,
so a refused apply never leaves half a new topology beside the old one.
Changing an argument of an existing quorum queue needs a migration (new queue, shovel or drain,
delete); apply never deletes queues or exchanges.

Declares are additive, but bindings must also disappear: when a district DMS is carved out of
the province, the province's old `H41.#` would keep matching the district's keys and every
package would reach both systems. AMQP cannot list bindings, so `prune_bindings` takes the
broker's listing (rabbitmqctl here, `list_bindings_rabbitmqctl`; the management API elsewhere)
and unbinds, among bindings whose source is one of ours, those the topology no longer has.
Prune runs after the declares: for a moment a key may reach two systems (consumers are
idempotent), never none (which would reject packages as unknown).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
import structlog

from router.topology.build import Binding, Exchange, Queue, Topology

log = structlog.get_logger()

_INEQUIVALENT = re.compile(r"inequivalent arg '(?P<arg>[^']+)'")
PRECONDITION_FAILED = 406
NOT_FOUND = 404


@dataclass(frozen=True, slots=True)
class Mismatch:
    kind: str  # "queue" | "exchange" | "binding"
    name: str
    argument: str  # e.g. "x-delivery-limit", "type", "durable"; "" if the broker did not say
    detail: str  # the broker's reply text

    def __str__(self) -> str:
        arg = f" argument {self.argument!r}" if self.argument else ""
        return f"{self.kind} {self.name!r}:{arg} differs from the broker's existing one ({self.detail})"


class TopologyMismatchError(RuntimeError):
    def __init__(self, mismatches: list[Mismatch]) -> None:
        self.mismatches = mismatches
        lines = "\n  ".join(str(m) for m in mismatches)
        super().__init__(
            f"{len(mismatches)} broker object(s) exist with other arguments; apply declared "
            f"nothing and deleted nothing:\n  {lines}"
        )


@dataclass(frozen=True, slots=True)
class ApplyReport:
    exchanges: int
    queues: int
    bindings: int
    pruned: tuple[Binding, ...] = ()


class _Applier:
    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.mismatches: list[Mismatch] = []

    def exists(self, action: Any) -> bool:
        """Run a passive declare: False (on a fresh channel) when the broker has no such object."""
        try:
            action(self.channel)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != NOT_FOUND:
                raise
            self.channel = self.channel.connection.channel()
            return False
        return True

    def attempt(self, kind: str, name: str, action: Any) -> None:
        try:
            action(self.channel)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != PRECONDITION_FAILED:
                raise
            text = exc.reply_text or ""
            found = _INEQUIVALENT.search(text)
            detail = text.split("': ", 1)[-1] if found else text  # "received '7' but current is '5'"
            mismatch = Mismatch(kind, name, found.group("arg") if found else "", detail)
            log.error("topology.mismatch", kind=kind, name=name, argument=mismatch.argument, detail=text)
            self.mismatches.append(mismatch)
            self.channel = self.channel.connection.channel()


def _declare_exchange(x: Exchange) -> Any:
    return lambda ch: ch.exchange_declare(
        x.name, exchange_type=x.type, durable=x.durable, auto_delete=x.auto_delete,
        internal=x.internal, arguments=dict(x.arguments) or None,
    )


def _declare_queue(q: Queue) -> Any:
    return lambda ch: ch.queue_declare(
        q.name, durable=q.durable, auto_delete=q.auto_delete, arguments=dict(q.arguments)
    )


def _bind(b: Binding) -> Any:
    args = dict(b.arguments) or None
    if b.destination_type == "queue":
        return lambda ch: ch.queue_bind(b.destination, b.source, routing_key=b.routing_key, arguments=args)
    return lambda ch: ch.exchange_bind(b.destination, b.source, routing_key=b.routing_key, arguments=args)


def find_conflicts(topology: Topology, channel: Any) -> list[Mismatch]:
    """Existing exchanges and queues whose arguments differ from the topology's; creates nothing
    (a declare of an existing object with equal arguments is a no-op, with other ones a 406)."""
    checker = _Applier(channel.connection.channel())  # 404s and 406s close it, not the caller's
    for x in topology.exchanges:
        if checker.exists(lambda ch, name=x.name: ch.exchange_declare(name, passive=True)):
            checker.attempt("exchange", x.name, _declare_exchange(x))
    for q in topology.queues:
        if checker.exists(lambda ch, name=q.name: ch.queue_declare(name, passive=True)):
            checker.attempt("queue", q.name, _declare_queue(q))
    if checker.channel.is_open:
        checker.channel.close()
    return checker.mismatches


def apply_topology(topology: Topology, channel: Any) -> ApplyReport:
    """Declare every exchange, queue and binding on a pika BlockingChannel.

    Raises TopologyMismatchError, having declared nothing, when existing objects conflict
    (`find_conflicts`); other broker or connection errors propagate (infrastructure).
    """
    if topology.policies:
        raise ValueError("AMQP cannot set policies: import the definitions export instead (TOPOLOGY.md)")
    conflicts = find_conflicts(topology, channel)
    if conflicts:
        raise TopologyMismatchError(conflicts)
    applier = _Applier(channel)
    for x in topology.exchanges:
        applier.attempt("exchange", x.name, _declare_exchange(x))
    for q in topology.queues:
        applier.attempt("queue", q.name, _declare_queue(q))
    failed = {m.name for m in applier.mismatches}
    for b in topology.bindings:
        if b.source in failed or b.destination in failed:
            continue
        applier.attempt("binding", f"{b.source} → {b.destination} [{b.routing_key}]", _bind(b))
    if applier.mismatches:
        raise TopologyMismatchError(applier.mismatches)
    log.info(
        "topology.applied", prefix=topology.names.prefix, exchanges=len(topology.exchanges),
        queues=len(topology.queues), bindings=len(topology.bindings),
    )
    return ApplyReport(len(topology.exchanges), len(topology.queues), len(topology.bindings))


def apply_to_url(
    topology: Topology, amqp_url: str | Sequence[str], prune: Callable[[], Iterable[Binding]] | None = None
) -> ApplyReport:
    """Open a connection (to the first node of a cluster that answers, when given several),
    apply, optionally prune with the listing `prune()` returns, close: what `lienthong topology
    apply [--prune]` does."""
    urls = [amqp_url] if isinstance(amqp_url, str) else list(amqp_url)
    conn = pika.BlockingConnection([pika.URLParameters(u) for u in urls])
    try:
        channel = conn.channel()
        report = apply_topology(topology, channel)
        if prune is None:
            return report
        removed = prune_bindings(topology, channel, prune())
        return ApplyReport(report.exchanges, report.queues, report.bindings, tuple(removed))
    finally:
        if conn.is_open:
            conn.close()


def _identity(b: Binding) -> tuple[Any, ...]:
    return (b.source, b.destination, b.destination_type, b.routing_key, tuple(sorted(b.arguments.items())))


def stale_bindings(topology: Topology, listed: Iterable[Binding]) -> list[Binding]:
    """Bindings on the broker, from one of our exchanges, that the topology does not contain."""
    wanted = {_identity(b) for b in topology.bindings}
    return [b for b in listed if topology.names.owns(b.source) and _identity(b) not in wanted]


def prune_bindings(topology: Topology, channel: Any, listed: Iterable[Binding]) -> list[Binding]:
    """Unbind the stale bindings; returns what was removed (logged one by one)."""
    stale = stale_bindings(topology, listed)
    for b in stale:
        args = dict(b.arguments) or None
        if b.destination_type == "queue":
            channel.queue_unbind(b.destination, b.source, routing_key=b.routing_key, arguments=args)
        else:
            channel.exchange_unbind(b.destination, b.source, routing_key=b.routing_key, arguments=args)
        log.warning("topology.unbound", source=b.source, destination=b.destination, routing_key=b.routing_key)
    return stale


def list_bindings_rabbitmqctl(vhost: str = "/") -> list[Binding]:
    """The broker's bindings through `rabbitmqctl` (local node; needs the Erlang cookie)."""
    fields = ("source_name", "destination_name", "destination_kind", "routing_key", "arguments")
    out = subprocess.run(
        ["rabbitmqctl", "-q", "--formatter", "json", "list_bindings", "-p", vhost, *fields],
        capture_output=True, text=True, check=True, timeout=120,
    )
    rows = json.loads(out.stdout) if out.stdout.strip() else []
    return [
        Binding(
            r["source_name"], r["destination_name"], r["destination_kind"], r["routing_key"],
            {name: value for name, _type, value in r["arguments"]},
        )
        for r in rows
        if r["source_name"]  # the default exchange's implicit bindings are not ours
    ]
