"""Who may do what on the broker, as data: the hub's own role accounts and the systems' accounts.

Two values, kept apart on purpose so that one checks the other:

* `role_permissions(role, names)`: the RabbitMQ permission regexes (configure, write, read) of
  each of the hub's own accounts, derived from the topology's names (router/topology/names.py)
  and from what the code of each role does on the broker — nothing more:

  - `topology` — `topology apply` (and `run` when it declares first): declares, binds and
    prunes every object of the prefix. RabbitMQ asks configure on the object, read on a queue
    declared with a dead-letter exchange and write on that exchange, read on a binding's source
    and write on its destination, so this account needs all three on `P.*` — and nothing else
    (not the default exchange).
  - `intake` — `run --role intake` (router/hub.py `intake_consumer`): consumes `P.intake`,
    `P.intake.retried`, `P.intake.dead`; publishes copies to the level exchanges and
    `P.external` (router/topology/build.py `route_for`), the hub's statuses to the sender's
    `P.sys.S` (router/pipeline/statuses.py), its retries and parks to `P.intake.retry.N` /
    `P.intake.parked` and its answers to `amq.rabbitmq.reply-to.*` — the last two through the
    default exchange (router/pipeline/intake_recovery.py, router/amqp/consumer.py).
  - `deliver` — `run --role deliver` (`delivery_consumer`, router/amqp/mailbox_returns.py,
    adapters/amqp.py LinkSink): consumes every `P.sys.S.urgent` / `.normal` and
    `P.deliver.dead`; publishes notices to the sender's `P.sys.S` and, through the default
    exchange, copies to `P.sys.S.retry.N`, `P.sys.S.parked`, `P.unknown` and `P.link.S`.
  - `operator` — `parked list|replay` (router/amqp/parked.py): gets from `P.intake.parked` and
    every `P.sys.S.parked`; republishes to `P.sys.S` and, through the default exchange, to
    `P.intake.retried`.

  A link's shovel reads `P.link.S` over RabbitMQ's internal connection (`src-uri amqp://`,
  router/topology/links.py) and needs no account of ours.

* `RIGHTS`: the contract — for every kind of exchange and queue of the topology and every
  account (each role, a system, a gateway process), which of publish, consume, get, purge,
  declare, delete and bind the broker allows. The README shows it (`rights_markdown`; a unit
  test keeps the two equal) and tests/integration/test_role_rights.py tries every operation on
  every exchange and queue of a real topology with every account on the real broker.

The default exchange is one resource for RabbitMQ (`amq.default`): whoever may write to it may
write to every queue by name. The roles that answer on direct reply-to or hold copies by queue
name need it; the systems' and gateways' accounts do not have it (issue 8).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ops.provision import Permissions
from router.topology.build import Topology
from router.topology.names import LANES, LEVELS, Names

Role = Literal["topology", "intake", "deliver", "operator"]
ROLES: tuple[Role, ...] = ("topology", "intake", "deliver", "operator")
Account = Literal["topology", "intake", "deliver", "operator", "system", "gateway"]
ACCOUNTS: tuple[Account, ...] = (*ROLES, "system", "gateway")
Op = Literal["publish", "consume", "get", "purge", "declare", "delete", "bind"]
OPS: tuple[Op, ...] = ("publish", "consume", "get", "purge", "declare", "delete", "bind")
#: what each role is for, in the README and `topology roles --help`
ROLE_PURPOSE: dict[Role, str] = {
    "topology": "`topology apply` (and `run` declaring first)",
    "intake": "`run --role intake`",
    "deliver": "`run --role deliver` (mailbox returns and link hand-overs included)",
    "operator": "`parked list`, `parked replay`",
}
#: the setting naming each role's broker URL (router/settings.py)
ROLE_URL_SETTING: dict[Role, str] = {r: f"LIENTHONG_AMQP_URL_{r.upper()}" for r in ROLES}
#: the roles whose messages the stages take as the hub's own copies (LIENTHONG_HUB_USERS)
COPYING_ROLES: tuple[Role, ...] = ("intake", "deliver", "operator")
DEFAULT_EXCHANGE = "amq.default"
REPLY_TO = "amq.rabbitmq.reply-to"
#: a system id in a name (router/directory/entries.py SYSTEM_ID); `@` cannot occur in a prefix
_SID_RX = "[a-z0-9][a-z0-9-]*"
_SID = "@"


def _template(name: str) -> str:
    return re.escape(name).replace(_SID, _SID_RX)


def _exactly(names: Iterable[str]) -> str:
    alternatives = [_template(n) for n in names]
    return "^(" + "|".join(alternatives) + ")$" if alternatives else "^$"


def role_permissions(role: Role, names: Names) -> Permissions:
    """The least rights of one of the hub's role accounts (see the module docstring for why each)."""
    if role == "topology":
        mine = f"^{re.escape(names.prefix)}\\..+$"
        return Permissions(mine, mine, mine)
    if role == "intake":
        write = [DEFAULT_EXCHANGE, *(names.level_exchange(lv) for lv in LEVELS), names.external_exchange,
                 names.system_exchange(_SID)]
        read = [names.intake_queue, names.intake_retried, names.intake_dead]
    elif role == "deliver":
        write = [DEFAULT_EXCHANGE, names.system_exchange(_SID)]
        read = [*(names.system_queue(_SID, lane) for lane in LANES), names.deliver_dead]
    elif role == "operator":
        write = [DEFAULT_EXCHANGE, names.system_exchange(_SID)]
        read = [names.intake_parked, names.parked_queue(_SID)]
    else:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return Permissions("^$", _exactly(write), _exactly(read))


