"""Add the hub's broker users to exported definitions, for the compose stack's RabbitMQ.

RabbitMQ skips its default user when definitions are imported at boot, so the definitions must
carry the hub's accounts: the administrator `lienthong` (the management UI, operators' tools)
and the role accounts whose permissions `lienthong topology export --roles` wrote
(router/topology/rights.py). Usage (regenerates ops/rabbitmq/definitions.json)::

    lienthong topology export --roles | python -m ops.rabbitmq.hub_user > ops/rabbitmq/definitions.json

The administrator's password is `change-me` unless LIENTHONG_AMQP_PASSWORD is set when
generating, a role account's (`lienthong-intake`) unless LIENTHONG_AMQP_PASSWORD_INTAKE is:
set the same ones in `.env` (docker-compose.yml builds the roles' URLs from them), or change
them after the first start (`lienthong topology roles --rotate`, `rabbitmqctl change_password`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

HUB_USER = "lienthong"
DEFAULT_PASSWORD = "change-me"  # noqa: S105 - the documented placeholder, replaced in .env


def password_hash(password: str, salt: bytes) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


def password_setting(user: str) -> str:
    """`lienthong` → LIENTHONG_AMQP_PASSWORD; a role account `lienthong-intake` → LIENTHONG_AMQP_PASSWORD_INTAKE."""
    role = user.rpartition("-")[2] if "-" in user else ""
    return "LIENTHONG_AMQP_PASSWORD" + (f"_{role.upper()}" if role else "")


def with_hub_user(definitions: dict[str, Any], password: str, salt: bytes,
                  role_passwords: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The administrator with every permission, and a user for each role permission already in
    `definitions` (its password from `role_passwords`, else the default)."""
    out = dict(definitions)
    roles = [p for p in definitions.get("permissions", []) if p["user"] != HUB_USER]

    def user(name: str, secret: str, tags: list[str]) -> dict[str, Any]:
        return {"name": name, "password_hash": password_hash(secret, salt),
                "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": tags, "limits": {}}

    out["users"] = [user(HUB_USER, password, ["administrator"])] + [
        user(p["user"], (role_passwords or {}).get(p["user"], DEFAULT_PASSWORD), []) for p in roles]
    out["permissions"] = [{"user": HUB_USER, "vhost": v["name"], "configure": ".*", "write": ".*", "read": ".*"}
                          for v in definitions.get("vhosts", [{"name": "/"}])] + roles
    return out


def main() -> None:
    definitions = json.load(sys.stdin)
    salt = os.urandom(4)
    password = os.environ.get("LIENTHONG_AMQP_PASSWORD", DEFAULT_PASSWORD)
    role_passwords = {p["user"]: os.environ.get(password_setting(p["user"]), DEFAULT_PASSWORD)
                      for p in definitions.get("permissions", [])}
    json.dump(with_hub_user(definitions, password, salt, role_passwords), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
