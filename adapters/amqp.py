"""Direct AMQP: how a DMS (or `lienthong send`) submits a package to the hub, and receives.

The contract (README, "Direct AMQP"; examples/amqp_client.py is a runnable client): publish
the raw edXML bytes to the intake exchange, persistent, `mandatory`, with publisher confirms
and `user_id` set to the login (RabbitMQ rejects a user_id that is not the login; the hub
rejects a missing one). Only after the confirm may the DMS consider the package handed over.
With `reply_to`, the hub answers with the intake result as JSON. A system whose delivery
adapter is `amqp` consumes its own queues `P.sys.<id>.urgent` and `.normal` and acks what it
has stored; the hub's delivery workers leave those queues alone (`DirectQueue`).

`LinkSink` is the hub's side of a link to another province's hub (delivery adapter `shovel`):
it hands the package to the link's queue on the hub's own broker, which a shovel carries on.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import pika
import structlog
from pika.exceptions import AMQPError, UnroutableError

from adapters.folder_poller import Submitted
from adapters.sink import Delivered, Handover, SinkResult, TransientFailure

log = structlog.get_logger("lienthong.adapters.link")

REPLY_TO = "amq.rabbitmq.reply-to"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    confirmed: bool
    result: dict[str, Any] | None  # the hub's intake result, when asked for and received in time


class Submitter:
    """One connection, reused for many submissions (a DMS sends all day)."""

    def __init__(self, url: str, exchange: str) -> None:
        self.exchange = exchange
        self.params = pika.URLParameters(url)
        self.user = self.params.credentials.username
        self.conn = pika.BlockingConnection(self.params)
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()
        self._replies: dict[str, dict[str, Any]] = {}
        self.ch.basic_consume(REPLY_TO, self._on_reply, auto_ack=True)

    def _on_reply(self, ch: Any, method: Any, props: pika.BasicProperties, body: bytes) -> None:
        try:
            self._replies[props.correlation_id or ""] = json.loads(body)
        except ValueError:
            raw = body[:200].decode("latin-1")
            self._replies[props.correlation_id or ""] = {"outcome": "unreadable-reply", "raw": raw}

    def submit(
        self, body: bytes, *, wait_s: float = 30.0, user_id: str | None = "", want_reply: bool = True,
        message_id: str | None = None, headers: dict[str, Any] | None = None,
    ) -> SubmitResult:
        """`user_id=""` means the login (the normal case); None sends no user_id at all.
        `message_id`: the sender's own id of the package (default: a fresh one)."""
        correlation = uuid.uuid4().hex
        props = pika.BasicProperties(
            delivery_mode=2,
            content_type="application/xml",
            user_id=self.user if user_id == "" else user_id,
            timestamp=int(time.time()),
            message_id=message_id or correlation,
            correlation_id=correlation,
            reply_to=REPLY_TO if want_reply else None,
            headers=headers or None,
        )
        try:
            self.ch.basic_publish(self.exchange, "", body, props, mandatory=True)
        except UnroutableError:
            return SubmitResult(False, None)
        if not want_reply:
            return SubmitResult(True, None)
        deadline = time.monotonic() + wait_s
        while correlation not in self._replies and time.monotonic() < deadline:
            self.conn.process_data_events(time_limit=0.2)
        return SubmitResult(True, self._replies.pop(correlation, None))

    def close(self) -> None:
        if self.conn.is_open:
            self.conn.close()

    def outbox(self, *, headers: dict[str, Any] | None = None, wait_s: float = 10.0,
               claim_headers: dict[str, Any] | None = None) -> AmqpOutbox:
        return AmqpOutbox(self, headers or {}, wait_s, claim_headers or {})

    def __enter__(self) -> Submitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class AmqpOutbox:
    """A Submitter as the drop-folder poller's Outbox (adapters/folder_poller.py): confirmed
    publish, the intake result awaited for `wait_s`, `headers` on every message (how the hub
    names the system it submits for); `claim_headers` added when the body is a claim reference
    (the hub spells them: `lt-claim`)."""

    submitter: Submitter
    headers: dict[str, Any]
    wait_s: float = 10.0
    claim_headers: dict[str, Any] = field(default_factory=dict)

    def submit(self, body: bytes, message_id: str, *, claim: bool = False) -> Submitted:
        if claim and not self.claim_headers:
            raise ValueError("this outbox was not given the claim headers: a reference would be read as a package")
        headers = {**self.headers, **self.claim_headers} if claim else self.headers
        done = self.submitter.submit(body, wait_s=self.wait_s, message_id=message_id, headers=headers)
        return Submitted(done.confirmed, done.result)

    def close(self) -> None:
        self.submitter.close()


class DirectQueue:
    """The delivery "sink" of a system that consumes its own queues (adapter `amqp`): the hub
    runs no delivery worker for it (`consumes_itself`). Should one be started for it anyway
    (`lienthong run --system`), nothing is handed over and the copy waits in a retry tier."""

    consumes_itself = True

    def __init__(self, system_id: str) -> None:
        self.system_id = system_id

    def deliver(self, handover: Handover) -> SinkResult:
        return TransientFailure("the recipient's system takes its packages from its own queue")


class LinkSink:
    """Hands a package meant for another province's hub to the link's outbound queue on this
    hub's own broker (`P.link.<system>`), confirmed; a RabbitMQ shovel (router/topology/links.py)
    carries it from there to the other hub's intake, acknowledging only after the other broker
    confirmed it. So a link that is down for hours costs nothing here: the package is handed over
    (and recorded as delivered to the link) as soon as this hub's broker holds it, and the shovel
    catches up when the link is back. A package handed over twice (after a crash between the
    confirm and the ack) reaches the other hub twice, which absorbs the second copy by its digest.

    One connection (any node of the cluster) shared by the delivery workers under a lock; a lost
    connection is opened again once per hand-over before the failure goes to the retry tiers.
    """

    def __init__(self, urls: Sequence[str], queue: str) -> None:
        if not urls:
            raise ValueError("a link needs the hub's own broker (AMQP URLs)")
        self.queue = queue
        self._params = [pika.URLParameters(u) for u in urls]
        self._lock = threading.Lock()
        self._conn: pika.BlockingConnection | None = None
        self._channel: Any = None

    def _open(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._conn = pika.BlockingConnection(self._params)
            self._channel = self._conn.channel()
            self._channel.confirm_delivery()
        return self._channel

    def deliver(self, handover: Handover) -> SinkResult:
        props = pika.BasicProperties(
            delivery_mode=2, content_type="application/xml", message_id=handover.handover_id,
            headers={"lt-handover-id": handover.handover_id},
        )
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._open().basic_publish("", self.queue, handover.read(), props, mandatory=True)
                    return Delivered(f"handed to the link queue {self.queue}")
                except UnroutableError:
                    return TransientFailure(LINK_QUEUE_MISSING)
                except (AMQPError, OSError) as exc:
                    log.warning("link publish failed", queue=self.queue, attempt=attempt, error=str(exc))
                    self.close()
        return TransientFailure(LINK_UNREACHABLE)

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None and conn.is_open:
            with suppress(AMQPError, OSError):
                conn.close()


LINK_QUEUE_MISSING = ("Hàng đợi liên kết chưa được khai báo trên máy chủ / "
                      "the link's queue is not declared on the hub's broker (topology apply)")
LINK_UNREACHABLE = ("Không kết nối được máy chủ hàng đợi của trục / "
                    "the hub's own broker is unreachable; the package will be tried again")
