"""Every account against every exchange and queue of the topology, on the real broker (issue 8
item 1): the hub's role accounts as `lienthong topology roles` provisions them, a system's
account and a gateway's, each trying publish, consume, get, purge, declare, delete and bind on
every object, compared with the rights table (router/topology/rights.py `RIGHTS`, the table the
README shows). A topology with a link system, so `P.link.S` is tried too."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pika
import pytest
import yaml
from pika.exceptions import ChannelClosedByBroker
from typer.testing import CliRunner

from ops.provision import ensure_user, gateway_grant, revoke_user, system_grant
from router.cli import app
from router.directory.model import Directory
from router.settings import PACKAGE_DATA
from router.topology.build import Topology, TopologyOptions, build_topology
from router.topology.declare import apply_to_url
from router.topology.rights import ACCOUNTS, OPS, REPLY_TO, ROLES, Account, Op, allowed, kind_of
from tests.support.services import delete_broker_objects, unique_prefix

pytestmark = pytest.mark.integration

ACCESS_REFUSED = 403
PASSWORD = "lienthong-rights-pw"
SYSTEM = "huyen-thanhchuong"  # the system account tried: its own objects and the others'
PROBE_KEY = "lt-rights-probe"


@dataclass
class Broker:
    topology: Topology
    admin_url: str
    urls: dict[Account, str]


def _directory(prefix: str) -> Directory:
    data = yaml.safe_load((PACKAGE_DATA / "nghe_an.yaml").read_text(encoding="utf-8"))
    for s in data["systems"]:
        s["broker_user"] = f"{prefix}-{s['id']}"
    data["organs"].append({"code": "000.00.00.H42", "name": "Ủy ban nhân dân tỉnh Hà Tĩnh"})
    data["systems"].append({
        "id": "lien-tinh-hatinh", "name": "Trục liên thông tỉnh Hà Tĩnh", "broker_user": f"{prefix}-lien-tinh-hatinh",
        "serves": ["000.00.00.H42"],
        "delivery": {"adapter": "shovel", "options": {"remote_prefix": "lt-ht", "remote_url_env": "LT_NOT_USED"}},
    })
    return Directory.from_dict(data)


def _url(amqp_url: str, user: str, password: str) -> str:
    return f"amqp://{user}:{password}@{amqp_url.split('@', 1)[1]}"


@pytest.fixture(scope="module")
def broker(amqp_url: str) -> Iterator[Broker]:
    prefix = unique_prefix("roles")
    directory = _directory(prefix)
    topology = build_topology(directory, TopologyOptions(prefix=prefix, retry_delays_s=(1, 2)))
    users = [f"{prefix}-{r}" for r in ROLES] + [directory.systems[SYSTEM].broker_user, f"{prefix}-gw"]
    try:
        apply_to_url(topology, amqp_url)
        done = CliRunner().invoke(app, ["topology", "roles", "--via", "rabbitmqctl", "--json"],
                                  env={"LIENTHONG_PREFIX": prefix, "LIENTHONG_AMQP_URL": amqp_url})
        assert done.exit_code == 0, done.output
        result = json.loads(done.stdout)
        assert [r["role"] for r in result["roles"]] == list(ROLES) and all(r["created"] for r in result["roles"])
        urls: dict[Account, str] = {r["role"]: _url(amqp_url, r["user"], r["password"]) for r in result["roles"]}
        assert result["environment"]["LIENTHONG_AMQP_URL_INTAKE"] == urls["intake"]
        ensure_user(system_grant(directory.systems[SYSTEM].broker_user, prefix, SYSTEM), PASSWORD)
        ensure_user(gateway_grant(f"{prefix}-gw", prefix), PASSWORD)
        urls["system"] = _url(amqp_url, directory.systems[SYSTEM].broker_user, PASSWORD)
        urls["gateway"] = _url(amqp_url, f"{prefix}-gw", PASSWORD)
        yield Broker(topology, amqp_url, urls)
    finally:
        for u in users:
            revoke_user(u)
        delete_broker_objects(prefix)


def _allowed(conn: pika.BlockingConnection, op: Callable[[Any], object]) -> bool:
    """Run `op` on a fresh channel: True if the broker let it through, False on ACCESS_REFUSED."""
    ch = conn.channel()
    ch.confirm_delivery()  # a refused publish then closes the channel before we look
    try:
        op(ch)
    except ChannelClosedByBroker as exc:
        if exc.reply_code != ACCESS_REFUSED:
            raise
        return False
    finally:
        if ch.is_open:
            ch.close()
    return True


def _bound(conn: pika.BlockingConnection, sources: list[str], bind: Callable[[Any, str], object],
           unbind: Callable[[Any, str], object]) -> bool:
    """May the object be bound as a destination from any exchange of the topology? (undone at once)"""
    return any(_allowed(conn, lambda ch, s=source: (bind(ch, s), unbind(ch, s))) for source in sources)


def _exchange_ops(conn: pika.BlockingConnection, topology: Topology, name: str) -> set[Op]:
    x = topology.exchange(name)
    assert x is not None
    tried: dict[Op, Callable[[Any], object]] = {
        "publish": lambda ch: ch.basic_publish(name, PROBE_KEY, b"<probe/>"),
        "declare": lambda ch: ch.exchange_declare(name, exchange_type=x.type, durable=x.durable,
                                                  arguments=dict(x.arguments) or None),
    }
    found = {op for op, run in tried.items() if _allowed(conn, run)}
    sources = [s.name for s in topology.exchanges if s.name != name]
    if _bound(conn, sources, lambda ch, s: ch.exchange_bind(name, s, routing_key=PROBE_KEY),
              lambda ch, s: ch.exchange_unbind(name, s, routing_key=PROBE_KEY)):
        found.add("bind")
    return found


def _queue_ops(conn: pika.BlockingConnection, topology: Topology, name: str) -> set[Op]:
    if name == REPLY_TO:  # the pseudo-queue: only consuming it means anything
        consume = lambda ch: ch.basic_consume(REPLY_TO, lambda *_: None, auto_ack=True)  # noqa: E731
        return {"consume"} if _allowed(conn, consume) else set()
    q = topology.queue(name)
    assert q is not None
    tried: dict[Op, Callable[[Any], object]] = {
        "publish": lambda ch: ch.basic_publish("", name, b"<probe/>"),
        "consume": lambda ch: ch.basic_cancel(ch.basic_consume(name, lambda *_: None, auto_ack=False)),
        "get": lambda ch: ch.basic_get(name, auto_ack=False),
        "purge": lambda ch: ch.queue_purge(name),
        "declare": lambda ch: ch.queue_declare(name, durable=q.durable, arguments=dict(q.arguments)),
    }
    found = {op for op, run in tried.items() if _allowed(conn, run)}
    sources = [s.name for s in topology.exchanges]
    if _bound(conn, sources, lambda ch, s: ch.queue_bind(name, s, routing_key=PROBE_KEY),
              lambda ch, s: ch.queue_unbind(name, s, routing_key=PROBE_KEY)):
        found.add("bind")
    return found


def _deletes(conn: pika.BlockingConnection, topology: Topology) -> dict[tuple[str, str], bool]:
    """Last, because allowed deletes really delete (the topology is applied again afterwards)."""
    out = {("queue", q.name): _allowed(conn, lambda ch, n=q.name: ch.queue_delete(n)) for q in topology.queues}
    out.update({("exchange", x.name): _allowed(conn, lambda ch, n=x.name: ch.exchange_delete(n))
                for x in topology.exchanges})
    return out


@pytest.mark.parametrize("account", ACCOUNTS)
def test_every_account_can_do_exactly_what_the_rights_table_says(broker: Broker, account: Account) -> None:
    topology = broker.topology
    own = SYSTEM if account == "system" else None
    objects = [("exchange", x.name) for x in topology.exchanges] + [("queue", q.name) for q in topology.queues]
    objects.append(("queue", REPLY_TO))
    wrong: list[str] = []
    conn = pika.BlockingConnection(pika.URLParameters(broker.urls[account]))
    try:
        found = {(r, n): _exchange_ops(conn, topology, n) if r == "exchange" else _queue_ops(conn, topology, n)
                 for r, n in objects}
        for key, deleted in _deletes(conn, topology).items():
            if deleted:
                found[key].add("delete")
    finally:
        conn.close()
        apply_to_url(topology, broker.admin_url)  # whatever an allowed delete removed
    for (resource, name), ops in found.items():
        kind = kind_of(topology, resource, name, own)  # type: ignore[arg-type]
        expected = set(allowed(account, kind))
        if ops != expected:
            more, less = sorted(ops - expected, key=OPS.index), sorted(expected - ops, key=OPS.index)
            wrong.append(f"{account} on {resource} {name} ({kind}): the broker also allows {more or '-'}, "
                         f"refuses {less or '-'}")
    assert not wrong, "\n".join(wrong)
    assert {kind_of(topology, r, n, own) for r, n in objects} >= {k for k in ("lane-own", "retry-own", "link")
                                                                   if own or k == "link"}