def role_user(role: Role, prefix: str) -> str:
    """The broker user of a role: `<prefix>-<role>` (`lienthong-intake`), so a test prefix isolates them too."""
    return f"{prefix}-{role}"


# -- the contract -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of broker object of the topology, as the rights table names it."""

    key: str
    resource: Literal["exchange", "queue"]
    label: str


KINDS: tuple[Kind, ...] = (
    Kind("intake-x", "exchange", "`P.intake` (exchange)"),
    Kind("level", "exchange", "`P.level1` … `P.level4`"),
    Kind("unrouted", "exchange", "`P.unrouted`"),
    Kind("external", "exchange", "`P.external`"),
    Kind("dlx", "exchange", "`P.dlx`"),
    Kind("sys-x-own", "exchange", "`P.sys.S`, S the system itself"),
    Kind("sys-x", "exchange", "`P.sys.S`, another system"),
    Kind("intake", "queue", "`P.intake` (queue)"),
    Kind("intake-retried", "queue", "`P.intake.retried`"),
    Kind("intake-retry", "queue", "`P.intake.retry.N`"),
    Kind("intake-dead", "queue", "`P.intake.dead`"),
    Kind("intake-parked", "queue", "`P.intake.parked`"),
    Kind("deliver-dead", "queue", "`P.deliver.dead`"),
    Kind("unknown", "queue", "`P.unknown`"),
    Kind("graveyard", "queue", "`P.graveyard`"),
    Kind("lane-own", "queue", "`P.sys.S.urgent`, `.normal`, S itself"),
    Kind("lane", "queue", "`P.sys.S.urgent`, `.normal`, another system"),
    Kind("retry-own", "queue", "`P.sys.S.retry.N`, S itself"),
    Kind("retry", "queue", "`P.sys.S.retry.N`, another system"),
    Kind("parked-own", "queue", "`P.sys.S.parked`, S itself"),
    Kind("parked", "queue", "`P.sys.S.parked`, another system"),
    Kind("link", "queue", "`P.link.S` (a link system's outbound queue)"),
    Kind("reply-to", "queue", "`amq.rabbitmq.reply-to` (direct reply-to)"),
)

_P, _C, _G, _U, _D, _X, _B = OPS
_READ = frozenset({_C, _G, _U})
_ALL_EXCHANGE = frozenset({_P, _D, _X, _B})
_ALL_QUEUE = frozenset({_C, _G, _U, _D, _X, _B})  # not publish: the topology account has no default exchange
_NONE: frozenset[Op] = frozenset()


def _row(topology: frozenset[Op], intake: frozenset[Op], deliver: frozenset[Op], operator: frozenset[Op],
         system: frozenset[Op], gateway: frozenset[Op]) -> dict[Account, frozenset[Op]]:
    return {"topology": topology, "intake": intake, "deliver": deliver, "operator": operator, "system": system,
            "gateway": gateway}


_PUB = frozenset({_P})
_PUB_READ = _PUB | _READ
_ROUTES = frozenset({_P, _B})  # intake may bind from `P.intake`, whose name it reads (as the queue)
_ROLE_QUEUE = _row(_ALL_QUEUE, _PUB, _PUB, _PUB, _NONE, _NONE)  # a queue only the topology reads

