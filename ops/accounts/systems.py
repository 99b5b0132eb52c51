"""What `lienthong systems provision|rotate|disable|revoke` do to one system's accounts, checked
against the acting admin's subtree and recorded in the audit log whatever the outcome.

* provision: the broker user (the directory's `broker_user`) with a new password, permissions
  write on `P.intake` only and read on the system's own queues only (ops/provision.py's grant),
  topic permissions on the topology's topic exchanges limited to the system's own routing keys,
  and a new API secret in the API secrets file when one is given;
* rotate: a new password (and API secret), and the connections opened with the old one closed;
* disable: permissions removed and connections closed (the user stays, `provision` re-enables);
* revoke: the user deleted, its connections closed, its API secret removed.

Passwords and secrets appear once, in the result for the admin, never in the log or audit.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ops.accounts.admins import Action, Admin, AdminError, Admins
from ops.accounts.audit import AuditLog
from ops.accounts.broker_api import BrokerApiError, ManagementApi, Permissions, TopicPermission
from ops.provision import new_password, system_grant
from schemas.organ import OrganId


@dataclass(frozen=True, slots=True)
class SystemRef:
    """A system of the directory, as the accounts need it."""

    id: str
    broker_user: str
    serves: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccountResult:
    system: str
    action: Action
    broker_user: str
    password: str | None = None
    api_secret: str | None = None
    connections_closed: int = 0


def routing_key_pattern(serves: Sequence[str]) -> str:
    """The routing keys of the subtrees a system serves (`H41.25.#` → `^H41\\.25(\\..*)?$`)."""
    alternatives = []
    for code in serves:
        oid = OrganId.parse(code)
        words = oid.routing_key.split(".")[: oid.level]
        alternatives.append(re.escape(".".join(words)) + (r"(\..*)?" if oid.level < 4 else ""))
    return "^(" + "|".join(alternatives) + ")$" if alternatives else "^$"


class SystemAccounts:
    def __init__(self, api: ManagementApi, *, prefix: str, topic_exchanges: Sequence[str], admins: Admins,
                 audit: AuditLog, lineage: Callable[[str], list[str]], api_secrets: Path | None = None) -> None:
        self.api, self.prefix, self.topic_exchanges = api, prefix, tuple(topic_exchanges)
        self.admins, self.audit, self.lineage, self.api_secrets = admins, audit, lineage, api_secrets

    def run(self, admin_name: str, token: str, action: Action, system: SystemRef) -> AccountResult:
        """Authenticate, authorize, act; every attempt is audited (refusals and failures too)."""
        try:
            admin = self.admins.authenticate(admin_name, token)
            self.admins.authorize(admin, action, system.id, system.serves, self.lineage)
        except AdminError as exc:
            self.audit.record(admin=admin_name, action=action.value, system=system.id, outcome="refused",
                              detail=str(exc))
            raise
        try:
            result = self._act(admin, action, system)
        except BrokerApiError as exc:
            self.audit.record(admin=admin.name, action=action.value, system=system.id, outcome="failed",
                              detail=str(exc))
            raise
        self.audit.record(admin=admin.name, action=action.value, system=system.id, outcome="done",
                          detail=f"user {system.broker_user}; {result.connections_closed} connection(s) closed")
        return result

    def _act(self, admin: Admin, action: Action, system: SystemRef) -> AccountResult:
        user = system.broker_user
        reason = f"lienthong systems {action.value} by {admin.name}"
        match action:
            case Action.PROVISION | Action.ROTATE:
                if action is Action.ROTATE and not self.api.user_exists(user):
                    raise BrokerApiError(f"system {system.id}: broker user {user} does not exist (provision it first)")
                password = new_password()
                self.api.put_user(user, password)
                self._grant(system)
                closed = self.api.close_connections(user, reason) if action is Action.ROTATE else 0
                return AccountResult(system.id, action, user, password, self._new_secret(system), closed)
            case Action.DISABLE:
                self.api.clear_permissions(user)
                closed = self.api.close_connections(user, reason)
                return AccountResult(system.id, action, user, connections_closed=closed)
            case Action.REVOKE:
                self.api.delete_user(user)
                closed = self.api.close_connections(user, reason)
                self._remove_secret(system)
                return AccountResult(system.id, action, user, connections_closed=closed)
        raise AssertionError(action)

    def _grant(self, system: SystemRef) -> None:
        g = system_grant(system.broker_user, self.prefix, system.id)
        self.api.set_permissions(system.broker_user, Permissions(g.configure, g.write, g.read))
        keys = routing_key_pattern(system.serves)
        for exchange in self.topic_exchanges:
            # it may not publish to these at all (write permission); were it ever allowed to bind
            # or publish, only its own subtrees' keys
            self.api.set_topic_permission(system.broker_user, TopicPermission(exchange, "^$", keys))

    # -- the API secrets file (YAML: accounts: [{systemid, system, secret}], mode 0600) --------

    def _load_secrets(self) -> list[dict[str, str]]:
        assert self.api_secrets is not None
        if not self.api_secrets.exists():
            return []
        data = yaml.safe_load(self.api_secrets.read_text(encoding="utf-8")) or {}
        return list(data.get("accounts") or [])

    def _save_secrets(self, accounts: list[dict[str, str]]) -> None:
        assert self.api_secrets is not None
        tmp = self.api_secrets.with_name(self.api_secrets.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump({"accounts": accounts}, f, allow_unicode=True, sort_keys=False)
        os.replace(tmp, self.api_secrets)

    def _new_secret(self, system: SystemRef) -> str | None:
        if self.api_secrets is None:
            return None
        secret = secrets.token_urlsafe(32)
        accounts = [a for a in self._load_secrets() if a.get("system") != system.id]
        systemid = system.serves[0] if system.serves else system.id
        accounts.append({"systemid": systemid, "system": system.id, "secret": secret})
        self._save_secrets(accounts)
        return secret

    def _remove_secret(self, system: SystemRef) -> None:
        if self.api_secrets is not None and self.api_secrets.exists():
            self._save_secrets([a for a in self._load_secrets() if a.get("system") != system.id])
