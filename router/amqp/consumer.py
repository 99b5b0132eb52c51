"""Running a stage on RabbitMQ: consume, work off the I/O thread, publish with asynchronous
confirms, write the ledger, then settle — and stay up across broker restarts.

One `Consumer` owns one pika SelectConnection. Its I/O thread only moves bytes: messages go to
a small pool of worker threads (urgent queues first), and every channel operation the workers
need is handed back through `add_callback_threadsafe` (pika is not thread-safe; design.md §4).
Publishes are confirmed asynchronously (a window of outstanding publishes, not one blocking
confirm per message), `mandatory` so an unroutable copy is a failure, not a silent loss.
The input message is acked only after every publish it caused was confirmed and the ledger
recorded it: publish downstream, wait for the confirm, then ack upstream.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import pika
import structlog
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.exceptions import AMQPConnectionError, ProbableAccessDeniedError, ProbableAuthenticationError
from pika.spec import Basic, BasicProperties
from tenacity import Retrying, retry_if_exception_type, wait_random_exponential

from ops import metrics
from router.amqp.executor import Executor, Step, requeue_delay_s
from router.amqp.group_commit import GroupCommit
from router.amqp.observe import Observer
from router.ledger.events import LedgerEvent
from router.pipeline.decisions import Decision, Publish
from router.pipeline.envelope import SYSTEM
from router.pipeline.failure import Failure, FailureKind
from router.pipeline.recovery import Inbound

log = structlog.get_logger("lienthong.runtime")
#: The only replies the hub sends: on the submitter's own direct reply-to route. A `reply_to`
#: naming anything else (another system's queue) is ignored, never published to.
REPLY_ROUTE = "amq.rabbitmq.reply-to."


class BrokerAuthError(RuntimeError):
    """Wrong credentials or vhost: retrying would only lock the account; fail fast."""


class ConnectionLost(RuntimeError):
    pass


class HealthyConnectionLost(RuntimeError):
    """A connection that had been healthy was lost: reconnect with a fresh backoff."""


@dataclass
class Message:
    body: bytes
    headers: dict[str, Any]
    user_id: str | None
    timestamp: datetime | None
    reply_to: str | None
    correlation_id: str | None
    delivery_tag: int
    queue: str
    redelivered: bool
    generation: int
    priority: int = 1
    #: SHA-256 of the body, computed once on arrival and carried to the stage
    digest: str = ""
    #: copies with the same key are never worked on at once (see `Consumer._on_message`)
    key: str = ""
    inbound: Inbound | None = None
    #: what the stage read ahead for the messages taken with this one (`Consumer(window=...)`)
    window: object | None = None
    #: seconds the handler took, with this message's share of its window's reads (observer)
    handled_s: float = 0.0

    @property
    def delivery_count(self) -> int:
        """Quorum queues count returns in `x-delivery-count` (absent on first delivery)."""
        value = self.headers.get("x-delivery-count", 0)
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0


Handler = Callable[[Message], Decision]
LedgerWriter = Callable[[Sequence[LedgerEvent]], None]


class Window(Protocol):
    """What a stage reads ahead for the messages one worker takes at once (router/pipeline/window.py)."""

    def close(self) -> None: ...


#: builds a window for messages taken at once; the handler finds it on `Message.window`
WindowReader = Callable[[Sequence[Message]], Window]


@dataclass
class _Tracker:
    message: Message
    decision: Decision
    remaining: int
    failed: FailureKind | None = None
    detail: str = ""
    #: set when the decision carries out a failure decision (its own failures are not re-decided)
    step: Step | None = None


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    message: Message = field(compare=False)


class _Pool:
    """Worker threads fed by a priority heap, so urgent messages overtake normal ones. A worker
    takes up to `batch` messages at once — its share of what waits, so a short queue still
    spreads over every worker — for the stage to read the ledger once for all of them."""

    def __init__(self, workers: int, run: Callable[[list[Message]], None], name: str, batch: int = 1) -> None:
        self._heap: list[_Job] = []
        self._cv = threading.Condition()
        self._seq = itertools.count()
        self._run = run
        self._closed = False
        self._workers = workers
        self._batch = max(1, batch)
        self.busy = 0
        self._threads = [threading.Thread(target=self._loop, name=f"{name}-w{i}", daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, message: Message) -> None:
        with self._cv:
            heapq.heappush(self._heap, _Job(message.priority, next(self._seq), message))
            self._cv.notify()

    def drop_queued(self) -> int:
        """Forget messages not started yet: the broker re-delivers them once the channel closes."""
        with self._cv:
            n = len(self._heap)
            self._heap.clear()
            return n

    def idle(self) -> bool:
        with self._cv:
            return not self._heap and self.busy == 0

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._heap and not self._closed:
                    self._cv.wait()
                if self._closed and not self._heap:
                    return
                n = min(self._batch, -(-len(self._heap) // self._workers))
                jobs = [heapq.heappop(self._heap).message for _ in range(n)]
                self.busy += 1
            try:
                self._run(jobs)
            finally:
                with self._cv:
                    self.busy -= 1


class Consumer:
    def __init__(
        self,
        url: str | Sequence[str],
        queues: Sequence[str],
        handler: Handler,
        ledger_write: LedgerWriter,
        *,
        name: str,
        prefetch: int = 64,
        workers: int = 4,
        grace_s: float = 20.0,
        executor: Executor | None = None,
        queue_priority: Mapping[str, int] | None = None,
        max_reconnect_wait_s: float = 30.0,
        healthy_after_s: float = 5.0,
        observer: Observer | None = None,
        window: WindowReader | None = None,
        batch: int = 16,
    ) -> None:
        """`executor` carries out failure decisions (without one, a failure gives the message
        back to the broker after a delay: tests of the bare runtime). A connection consuming
        for `healthy_after_s`, or that settled a message, resets the reconnect backoff.
        `window`: the stage's read-ahead for up to `batch` messages a worker takes at once (each
        is still decided, carried out and settled on its own)."""
        #: the nodes of one cluster, tried in turn, one per connection attempt
        self.urls = [url] if isinstance(url, str) else list(url)
        self.url = self.urls[0]
        self._user = pika.URLParameters(self.url).credentials.username
        self.queues = list(queues)
        self.handler = handler
        self.ledger_write = ledger_write
        self.name = name
        self.prefetch = prefetch
        self.grace_s = grace_s
        self.executor = executor
        self.healthy_after_s = healthy_after_s
        self._consuming_since: float | None = None
        self._settled_on_connection = 0
        self._lost_at: float | None = None
        #: seconds from each connection loss to consuming again (probes, tests, the log)
        self.recoveries: list[float] = []
        self.queue_priority = dict(queue_priority or {})
        self.max_reconnect_wait_s = max_reconnect_wait_s
        #: the one observation point: log context, canonical outcome event, metrics
        self.observer = observer or Observer(name)
        self.ready = threading.Event()
        self.stopped = threading.Event()
        self._stopping = False
        self._generation = 0
        self._conn: SelectConnection | None = None
        self._channel: Channel | None = None
        self._consumer_tags: list[str] = []
        self._seq = 0
        self._pending: dict[int, _Tracker | None] = {}
        self._by_message_id: dict[str, _Tracker] = {}
        # key -> copies waiting for the one in progress to settle (I/O thread only)
        self._in_progress: dict[str, list[Message]] = {}
        self._open_messages = 0
        self._fatal: BaseException | None = None
        self._lost = False
        self.window = window
        self._pool = _Pool(workers, self._work_batch, name, batch if window is not None else 1)
        # One writer thread commits the ledger events of many messages at once (group commit);
        # workers and the I/O thread hand it events with a continuation instead of waiting.
        self._ledger = GroupCommit.shared(ledger_write, name=name)
        # Failure decisions are built here (intake parks re-read the package): never on the I/O
        # or the ledger writer thread.
        self._after_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{name}-after")
        self.processed = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def run(self) -> None:
        """Consume until `stop()`; reconnect with bounded, jittered backoff on connection loss.
        The backoff starts afresh after a healthy connection (consuming for `healthy_after_s`,
        or a message settled): a hub that ran for a day reconnects at once, not after 30 s."""
        try:
            while True:
                retrying = Retrying(
                    retry=retry_if_exception_type((ConnectionLost, AMQPConnectionError)),
                    wait=wait_random_exponential(multiplier=0.5, max=self.max_reconnect_wait_s),
                    reraise=True,
                    before_sleep=self._before_reconnect,
                )
                try:
                    for attempt in retrying:
                        with attempt:
                            self._run_once()
                    return
                except HealthyConnectionLost as exc:
                    metrics.RECONNECTS.labels(self.name).inc()
                    log.warning("reconnecting", consumer=self.name, attempt=0, error=str(exc))
        finally:
            self._pool.close()
            self._after_pool.shutdown(wait=False)
            self._ledger.close()
            self._set_ready(False)
            self.stopped.set()

    def _healthy(self) -> bool:
        since = self._consuming_since
        return self._settled_on_connection > 0 or (
            since is not None and time.monotonic() - since >= self.healthy_after_s)

    def _before_reconnect(self, rs: Any) -> None:
        metrics.RECONNECTS.labels(self.name).inc()
        log.warning("reconnecting", consumer=self.name, attempt=rs.attempt_number,
                    error=str(rs.outcome.exception()) if rs.outcome else None)

    def _set_ready(self, ready: bool) -> None:
        """Readiness is false from a connection loss until consuming again (probes, metrics)."""
        if ready:
            self.ready.set()
        else:
            self.ready.clear()
        metrics.READY.labels(self.name).set(1 if ready else 0)

    def stop(self) -> None:
        """Thread-safe and signal-safe: stop intake, finish in-flight work, give the rest back."""
        self._stopping = True
        conn = self._conn
        if conn is not None:
            try:
                conn.ioloop.add_callback_threadsafe(self._begin_shutdown)
            except Exception:  # noqa: BLE001 - the loop may already be gone
                log.debug("stop: ioloop gone", consumer=self.name)

    def _run_once(self) -> None:
        if self._stopping:
            return
        if self._generation > 0:
            self._let_old_handlers_finish()
        self._generation += 1
        self._pending.clear()
        self._by_message_id.clear()
        self._in_progress.clear()
        self._open_messages = 0  # the old channel's messages are the broker's again
        self._seq = 0
        self._lost = False
        self._fatal = None
        self._consuming_since = None
        self._settled_on_connection = 0
        self.url = self.urls[(self._generation - 1) % len(self.urls)]
        params = pika.URLParameters(self.url)
        params.heartbeat = 30
        params.blocked_connection_timeout = 300
        params.client_properties = {"connection_name": f"lienthong:{self.name}"}
        self._conn = SelectConnection(
            params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
        )
        self._conn.ioloop.start()
        self._conn = None
        self._channel = None
        self._set_ready(False)
        if self._fatal is not None:
            raise self._fatal
        if self._lost and not self._stopping:
            if self._healthy():
                raise HealthyConnectionLost(f"{self.name}: connection to the broker lost")
            raise ConnectionLost(f"{self.name}: connection to the broker lost")

    def _let_old_handlers_finish(self) -> None:
        """Before consuming on a new connection: the old channel's messages can no longer be
        settled (the broker re-delivers them), so drop those not started, and let the handlers
        already running finish — a re-delivered copy must not meet its predecessor still inside
        the sink (the copy rule of `_on_message` only spans one connection)."""
        self._pool.drop_queued()
        deadline = time.monotonic() + self.grace_s
        while not self._pool.idle() and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- connection callbacks (I/O thread) -----------------------------------------------------
    def _on_open(self, conn: SelectConnection) -> None:
        conn.channel(on_open_callback=self._on_channel)

    def _on_open_error(self, conn: SelectConnection, error: BaseException) -> None:
        if isinstance(error, ProbableAuthenticationError | ProbableAccessDeniedError):
            self._fatal = BrokerAuthError(
                f"{self.name}: the broker refused the credentials or vhost in {_safe(self.url)}: {error}"
            )
        else:
            self._lost = True
        conn.ioloop.stop()

    def _on_closed(self, conn: SelectConnection, reason: BaseException) -> None:
        self._set_ready(False)
        if not self._stopping and self._lost_at is None:
            self._lost_at = time.monotonic()
        if not self._stopping:
            log.warning("connection closed", consumer=self.name, reason=str(reason))
            self._lost = True
        conn.ioloop.stop()

    def _on_channel(self, channel: Channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm)
        channel.basic_qos(prefetch_count=self.prefetch, callback=lambda _f: self._start_consuming())

    def _on_channel_closed(self, channel: Channel, reason: BaseException) -> None:
        if not self._stopping:
            log.error("channel closed", consumer=self.name, reason=str(reason))
            self._lost = True
        conn = self._conn
        if conn is not None and conn.is_open:
            conn.close()

    def _start_consuming(self) -> None:
        assert self._channel is not None
        self._consumer_tags = [
            self._channel.basic_consume(q, self._on_message, auto_ack=False) for q in self.queues
        ]
        self._consuming_since = time.monotonic()
        if self._lost_at is not None:
            self.recoveries.append(self._consuming_since - self._lost_at)
            log.info("recovered", consumer=self.name, after_s=round(self.recoveries[-1], 3))
            self._lost_at = None
        self._set_ready(True)
        log.info("consuming", consumer=self.name, queues=self.queues)

    def _on_message(self, ch: Channel, method: Basic.Deliver, props: BasicProperties, body: bytes) -> None:
        ts = datetime.fromtimestamp(props.timestamp, UTC) if props.timestamp else None
        msg = Message(
            body=body, headers=dict(props.headers or {}), user_id=props.user_id, timestamp=ts,
            reply_to=props.reply_to, correlation_id=props.correlation_id, delivery_tag=method.delivery_tag,
            queue=self._queue_of(method.consumer_tag), redelivered=method.redelivered,
            generation=self._generation,
        )
        msg.priority = self.queue_priority.get(msg.queue, 1)
        msg.digest = hashlib.sha256(body).hexdigest()
        msg.key = f"{msg.headers.get(SYSTEM, '')}:{msg.digest}"
        self._open_messages += 1
        # Two copies of one package (a re-sent submission, a copy routed again after a crash)
        # worked on at once would both pass the ledger's "already done?" check and both reach
        # the sink. The second waits until the first is settled — its ledger events committed —
        # and then finds it done.
        waiting = self._in_progress.get(msg.key)
        if waiting is not None:
            waiting.append(msg)
            return
        self._in_progress[msg.key] = []
        self._pool.submit(msg)

    def _release(self, msg: Message) -> None:
        waiting = self._in_progress.get(msg.key)
        if waiting is None:
            return
        if waiting:
            self._pool.submit(waiting.pop(0))
        else:
            del self._in_progress[msg.key]

    def _queue_of(self, consumer_tag: str) -> str:
        for tag, q in zip(self._consumer_tags, self.queues, strict=False):
            if tag == consumer_tag:
                return q
        return ""

    # -- worker side ----------------------------------------------------------------------------
    def _work_batch(self, batch: list[Message]) -> None:
        """Messages taken at once: those the failure policy already decided (a dead letter, a
        retry past its budget) go their way; the stage reads ahead for the rest; then each is
        handled on its own, as if alone — a message that fails fails alone."""
        todo: list[Message] = []
        for msg in batch:
            carried = self.executor.carried_in(self._inbound(msg)) if self.executor is not None else None
            if carried is not None:
                self._guarded(msg, partial(self._fail, failure=carried))
            else:
                todo.append(msg)
        window = self._read_ahead(todo)
        try:
            for msg in todo:
                msg.window = window
                self._guarded(msg, self._work)
                msg.window = None
        finally:
            if window is not None:
                window.close()

    def _read_ahead(self, todo: list[Message]) -> Window | None:
        """The stage's window for `todo`, its time shared among them; None when there is nothing
        to share or it cannot be read (each message then reads for itself, and meets the failure
        on its own path)."""
        if self.window is None or not todo:
            return None
        self.observer.window(len(todo))
        if len(todo) < 2:
            return None
        start = time.perf_counter()
        try:
            window = self.window(todo)
        except Exception as exc:  # noqa: BLE001 - the ledger is down, say: each reads for itself
            log.warning("window not read; each message reads for itself", consumer=self.name, error=repr(exc))
            return None
        share = (time.perf_counter() - start) / len(todo)
        for msg in todo:
            msg.handled_s = share
        return window

    def _guarded(self, msg: Message, work: Callable[[Message], None]) -> None:
        """A bug in the runtime's own handling of one message must not take the rest of the batch,
        nor the worker, with it: that message goes back to the broker later."""
        try:
            work(msg)
        except Exception as exc:  # noqa: BLE001
            log.error("message handling broke; back to the broker later", consumer=self.name, error=repr(exc))
            self._threadsafe(lambda: self._requeue_later(msg))

    def _work(self, msg: Message) -> None:
        try:
            decision = self.observer.decide(msg, self.handler)
        except Exception as exc:  # noqa: BLE001 - a poison message must not kill the worker
            log.error("handler crashed", consumer=self.name, queue=msg.queue, error=repr(exc),
                      delivery_count=msg.delivery_count)
            self._fail(msg, Executor.crashed(exc))
            return
        if decision.failure is not None:
            self._fail(msg, decision.failure)
            return
        self._carry(msg, decision, None)

    @staticmethod
    def inbound_of(msg: Message) -> Inbound:
        """The stage-facing view of a message (built once per delivery)."""
        return Consumer._inbound(msg)

    @staticmethod
    def _inbound(msg: Message) -> Inbound:
        if msg.inbound is None:
            msg.inbound = Executor.inbound(msg.body, msg.headers, msg.user_id, msg.digest, msg.queue)
        return msg.inbound

    def _fail(self, msg: Message, failure: Failure) -> None:
        """Any thread but the I/O one: the policy decides, the executor builds, we carry it out."""
        if self.executor is None:
            log.error("failure without an executor: back to the broker later", consumer=self.name,
                      failure=failure.kind.value, detail=failure.detail)
            self._threadsafe(lambda: self._requeue_later(msg))
            return
        self.observer.bind(msg)
        try:
            step = self.executor.plan(self._inbound(msg), failure)
        except Exception as exc:  # noqa: BLE001 - building the decision failed: never lose the message
            log.error("failure decision could not be built", consumer=self.name, error=repr(exc))
            self._threadsafe(lambda: self._requeue_later(msg))
            return
        self.observer.failure(step)
        self._carry(msg, step.decision, step)

    def _fail_later(self, msg: Message, failure: Failure) -> None:
        self._later(self._fail, msg, failure)

    def _later(self, fn: Callable[..., None], *args: Any) -> None:
        """Off the I/O and ledger writer threads (building a failure decision may parse)."""
        try:
            self._after_pool.submit(fn, *args)
        except RuntimeError:  # shutting down: the broker re-delivers
            log.debug("after pool closed", consumer=self.name)

    def _carry(self, msg: Message, decision: Decision, step: Step | None) -> None:
        """Record `before`, publish, wait for the confirms, record `after`, settle."""
        if not decision.before:
            self._threadsafe(lambda: self._execute(msg, decision, step))
            return

        def recorded(err: BaseException | None) -> None:  # on the ledger writer thread
            if err is None:
                self._threadsafe(lambda: self._execute(msg, decision, step))
            elif step is None:
                self._fail_later(msg, Failure(FailureKind.LEDGER_BEFORE, repr(err)[:500]))
            else:  # the park record could not be written: hold the copy and park later
                self._later(self._park_later, msg, step)

        try:
            self._ledger.submit(decision.before, recorded)
        except RuntimeError:  # writer closed: shutting down, the broker re-delivers
            self._threadsafe(lambda: self._settle(msg, "requeue"))

    def _park_later(self, msg: Message, step: Step) -> None:
        later = self.executor.park_later(self._inbound(msg), step) if self.executor is not None else None
        if later is None:
            self._threadsafe(lambda: self._requeue_later(msg))
        else:
            self.observer.failure(later)
            self._carry(msg, later.decision, later)

    def _after_confirms(self, msg: Message, decision: Decision, step: Step | None) -> None:
        """I/O thread: every publish confirmed; record `after`, then settle."""
        if not decision.after:
            self._settle(msg, decision.settle, decision)
            return

        def recorded(err: BaseException | None) -> None:  # on the ledger writer thread
            if err is None:
                self._threadsafe(lambda: self._settle(msg, decision.settle, decision))
            elif step is None:
                log.error("ledger write failed after publishing", consumer=self.name, error=repr(err))
                self._fail_later(msg, Failure(FailureKind.LEDGER_AFTER, repr(err)[:500]))
            else:  # the copy is safe in its tier or parked queue; only the bookkeeping is missing
                log.error("ledger write failed after a failure decision; settled anyway", consumer=self.name,
                          step=step.kind, error=repr(err))
                self._threadsafe(lambda: self._settle(msg, "ack", decision))

        try:
            self._ledger.submit(decision.after, recorded)
        except RuntimeError:  # writer closed: shutting down, the broker re-delivers
            self._settle(msg, "requeue")

    def _threadsafe(self, fn: Callable[[], None]) -> None:
        conn = self._conn
        if conn is None:
            return  # connection gone: the broker re-delivers the message to the next connection
        try:
            conn.ioloop.add_callback_threadsafe(fn)
        except Exception:  # noqa: BLE001
            log.debug("ioloop closed before settling", consumer=self.name)

    # -- I/O thread: publish, confirm, settle -------------------------------------------------------
    def _execute(self, msg: Message, decision: Decision, step: Step | None = None) -> None:
        if msg.generation != self._generation or self._channel is None or not self._channel.is_open:
            return
        if not decision.publishes:
            self._after_confirms(msg, decision, step)
            return
        tracker = _Tracker(msg, decision, len(decision.publishes), step=step)
        for pub in decision.publishes:
            self._publish(pub, tracker)

    def _publish(self, pub: Publish, tracker: _Tracker | None) -> None:
        assert self._channel is not None
        self._seq += 1
        message_id = pub.message_id or f"{self._generation}-{self._seq}"
        if message_id in self._by_message_id:  # the same copy twice in one window: keep returns apart
            message_id = f"{message_id}~{self._generation}-{self._seq}"
        props = BasicProperties(
            delivery_mode=2, headers=dict(pub.headers), priority=pub.priority, message_id=message_id,
            content_type="application/xml", timestamp=int(time.time()), correlation_id=pub.correlation_id,
            # the broker checks it against our login: whoever reads a copy can tell it is the hub's
            user_id=self._user,
        )
        self._pending[self._seq] = tracker
        if tracker is not None:
            self._by_message_id[message_id] = tracker
        self._channel.basic_publish(pub.exchange, pub.routing_key, pub.body, props, mandatory=tracker is not None)

    def _on_return(self, ch: Channel, method: Basic.Return, props: BasicProperties, body: bytes) -> None:
        tracker = self._by_message_id.get(props.message_id or "")
        if tracker is not None:
            tracker.failed = FailureKind.PUBLISH_RETURNED
            tracker.detail = f"unroutable: {method.reply_text} ({method.exchange!r}, {method.routing_key!r})"
            log.error("publish returned", consumer=self.name, exchange=method.exchange, key=method.routing_key)

    def _on_confirm(self, frame: pika.frame.Method) -> None:
        method = frame.method
        ack = isinstance(method, Basic.Ack)
        tags = [t for t in self._pending if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        for tag in tags:
            tracker = self._pending.pop(tag, None)
            if tracker is None:
                continue
            if not ack:
                tracker.failed = FailureKind.PUBLISH_NACKED
                tracker.detail = "broker nacked a publish"
            tracker.remaining -= 1
            if tracker.remaining == 0:
                for mid in [k for k, v in self._by_message_id.items() if v is tracker]:
                    del self._by_message_id[mid]
                if tracker.failed is None:
                    self._after_confirms(tracker.message, tracker.decision, tracker.step)
                elif tracker.step is None:
                    log.error("publish failed", consumer=self.name, error=tracker.detail)
                    self._fail_later(tracker.message, Failure(tracker.failed, tracker.detail))
                else:  # even the retry or park copy was refused: the last resort
                    log.error("failure copy refused by the broker", consumer=self.name, error=tracker.detail)
                    self._requeue_later(tracker.message)

    def _settle(self, msg: Message, how: str, decision: Decision | None = None) -> None:
        """`decision`: the one carried out (its reply is sent, its outcome observed on ack)."""
        ch = self._channel
        if msg.generation != self._generation or ch is None or not ch.is_open:
            return
        reply = decision.reply if decision is not None else None
        if reply and msg.reply_to and msg.reply_to.startswith(REPLY_ROUTE):
            self._publish(
                Publish("", msg.reply_to, json.dumps(dict(reply), ensure_ascii=False).encode("utf-8"), {},
                        correlation_id=msg.correlation_id),
                None,
            )
        if how == "ack":
            ch.basic_ack(msg.delivery_tag)
            if decision is not None:
                self.observer.settled(msg, decision.outcome)
        else:
            # reject (not nack) so quorum queues count it toward the delivery limit
            ch.basic_reject(msg.delivery_tag, requeue=True)
        self._open_messages -= 1
        self.processed += 1
        self._settled_on_connection += 1
        self._release(msg)

    def _requeue_later(self, msg: Message) -> None:
        """I/O thread. The last resort: give the message back to the broker after a growing
        delay — never at once (that spent the delivery limit in milliseconds), never dropped.
        `basic.reject` counts toward the delivery limit, whose dead letters the hub records."""
        conn = self._conn
        if conn is None or msg.generation != self._generation:
            return
        delay = requeue_delay_s(msg.delivery_count)
        log.warning("giving the message back to the broker later", consumer=self.name, delay_s=round(delay, 2),
                    delivery_count=msg.delivery_count)
        conn.ioloop.call_later(delay, lambda: self._settle(msg, "requeue"))

    # -- shutdown -------------------------------------------------------------------------------
    def _begin_shutdown(self) -> None:
        ch = self._channel
        self._set_ready(False)
        if ch is not None and ch.is_open:
            for tag in self._consumer_tags:
                ch.basic_cancel(tag)
        dropped = self._pool.drop_queued()
        for waiting in self._in_progress.values():
            dropped += len(waiting)
            waiting.clear()
        self._open_messages -= dropped
        deadline = time.monotonic() + self.grace_s
        log.info("draining", consumer=self.name, returned_to_broker=dropped, in_flight=self._open_messages)
        self._wait_drained(deadline)

    def _wait_drained(self, deadline: float) -> None:
        conn = self._conn
        if conn is None:
            return
        if (self._open_messages <= 0 and self._pool.idle()) or time.monotonic() >= deadline:
            if self._open_messages > 0:
                log.warning("grace period over; unsettled messages go back to the broker",
                            consumer=self.name, unsettled=self._open_messages)
            if conn.is_open:
                conn.close()
            else:
                conn.ioloop.stop()
            return
        conn.ioloop.call_later(0.05, lambda: self._wait_drained(deadline))


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    p = pika.URLParameters(url)
    return f"amqp://{p.credentials.username}@{p.host}:{p.port}/{p.virtual_host}"
