"""Broker rights are exactly the contract (issue 8 item 1, first part): with its own
credentials a system can publish to the intake exchange and nowhere else — not to any other
exchange of the topology and not to any queue through the default exchange — and can consume
only its own queues. Every exchange and queue of the topology is tried with every account on
the real broker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker

from tests.support.hub import RunningHub, running_hub
from tests.support.services import delete_broker_objects, unique_prefix

pytestmark = pytest.mark.integration

ACCESS_REFUSED = 403


def _refused(conn: pika.BlockingConnection, op: Callable[[Any], object]) -> bool:
    ch = conn.channel()
    ch.confirm_delivery()
    try:
        op(ch)
    except ChannelClosedByBroker as exc:
        return exc.reply_code == ACCESS_REFUSED
    finally:
        if ch.is_open:
            ch.close()
    return False


def _publish(exchange: str, key: str = "") -> Callable[[Any], object]:
    def op(ch: Any) -> object:
        return ch.basic_publish(exchange, key, b"<forged/>", pika.BasicProperties(headers={"lt-verdict": "SIGNED"}))
    return op


def _consume(queue: str) -> Callable[[Any], object]:
    return lambda ch: ch.basic_get(queue, auto_ack=False)


@pytest.fixture(scope="module")
def hub(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    prefix = unique_prefix("rights")
    try:
        with running_hub(amqp_url, prefix, Path(tmp_path_factory.mktemp("rights")), start=False) as h:
            yield h
    finally:
        delete_broker_objects(prefix)


def test_each_system_writes_only_to_intake(hub: RunningHub) -> None:
    names = hub.hub.topology.names
    wrong: list[str] = []
    for sid in hub.hub.directory.systems:
        conn = pika.BlockingConnection(pika.URLParameters(hub.user_url(sid)))
        try:
            if _refused(conn, _publish(names.intake_exchange)):
                wrong.append(f"{sid}: refused on its own intake exchange")
            for x in hub.hub.topology.exchanges:
                if x.name != names.intake_exchange and not _refused(conn, _publish(x.name)):
                    wrong.append(f"{sid}: may publish to exchange {x.name}")
            for q in hub.hub.topology.queues:  # the default exchange reaches every queue by name
                if not _refused(conn, _publish("", q.name)):
                    wrong.append(f"{sid}: may publish to queue {q.name} through the default exchange")
        finally:
            conn.close()
    assert not wrong, "\n".join(wrong)


def test_each_system_reads_only_its_own_queues(hub: RunningHub) -> None:
    names = hub.hub.topology.names
    wrong: list[str] = []
    for sid in hub.hub.directory.systems:
        own = f"{names.prefix}.sys.{sid}."
        conn = pika.BlockingConnection(pika.URLParameters(hub.user_url(sid)))
        try:
            for q in hub.hub.topology.queues:
                refused = _refused(conn, _consume(q.name))
                if q.name.startswith(own) == refused:
                    wrong.append(f"{sid}: {'refused' if refused else 'may read'} {q.name}")
            for q in hub.hub.topology.queues[:3]:
                if not _refused(conn, lambda ch, q=q: ch.queue_purge(q.name)):
                    wrong.append(f"{sid}: may purge {q.name}")
                if not _refused(conn, lambda ch, q=q: ch.queue_delete(q.name)):
                    wrong.append(f"{sid}: may delete {q.name}")
            mine = f"{names.prefix}.sys.{sid}.mine"
            if not _refused(conn, lambda ch, mine=mine: ch.queue_declare(mine, durable=True)):
                wrong.append(f"{sid}: may declare a queue")
        finally:
            conn.close()
    assert not wrong, "\n".join(wrong)