#: kind → account → what the broker allows. Publishing to a queue means through the default
#: exchange; `bind` means binding the object as the destination, from any exchange of the topology.
RIGHTS: dict[str, dict[Account, frozenset[Op]]] = {
    "intake-x": _row(_ALL_EXCHANGE, _NONE, _NONE, _NONE, _PUB, _PUB),
    "level": _row(_ALL_EXCHANGE, _ROUTES, _NONE, _NONE, _NONE, _NONE),
    "unrouted": _row(_ALL_EXCHANGE, _NONE, _NONE, _NONE, _NONE, _NONE),
    "external": _row(_ALL_EXCHANGE, _ROUTES, _NONE, _NONE, _NONE, _NONE),
    "dlx": _row(_ALL_EXCHANGE, _NONE, _NONE, _NONE, _NONE, _NONE),
    "sys-x-own": _row(_ALL_EXCHANGE, _ROUTES, _PUB, _PUB, _NONE, _NONE),
    "sys-x": _row(_ALL_EXCHANGE, _ROUTES, _PUB, _PUB, _NONE, _NONE),
    "intake": _row(_ALL_QUEUE, _PUB_READ, _PUB, _PUB, _NONE, _NONE),
    "intake-retried": _row(_ALL_QUEUE, _PUB_READ, _PUB, _PUB, _NONE, _NONE),
    "intake-retry": _ROLE_QUEUE,
    "intake-dead": _row(_ALL_QUEUE, _PUB_READ, _PUB, _PUB, _NONE, _NONE),
    "intake-parked": _row(_ALL_QUEUE, _PUB, _PUB, _PUB_READ, _NONE, _NONE),
    "deliver-dead": _row(_ALL_QUEUE, _PUB, _PUB_READ, _PUB, _NONE, _NONE),
    "unknown": _ROLE_QUEUE,
    "graveyard": _ROLE_QUEUE,
    "lane-own": _row(_ALL_QUEUE, _PUB, _PUB_READ, _PUB, _READ, _NONE),
    "lane": _row(_ALL_QUEUE, _PUB, _PUB_READ, _PUB, _NONE, _NONE),
    "retry-own": _row(_ALL_QUEUE, _PUB, _PUB, _PUB, _READ, _NONE),
    "retry": _ROLE_QUEUE,
    "parked-own": _row(_ALL_QUEUE, _PUB, _PUB, _PUB_READ, _READ, _NONE),
    "parked": _row(_ALL_QUEUE, _PUB, _PUB, _PUB_READ, _NONE, _NONE),
    "link": _ROLE_QUEUE,
    # the broker checks no permission on direct reply-to: each consumer gets a private route
    "reply-to": _row(*([frozenset({_C})] * len(ACCOUNTS))),
}


def kind_of(topology: Topology, resource: Literal["exchange", "queue"], name: str, system: str | None) -> str:
    """The kind of one of the topology's objects (`system`: the account's own system, if any)."""
    n = topology.names
    if resource == "exchange":
        fixed = {n.intake_exchange: "intake-x", n.unrouted_exchange: "unrouted", n.external_exchange: "external",
                 n.dead_letter_exchange: "dlx", **{n.level_exchange(lv): "level" for lv in LEVELS}}
        if name in fixed:
            return fixed[name]
        for sid in topology.systems:
            if name == n.system_exchange(sid):
                return "sys-x-own" if sid == system else "sys-x"
        raise ValueError(f"exchange {name} is not of the topology")
    if name == REPLY_TO:
        return "reply-to"
    fixed = {n.intake_queue: "intake", n.intake_retried: "intake-retried", n.intake_dead: "intake-dead",
             n.intake_parked: "intake-parked", n.deliver_dead: "deliver-dead", n.unknown_queue: "unknown",
             n.graveyard_queue: "graveyard",
             **{n.intake_retry_queue(t): "intake-retry" for t in range(1, len(topology.options.intake_tiers) + 1)}}
    if name in fixed:
        return fixed[name]
    for sid in topology.systems:
        own = "-own" if sid == system else ""
        if name in (n.system_queue(sid, lane) for lane in LANES):
            return f"lane{own}"
        if name in (n.retry_queue(sid, t) for t in range(1, len(topology.options.retry_delays_s) + 1)):
            return f"retry{own}"
        if name == n.parked_queue(sid):
            return f"parked{own}"
        if name == n.link_queue(sid):
            return "link"
    raise ValueError(f"queue {name} is not of the topology")


def allowed(account: Account, kind: str) -> frozenset[Op]:
    return RIGHTS[kind][account]


_COLUMN: dict[Account, str] = {"topology": "topology", "intake": "intake", "deliver": "deliver",
                               "operator": "operator", "system": "system S", "gateway": "gateway"}


def _cell(ops: frozenset[Op], resource: str) -> str:
    if ops == (_ALL_EXCHANGE if resource == "exchange" else _ALL_QUEUE | _PUB):
        return "all"
    if resource == "queue" and ops == _ALL_QUEUE:
        return "all but publish"
    words = ["read" if o == _C and ops >= _READ else o for o in OPS
             if o in ops and not (o in (_G, _U) and ops >= _READ)]
    return ", ".join(words) or "—"


def rights_markdown() -> str:
    """The rights table as the README shows it (between its `rights-table` markers)."""
    header = "| object | " + " | ".join(_COLUMN[a] for a in ACCOUNTS) + " |"
    lines = [header, "|---" * (len(ACCOUNTS) + 1) + "|"]
    for kind in KINDS:
        cells = " | ".join(_cell(RIGHTS[kind.key][a], kind.resource) for a in ACCOUNTS)
        lines.append(f"| {kind.label} | {cells} |")
    return "\n".join(lines) + "\n"
