"""Who may administer which systems: the province hands each unit the admin account for its own
users (the province letter). An admin has a subtree (an organ code, or `*` for the whole hub)
and may provision, rotate and disable only systems whose every served organ lies inside it;
`revoke` (delete the user) is for admins granted it.

File (YAML; tokens are stored as SHA-256, never in clear)::

    admins:
      - name: so-tttt                     # the province's ICT department
        scope: "*"
        revoke: true
        token_sha256: 9f86d081884c7d65…
      - name: cntt-thanhchuong           # huyện Thanh Chương's IT officer
        scope: 000.00.25.H41
        token_sha256: …

`lienthong systems admin-token` prints a new token and the line to paste.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

from schemas.organ import OrganId


class Action(StrEnum):
    PROVISION = "provision"
    ROTATE = "rotate"
    DISABLE = "disable"
    REVOKE = "revoke"


class AdminError(PermissionError):
    """Not authenticated, or not allowed: one line naming the admin, the action and the system."""


@dataclass(frozen=True, slots=True)
class Admin:
    name: str
    scope: str  # "*" or an organ code
    may_revoke: bool
    token_sha256: str

    def covers(self, organs: Iterable[str], lineage: Callable[[str], list[str]]) -> bool:
        """True when every organ lies in this admin's subtree (an empty list never does, but
        for a whole-hub admin)."""
        if self.scope == "*":
            return True
        served = list(organs)
        return bool(served) and all(self.scope in lineage(code) for code in served)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Admins:
    def __init__(self, admins: Iterable[Admin]) -> None:
        self._by_name = {a.name: a for a in admins}

    @classmethod
    def load(cls, path: Path) -> Admins:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            entries = data["admins"]
            admins = [Admin(str(e["name"]), str(e["scope"]), bool(e.get("revoke", False)), str(e["token_sha256"]))
                      for e in entries]
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise AdminError(f"admins file {path}: cannot read it ({type(exc).__name__}: needs admins: "
                             "[{name, scope, token_sha256}])") from exc
        for a in admins:
            if a.scope != "*" and not OrganId.is_valid(a.scope):
                raise AdminError(f"admins file {path}: admin {a.name}: scope {a.scope!r} is not an organ code or *")
        return cls(admins)

    def authenticate(self, name: str, token: str) -> Admin:
        admin = self._by_name.get(name)
        # compare against a hash even for an unknown name, so timing does not tell names apart
        expected = admin.token_sha256 if admin else token_hash("\0unknown")
        if not hmac.compare_digest(token_hash(token), expected) or admin is None:
            raise AdminError(f"admin {name!r}: unknown name or wrong token (LIENTHONG_ADMIN_TOKEN)")
        return admin

    @staticmethod
    def authorize(admin: Admin, action: Action, system: str, organs: Iterable[str],
                  lineage: Callable[[str], list[str]]) -> None:
        if action is Action.REVOKE and not admin.may_revoke:
            raise AdminError(f"admin {admin.name}: may not revoke (only admins with revoke: true)")
        if not admin.covers(organs, lineage):
            raise AdminError(f"admin {admin.name} (scope {admin.scope}): system {system} is outside that subtree")
