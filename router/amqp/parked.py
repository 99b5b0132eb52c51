"""Parked packages: list them without losing them, replay them after the cause is fixed.

Two kinds of parked queue: each system's `P.sys.S.parked` (routed copies that could not be
delivered) and `P.intake.parked` (submitted packages the route stage could not finish),
listed and replayed under the pseudo-system name `intake`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import pika
from pika.exceptions import ChannelClosedByBroker

from router.pipeline.envelope import PARK_CODE, Envelope, EnvelopeError, Submission
from router.topology.build import Topology
from schemas.findings import Code

#: `--system intake` names the intake parked queue.
INTAKE = "intake"


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
    code: str = ""
    submitted_by: str = ""


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


def _queues(topology: Topology, system: str | None) -> list[tuple[str, str]]:
    """(system or `intake`, parked queue) to visit."""
    everything = [(INTAKE, topology.names.intake_parked)] + [
        (sid, topology.names.parked_queue(sid)) for sid in topology.systems]
    if system is None:
        return everything
    chosen = [(s, q) for s, q in everything if s == system]
    if not chosen:
        raise ValueError(f"unknown system {system!r}; known: {', '.join(s for s, _ in everything)}")
    return chosen


def _item(queue: str, sid: str, props: Any, body: bytes) -> ParkedItem:
    if sid == INTAKE:
        sub = Submission.decode(props.headers)
        return ParkedItem(queue, sid, hashlib.sha256(body).hexdigest(), "", "", sub.park_reason or "", sub.attempt,
                          len(body), sub.park_code or "", sub.submitted_by)
    env = Envelope.decode(props.headers)
    if isinstance(env, EnvelopeError):
        return ParkedItem(queue, sid, "", "", "", env.reason, 1, len(body))
    return ParkedItem(queue, sid, env.digest, env.document_id, ",".join(env.recipients), env.park_reason or "",
                      env.attempt, len(body), env.park_code or "", env.submitted_by)


def list_parked(topology: Topology, amqp_url: str, system: str | None = None) -> list[ParkedItem]:
    """Peek with basic_get and give everything back by closing the channel unacked."""
    out: list[ParkedItem] = []
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        for sid, queue in _queues(topology, system):
            ch = conn.channel()
            while True:
                method, props, body = _get(ch, queue)
                if method is None:
                    break
                out.append(_item(queue, sid, props, body))
            ch.close()
    finally:
        conn.close()
    return out


def replay_parked(
    topology: Topology, amqp_url: str, system: str | None = None, *, dry_run: bool = False,
    hub_users: Collection[str] | None = None,
) -> int:
    """Republish each parked message (attempts reset), confirm, then ack: a routed copy to its
    system exchange, a submitted package to `P.intake.retried` with our own `user_id`, which is
    what lets the route stage trust the submitter the copy names.

    Only what the hub parked is replayed: a message whose broker-validated `user_id` is not one
    of `hub_users` (default: our own user) was put there by someone else and stays for an
    operator, and so does anything marked COPY_FORGED; the delivery stage checks every replayed
    copy against the ledger again."""
    names = topology.names
    params = pika.URLParameters(amqp_url)
    trusted = frozenset(hub_users) if hub_users is not None else frozenset({params.credentials.username})
    moved = 0
    conn = pika.BlockingConnection(params)
    try:
        for sid, queue in _queues(topology, system):
            ch = conn.channel()
            ch.confirm_delivery()
            while True:
                method, props, body = _get(ch, queue)
                if method is None:
                    break
                if props.user_id not in trusted or (props.headers or {}).get(PARK_CODE) == Code.COPY_FORGED.value:
                    continue  # not the hub's: left unacked, back in the queue when the channel closes
                if dry_run:
                    moved += 1
                    continue
                if sid == INTAKE:
                    sub = Submission.decode(props.headers).replayed()
                    exchange, key, headers = "", names.intake_retried, sub.to_headers()
                    message_id = f"{hashlib.sha256(body).hexdigest()}.intake.replay"
                else:
                    env = Envelope.decode(props.headers)
                    if isinstance(env, EnvelopeError):  # not the hub's copy: leave it for an operator
                        continue
                    fresh = env.replayed()
                    exchange, key, headers, message_id = names.system_exchange(sid), "", fresh.to_headers(), \
                        fresh.message_id
                ch.basic_publish(
                    exchange, key, body,
                    pika.BasicProperties(delivery_mode=2, headers=headers, message_id=message_id,
                                         content_type=props.content_type, user_id=params.credentials.username),
                    mandatory=True,
                )
                ch.basic_ack(method.delivery_tag)
                moved += 1
            ch.close()  # dry run: closing gives the peeked messages back
    finally:
        conn.close()
    return moved
