"""Export a `Topology` as RabbitMQ definitions JSON (`rabbitmqctl import_definitions`,
management UI "Import definitions", or `load_definitions` in rabbitmq.conf).

Operators who provision brokers from files get exactly what `topology apply` would declare;
a test imports this export into the real broker and compares what the broker then lists.
Users and permissions are left out on purpose: credentials are provisioned separately (ops/);
`topology export --roles` adds the role accounts' permissions (not their passwords) for the
compose stack's definitions file (ops/rabbitmq/hub_user.py adds the users).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from router.topology.build import Topology
from router.topology.names import Names
from router.topology.rights import ROLES, role_permissions, role_user

VHOST = "/"


def export_definitions(topology: Topology, vhost: str = VHOST) -> dict[str, Any]:
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": [
            {
                "name": x.name, "vhost": vhost, "type": x.type, "durable": x.durable,
                "auto_delete": x.auto_delete, "internal": x.internal, "arguments": dict(x.arguments),
            }
            for x in topology.exchanges
        ],
        "queues": [
            {"name": q.name, "vhost": vhost, "durable": q.durable, "auto_delete": q.auto_delete,
             "arguments": dict(q.arguments)}
            for q in topology.queues
        ],
        "bindings": [
            {
                "source": b.source, "vhost": vhost, "destination": b.destination,
                "destination_type": b.destination_type, "routing_key": b.routing_key,
                "arguments": dict(b.arguments),
            }
            for b in topology.bindings
        ],
        "policies": [
            {"vhost": vhost, "name": p.name, "pattern": p.pattern, "apply-to": p.apply_to,
             "definition": dict(p.definition), "priority": p.priority}
            for p in topology.policies
        ],
    }


def write_definitions(topology: Topology, path: str | Path, vhost: str = VHOST) -> Path:
    out = Path(path)
    text = json.dumps(export_definitions(topology, vhost), ensure_ascii=False, indent=2, sort_keys=True)
    out.write_text(text + "\n", encoding="utf-8")
    return out


def role_permission_definitions(names: Names, vhost: str = VHOST) -> list[dict[str, str]]:
    """The permissions of the hub's role accounts (router/topology/rights.py) in the definitions'
    shape; the users themselves, with their password hashes, are added by ops/rabbitmq/hub_user.py."""
    out = []
    for role in ROLES:
        p = role_permissions(role, names)
        out.append({"user": role_user(role, names.prefix), "vhost": vhost, "configure": p.configure,
                    "write": p.write, "read": p.read})
    return out

