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


class _Trie:
    """Topic patterns by word, so a key is matched against the patterns that can match it
    (a nation's level exchange carries ~10k bindings; a scan per message would be quadratic)."""

    __slots__ = ("bindings", "children")

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.bindings: list[Binding] = []

    def add(self, b: Binding) -> None:
        node = self
        for word in b.routing_key.split(".") if b.routing_key else ():
            node = node.children.setdefault(word, _Trie())
        node.bindings.append(b)

    def match(self, words: tuple[str, ...], out: list[Binding]) -> None:
        """AMQP topic semantics (as `_topic`): `*` one word, `#` zero or more."""
        if not words:
            out += self.bindings
        else:
            exact = self.children.get(words[0])
            if exact is not None:
                exact.match(words[1:], out)
            star = self.children.get("*")
            if star is not None:
                star.match(words[1:], out)
        hashed = self.children.get("#")
        if hashed is not None:
            for i in range(len(words) + 1):
                hashed.match(words[i:], out)


class RoutingModel:
    """The topology indexed once (exchanges by name, bindings by source, topic patterns in a
    trie), for routing many messages: checking every organ of a nation is then seconds."""

    def __init__(self, topology: Topology) -> None:
        self.queue_names = frozenset(q.name for q in topology.queues)
        self.by_name = {x.name: x for x in topology.exchanges}
        self.by_source: dict[str, list[Binding]] = {}
        self.tries: dict[str, _Trie] = {}
        for b in topology.bindings:
            x = self.by_name.get(b.source)
            if x is not None and x.type == "topic":
                self.tries.setdefault(b.source, _Trie()).add(b)
            else:
                self.by_source.setdefault(b.source, []).append(b)

    def _hits(self, name: str, routing_key: str, headers: Mapping[str, Any]) -> list[Binding]:
        x = self.by_name[name]
        if x.type == "topic":
            out: list[Binding] = []
            trie = self.tries.get(name)
            if trie is not None:
                trie.match(tuple(routing_key.split(".")) if routing_key else (), out)
            return list({id(b): b for b in out}.values())  # a binding matched along two paths counts once
        return [b for b in self.by_source.get(name, ()) if _matches(x.type, b, routing_key, headers)]

    def route(self, exchange: str, routing_key: str, headers: Mapping[str, Any] | None = None) -> frozenset[str]:
        """Queue names a message published to `exchange` with this key and headers lands in."""
        hdrs = headers or {}
        if exchange == "":
            return frozenset({routing_key} & self.queue_names)
        out: set[str] = set()
        seen: set[str] = set()
        todo = [exchange]
        while todo:
            name = todo.pop()
            if name in seen or name not in self.by_name:
                continue
            seen.add(name)
            hits = self._hits(name, routing_key, hdrs)
            for b in hits:
                (out.add if b.destination_type == "queue" else todo.append)(b.destination)
            alternate = self.by_name[name].arguments.get("alternate-exchange")
            if not hits and isinstance(alternate, str):
                todo.append(alternate)
        return frozenset(out)


def route(
    topology: Topology, exchange: str, routing_key: str, headers: Mapping[str, Any] | None = None
) -> frozenset[str]:
    """Queue names a message published to `exchange` with this key and headers lands in
    (one message; build a `RoutingModel` once to route many)."""
    return RoutingModel(topology).route(exchange, routing_key, headers)
