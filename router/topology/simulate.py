"""A model of how RabbitMQ routes a message through a `Topology` (the in-memory double).

Used by unit tests (the non-overlap proof over a whole directory costs microseconds here)
and by `lienthong topology show --trace CODE`. The integration test runs the same questions
against the real broker for every organ of the sample directory and requires the same
answer: that is this double's contract test.

Semantics modelled (RabbitMQ 3.10–4.x, AMQP 0-9-1): topic (`*` one word, `#` zero or more),
direct, fanout and headers (`x-match` all/any, `x-*` binding keys ignored) exchanges;
exchange-to-exchange bindings; an exchange's alternate exchange is used only when the
exchange itself matched no binding (a match to an exchange that then routes nowhere does not
trigger it); each exchange is visited once; a queue receives one copy however many paths
lead to it; the default exchange `""` delivers to the queue named by the routing key.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from router.topology.build import Binding, Topology


@lru_cache(maxsize=4096)
def _topic(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_topic(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _topic(rest, words[1:])


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic match: words split on '.', `*` is one word, `#` zero or more words."""
    return _topic(tuple(pattern.split(".")), tuple(routing_key.split(".")) if routing_key else ())


def headers_match(binding_args: Mapping[str, Any], headers: Mapping[str, Any]) -> bool:
    wanted = {k: v for k, v in binding_args.items() if not k.startswith("x-")}
    mode = binding_args.get("x-match", "all")
    hits = [k in headers and headers[k] == v for k, v in wanted.items()]
    return any(hits) if mode in ("any", "any-with-x") else all(hits)


def _matches(kind: str, b: Binding, routing_key: str, headers: Mapping[str, Any]) -> bool:
    if kind == "topic":
        return topic_matches(b.routing_key, routing_key)
    if kind == "direct":
        return b.routing_key == routing_key
    if kind == "headers":
        return headers_match(b.arguments, headers)
    return True  # fanout


def route(
    topology: Topology, exchange: str, routing_key: str, headers: Mapping[str, Any] | None = None
) -> frozenset[str]:
    """Queue names a message published to `exchange` with this key and headers lands in."""
    hdrs = headers or {}
    queue_names = {q.name for q in topology.queues}
    if exchange == "":
        return frozenset({routing_key} & queue_names)
    by_name = {x.name: x for x in topology.exchanges}
    by_source: dict[str, list[Binding]] = {}
    for b in topology.bindings:
        by_source.setdefault(b.source, []).append(b)
    out: set[str] = set()
    seen: set[str] = set()
    todo = [exchange]
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        x = by_name[name]
        hits = [b for b in by_source.get(name, ()) if _matches(x.type, b, routing_key, hdrs)]
        for b in hits:
            (out.add if b.destination_type == "queue" else todo.append)(b.destination)
        alternate = x.arguments.get("alternate-exchange")
        if not hits and isinstance(alternate, str):
            todo.append(alternate)
    return frozenset(out)
