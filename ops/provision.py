"""Agency (system) accounts on the broker: one user per connected system, least privilege.

A system may publish only to the intake exchange and read only its own queues; the hub checks
`user_id` against the directory, and RabbitMQ checks `user_id` against the login, so a DMS can
only ever speak as itself. Removing permissions does not close open connections (design.md §4):
revoking deletes the user and closes its connections.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from dataclasses import dataclass


class ProvisionError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Permissions:
    """RabbitMQ's three permission regexes of one user on one virtual host."""

    configure: str
    write: str
    read: str


@dataclass(frozen=True, slots=True)
class Grant:
    user: str
    configure: str
    write: str
    read: str


def system_grant(user: str, prefix: str, system_id: str) -> Grant:
    p = re.escape(prefix)
    s = re.escape(system_id)
    return Grant(
        user=user,
        configure="^$",
        # the intake exchange only: no default exchange, through which any queue could be written
        # (the hub answers on direct reply-to with its own account; the system only consumes it)
        write=f"^{p}\\.intake$",
        read=f"^({p}\\.sys\\.{s}\\..*|amq\\.rabbitmq\\.reply-to.*)$",
    )


def gateway_grant(user: str, prefix: str) -> Grant:
    """An adapter process's own account (the axis-compatible API, the folder watcher): it
    submits on behalf of the systems it authenticated (`lt-on-behalf-of`, trusted by intake only
    from accounts listed in LIENTHONG_GATEWAY_USERS), so it may write to the intake exchange and
    read intake's answers on direct reply-to — nothing else, no system's queue."""
    p = re.escape(prefix)
    return Grant(user=user, configure="^$", write=f"^{p}\\.intake$", read="^amq\\.rabbitmq\\.reply-to.*$")


def _ctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError as exc:
        raise ProvisionError("rabbitmqctl not found: run on the broker host or use the management API") from exc
    if check and proc.returncode != 0:
        raise ProvisionError(f"rabbitmqctl {args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def existing_users() -> set[str]:
    out = _ctl("list_users", "--no-table-headers").stdout
    return {line.split("\t")[0].strip() for line in out.splitlines() if line.strip()}


def new_password() -> str:
    """A broker password: 192 random bits in hex. Not token_urlsafe: one in 64 of those starts
    with "-", which rabbitmqctl takes for an option ("Invalid options for this command")."""
    return secrets.token_hex(24)


def add_user(user: str, password: str) -> None:
    _ctl("add_user", user, password)


def change_password(user: str, password: str) -> None:
    _ctl("change_password", user, password)


def set_permissions(grant: Grant, vhost: str = "/") -> None:
    _ctl("set_permissions", "-p", vhost, grant.user, grant.configure, grant.write, grant.read)


def ensure_user(grant: Grant, password: str | None = None, vhost: str = "/") -> str:
    """Create (or reset the password of) the user and set its permissions. Returns the password."""
    password = password or new_password()
    if grant.user in existing_users():
        change_password(grant.user, password)
    else:
        add_user(grant.user, password)
    set_permissions(grant, vhost)
    return password


def create_user(grant: Grant, password: str, vhost: str = "/") -> None:
    """Create a new user with its permissions; fails (ProvisionError) if it exists — for tools
    such as the demo that must never take over an account they did not create."""
    add_user(grant.user, password)
    set_permissions(grant, vhost)


def revoke_user(user: str) -> None:
    """Delete the user and close its connections (permissions alone would leave them open)."""
    _ctl("delete_user", user, check=False)
    out = _ctl("list_connections", "user", "pid", "--no-table-headers", check=False).stdout
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0].strip() == user:
            _ctl("close_connection", parts[1].strip(), "access revoked by lienthong", check=False)
