"""Parked packages: list them without losing them, replay them after the cause is fixed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pika
from pika.exceptions import ChannelClosedByBroker

from router.pipeline.envelope import Envelope, EnvelopeError
from router.topology.build import Topology


@dataclass(frozen=True, slots=True)
class ParkedItem:
    queue: str
    system: str
    digest: str
    document_id: str
    recipients: str
    reason: str
    attempt: int
    size: int


class ParkedQueueMissing(RuntimeError):
    pass


def _get(ch: Any, queue: str) -> tuple[Any, Any, bytes]:
    try:
        return ch.basic_get(queue, auto_ack=False)  # type: ignore[no-any-return]
    except ChannelClosedByBroker as exc:
        raise ParkedQueueMissing(
            f"queue {queue} does not exist ({exc.reply_text}): is LIENTHONG_PREFIX right, "
            "and was `lienthong topology apply` run?"
        ) from None


def _systems(topology: Topology, system: str | None) -> list[str]:
    if system is None:
        return list(topology.systems)
    if system not in topology.systems:
        raise ValueError(f"unknown system {system!r}; known: {', '.join(topology.systems)}")
    return [system]


def list_parked(topology: Topology, amqp_url: str, system: str | None = None) -> list[ParkedItem]:
    """Peek with basic_get and give everything back by closing the channel unacked."""
    names = topology.names
    out: list[ParkedItem] = []
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        for sid in _systems(topology, system):
            queue = names.parked_queue(sid)
            ch = conn.channel()
            while True:
                method, props, body = _get(ch, queue)
                if method is None:
                    break
                env = Envelope.decode(props.headers)
                if isinstance(env, EnvelopeError):
                    out.append(ParkedItem(queue, sid, "", "", "", env.reason, 1, len(body)))
                else:
                    out.append(ParkedItem(queue, sid, env.digest, env.document_id, ",".join(env.recipients),
                                          env.park_reason or "", env.attempt, len(body)))
            ch.close()
    finally:
        conn.close()
    return out


def replay_parked(topology: Topology, amqp_url: str, system: str | None = None, *, dry_run: bool = False) -> int:
    """Republish each parked message to its system exchange (attempts reset), confirm, then ack."""
    names = topology.names
    moved = 0
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        for sid in _systems(topology, system):
            queue = names.parked_queue(sid)
            ch = conn.channel()
            ch.confirm_delivery()
            while True:
                method, props, body = _get(ch, queue)
                if method is None:
                    break
                if dry_run:
                    moved += 1
                    continue
                env = Envelope.decode(props.headers)
                if isinstance(env, EnvelopeError):  # not the hub's copy: leave it for an operator
                    continue
                fresh = env.replayed()
                ch.basic_publish(
                    names.system_exchange(sid), "", body,
                    pika.BasicProperties(delivery_mode=2, headers=fresh.to_headers(), message_id=fresh.message_id,
                                         content_type=props.content_type),
                    mandatory=True,
                )
                ch.basic_ack(method.delivery_tag)
                moved += 1
            ch.close()  # dry run: closing gives the peeked messages back
    finally:
        conn.close()
    return moved
