"""Broker users with given permissions, created or brought up to date through the RabbitMQ
management API (as `lienthong systems` does) or rabbitmqctl on the broker host — what
`lienthong topology roles` does with the hub's own role accounts (router/topology/rights.py
says which rights each role gets).

Updating is the common case — after the prefix changed or a role was added — and must not
break running processes: an existing user keeps its password and only gets its permissions set
again; a new user (or `rotate`) gets a new random password, returned once and never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from ops import provision
from ops.accounts.broker_api import ManagementApi
from ops.provision import Permissions, new_password


class Accounts(Protocol):
    """Where users and permissions are changed: the management API or rabbitmqctl."""

    def exists(self, user: str) -> bool: ...
    def set_password(self, user: str, password: str, *, new: bool) -> None: ...
    def set_permissions(self, user: str, permissions: Permissions) -> None: ...


class ApiAccounts:
    def __init__(self, api: ManagementApi) -> None:
        self.api = api

    def exists(self, user: str) -> bool:
        return self.api.user_exists(user)

    def set_password(self, user: str, password: str, *, new: bool) -> None:
        self.api.put_user(user, password)

    def set_permissions(self, user: str, permissions: Permissions) -> None:
        self.api.set_permissions(user, permissions)


class CtlAccounts:
    """rabbitmqctl on the broker host (needs the node's Erlang cookie); raises ProvisionError."""

    def exists(self, user: str) -> bool:
        return user in provision.existing_users()

    def set_password(self, user: str, password: str, *, new: bool) -> None:
        if new:
            provision.add_user(user, password)
        else:
            provision.change_password(user, password)

    def set_permissions(self, user: str, permissions: Permissions) -> None:
        provision.set_permissions(provision.Grant(user, permissions.configure, permissions.write, permissions.read))


@dataclass(frozen=True, slots=True)
class Account:
    user: str
    permissions: Permissions
    created: bool
    #: only when created or rotated: printed once, never logged
    password: str | None = None


def ensure_accounts(accounts: Accounts, wanted: Mapping[str, Permissions], *, rotate: bool = False) -> list[Account]:
    """Create or update each user and set its permissions (see the module docstring)."""
    out = []
    for user, permissions in wanted.items():
        exists = accounts.exists(user)
        password = new_password() if rotate or not exists else None
        if password is not None:
            accounts.set_password(user, password, new=not exists)
        accounts.set_permissions(user, permissions)
        out.append(Account(user, permissions, created=not exists, password=password))
    return out
