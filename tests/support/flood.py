"""A windowed publisher with asynchronous confirms that survives broker restarts.

What a well-behaved DMS does with many packages (adapters/amqp.py states the contract): keep a
window of unconfirmed publishes in flight on a SelectConnection instead of one blocking confirm
per message, and when the connection drops, reconnect and publish again whatever was not
confirmed. The hub de-duplicates by digest, so re-sending is always safe; losing an unconfirmed
message silently is not. The benchmark uses it for both the raw broker and the hub, so the two
figures differ only in what is behind the exchange.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.frame import Method
from pika.spec import Basic, BasicProperties


@dataclass
class FloodReport:
    total: int
    confirmed: int = 0
    #: publishes repeated because their confirm never came (connection lost) or was a nack/return
    republished: int = 0
    reconnects: int = 0
    #: first publish time (time.time()) of each message, by index
    sent_at: dict[int, float] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0
    #: time from losing the connection to the next confirmed publish, one per reconnect
    outages_s: list[float] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.confirmed >= self.total


class Flood:
    """Publish `bodies` to `exchange`/`routing_key`, persistent and `mandatory`, each with
    `message_id` = its index; `user_id` = the login when `with_user_id`. `run()` blocks until
    every message is confirmed (reconnecting as often as needed) or `stop()` is called."""

    def __init__(
        self,
        url: str,
        exchange: str,
        bodies: Sequence[bytes],
        *,
        routing_key: str = "",
        window: int = 256,
        with_user_id: bool = True,
        max_rate: float | None = None,
        reconnect_delay_s: float = 0.5,
        headers: Callable[[int], dict[str, Any]] | None = None,
    ) -> None:
        self.params = pika.URLParameters(url)
        self.exchange = exchange
        self.routing_key = routing_key
        self.bodies = bodies
        self.window = window
        self.user_id = self.params.credentials.username if with_user_id else None
        self.max_rate = max_rate
        self.reconnect_delay_s = reconnect_delay_s
        self.headers = headers
        self.report = FloodReport(total=len(bodies))
        self.progress = threading.Condition()
        self._todo: deque[int] = deque(range(len(bodies)))
        self._confirmed = bytearray(len(bodies))
        self._outstanding: dict[int, int] = {}  # channel delivery tag -> message index
        self._returned: set[int] = set()
        self._tag = 0
        self._conn: SelectConnection | None = None
        self._channel: Channel | None = None
        self._stopping = False
        self._lost_at: float | None = None

    # -- public ---------------------------------------------------------------------------------
    def run(self) -> FloodReport:
        self.report.started = time.time()
        while not self.report.done and not self._stopping:
            self._connect_once()
            if not self.report.done and not self._stopping:
                if self._lost_at is None:
                    self._lost_at = time.time()
                self.report.reconnects += 1
                time.sleep(self.reconnect_delay_s)
        self.report.finished = time.time()
        return self.report

    def stop(self) -> None:
        self._stopping = True
        conn = self._conn
        if conn is not None:
            conn.ioloop.add_callback_threadsafe(lambda: conn.close() if conn.is_open else conn.ioloop.stop())

    def wait_confirmed(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.progress:
            while self.report.confirmed < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.progress.wait(left)
        return True

    # -- one connection -------------------------------------------------------------------------
    def _connect_once(self) -> None:
        # whatever was in flight on the previous connection goes first, unconfirmed = unsent
        if self._outstanding:
            pending = sorted(set(self._outstanding.values()))
            self.report.republished += len(pending)
            self._todo.extendleft(reversed(pending))
            self._outstanding.clear()
        self._tag = 0
        self._conn = SelectConnection(
            self.params,
            on_open_callback=lambda c: c.channel(on_open_callback=self._on_channel),
            on_open_error_callback=lambda c, e: c.ioloop.stop(),
            on_close_callback=lambda c, r: c.ioloop.stop(),
        )
        try:
            self._conn.ioloop.start()
        finally:
            self._conn = None
            self._channel = None

    def _on_channel(self, channel: Channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(lambda ch, reason: self._close())
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=lambda _f: self._pump())

    def _close(self) -> None:
        conn = self._conn
        if conn is not None and conn.is_open:
            conn.close()

    def _pump(self) -> None:
        ch = self._channel
        if ch is None or not ch.is_open:
            return
        now = time.time()
        while self._todo and len(self._outstanding) < self.window:
            if self.max_rate and self.report.sent_at:
                due = self.report.started + len(self.report.sent_at) / self.max_rate
                if now < due and self._todo[0] not in self.report.sent_at:
                    assert self._conn is not None
                    self._conn.ioloop.call_later(due - now, self._pump)
                    return
            i = self._todo.popleft()
            if self._confirmed[i]:
                continue
            self._tag += 1
            self._outstanding[self._tag] = i
            self.report.sent_at.setdefault(i, now)
            props = BasicProperties(
                delivery_mode=2, content_type="application/xml", message_id=str(i), user_id=self.user_id,
                timestamp=int(now), headers=self.headers(i) if self.headers else None,
            )
            ch.basic_publish(self.exchange, self.routing_key, self.bodies[i], props, mandatory=True)
        if self.report.done:
            self._close()

    def _on_return(self, ch: Channel, method: Basic.Return, props: BasicProperties, body: bytes) -> None:
        if props.message_id is not None:
            self._returned.add(int(props.message_id))

    def _on_confirm(self, frame: Method) -> None:
        method = frame.method
        ack = isinstance(method, Basic.Ack)
        tags = [t for t in self._outstanding if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        newly = 0
        for tag in tags:
            i = self._outstanding.pop(tag, None)
            if i is None:
                continue
            if ack and i not in self._returned:
                if not self._confirmed[i]:
                    self._confirmed[i] = 1
                    newly += 1
            else:  # nacked or unroutable: not handed over, send again
                self._returned.discard(i)
                self.report.republished += 1
                self._todo.append(i)
        if newly:
            if self._lost_at is not None:
                self.report.outages_s.append(time.time() - self._lost_at)
                self._lost_at = None
            with self.progress:
                self.report.confirmed += newly
                self.progress.notify_all()
        self._pump()


def flood_in_thread(flood: Flood) -> threading.Thread:
    t = threading.Thread(target=flood.run, name="flood", daemon=True)
    t.start()
    return t
