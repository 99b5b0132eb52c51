"""Add the hub's own broker user to exported definitions, for the compose stack's RabbitMQ.

RabbitMQ skips its default user when definitions are imported at boot, so the definitions must
carry the hub's account. Usage (regenerates ops/rabbitmq/definitions.json)::

    lienthong topology export | python -m ops.rabbitmq.hub_user > ops/rabbitmq/definitions.json

The password is `change-me` unless LIENTHONG_AMQP_PASSWORD is set when generating: change it
after the first start (`rabbitmqctl change_password lienthong …`) and in `.env`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from typing import Any

HUB_USER = "lienthong"


def password_hash(password: str, salt: bytes) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


def with_hub_user(definitions: dict[str, Any], password: str, salt: bytes) -> dict[str, Any]:
    out = dict(definitions)
    out["users"] = [{"name": HUB_USER, "password_hash": password_hash(password, salt),
                     "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"],
                     "limits": {}}]
    out["permissions"] = [{"user": HUB_USER, "vhost": v["name"], "configure": ".*", "write": ".*", "read": ".*"}
                          for v in definitions.get("vhosts", [{"name": "/"}])]
    return out


def main() -> None:
    definitions = json.load(sys.stdin)
    salt = os.urandom(4)
    password = os.environ.get("LIENTHONG_AMQP_PASSWORD", "change-me")
    json.dump(with_hub_user(definitions, password, salt), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
