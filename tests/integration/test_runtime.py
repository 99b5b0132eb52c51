"""The AMQP runtime on the real broker: fail fast on bad credentials, readiness, draining stop."""

from __future__ import annotations

import threading
import time

import pika
import pytest
from prometheus_client import REGISTRY

from router.amqp.consumer import BrokerAuthError, Consumer, Message
from router.pipeline.decisions import Decision

pytestmark = pytest.mark.integration


def _queue(amqp_url: str, name: str, n: int) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        ch = conn.channel()
        ch.queue_declare(name, durable=True, arguments={
            "x-queue-type": "quorum", "x-delivery-limit": 5, "x-overflow": "reject-publish",
        })
        ch.confirm_delivery()
        for i in range(n):
            ch.basic_publish("", name, f"m{i}".encode(), pika.BasicProperties(delivery_mode=2))
    finally:
        conn.close()


def _depth(amqp_url: str, name: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return int(conn.channel().queue_declare(name, passive=True).method.message_count)
    finally:
        conn.close()


def test_bad_credentials_fail_fast_with_a_clear_message(amqp_url: str, broker_prefix: str) -> None:
    bad = amqp_url.replace("guest:guest@", "guest:wrong-password@")
    consumer = Consumer(bad, [f"{broker_prefix}.q"], lambda m: Decision(), lambda e: None, name="auth")
    started = time.monotonic()
    with pytest.raises(BrokerAuthError) as err:
        consumer.run()
    assert time.monotonic() - started < 15
    assert "refused the credentials" in str(err.value)
    assert "wrong-password" not in str(err.value)


def test_ready_while_consuming_and_stop_drains_without_losing(amqp_url: str, broker_prefix: str) -> None:
    queue = f"{broker_prefix}.work"
    _queue(amqp_url, queue, 40)
    handled: list[bytes] = []
    lock = threading.Lock()

    def slow(m: Message) -> Decision:
        time.sleep(0.1)
        with lock:
            handled.append(m.body)
        return Decision()

    consumer = Consumer(amqp_url, [queue], slow, lambda events: None, name=f"drain-{broker_prefix}",
                        prefetch=10, workers=2, grace_s=10)
    t = threading.Thread(target=consumer.run, daemon=True)
    t.start()
    assert consumer.ready.wait(15)
    assert REGISTRY.get_sample_value("lienthong_consumer_ready", {"consumer": consumer.name}) == 1
    while len(handled) < 5:
        time.sleep(0.02)
    consumer.stop()
    t.join(20)
    assert not t.is_alive(), "stop() must return within the grace period"
    assert REGISTRY.get_sample_value("lienthong_consumer_ready", {"consumer": consumer.name}) == 0
    # every message either handled (and acked) or given back: nothing lost, nothing acked unhandled
    assert consumer.processed == len(handled)
    assert _depth(amqp_url, queue) == 40 - len(handled)
