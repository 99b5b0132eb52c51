"""Who may call the axis-compatible API: systemId → directory system and its secret.

The secrets live in their own file, never in the directory (which is shared, versioned and
printed): a YAML list, readable by the API's user only. A secret is written in the file or
named by an environment variable (`secret_env`), so it can come from a vault's injector.

HMAC-SHA256 verification needs the secret itself as the key (domain.md §7.6), so it cannot be
stored as a one-way hash; it is held as `SecretStr` (masked in every repr and log) and the file
is refused when other users can read it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictStr, ValidationError, model_validator


class AccountsError(ValueError):
    """The secrets file cannot be used; the message names the file and the entry."""


class AccountEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: what the DMS's SDK is configured with (VnptProperties systemId), usually an organ code
    systemid: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    #: the directory's system this caller is
    system: StrictStr = Field(min_length=1, max_length=63)
    secret: SecretStr | None = None
    secret_env: StrictStr | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> AccountEntry:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of `secret` and `secret_env`")
        return self


class AccountsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accounts: list[AccountEntry]


@dataclass(frozen=True, slots=True)
class Account:
    systemid: str
    system: str
    secret: SecretStr


class Accounts:
    """The callers of the API, by systemId."""

    def __init__(self, accounts: Mapping[str, Account]) -> None:
        self._by_id = dict(accounts)

    def __len__(self) -> int:
        return len(self._by_id)

    def secret_of(self, systemid: str) -> str | None:
        account = self._by_id.get(systemid)
        return account.secret.get_secret_value() if account else None

    def system_of(self, systemid: str) -> str | None:
        account = self._by_id.get(systemid)
        return account.system if account else None

    def all(self) -> list[Account]:
        return list(self._by_id.values())

    @classmethod
    def load(cls, path: Path, env: Mapping[str, str] | None = None) -> Accounts:
        env = os.environ if env is None else env
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise AccountsError(f"API secrets file {path}: cannot read it ({exc.strerror})") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AccountsError(f"API secrets file {path} is readable by other users: chmod 600 {path}")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            parsed = AccountsFile.model_validate(raw if raw is not None else {"accounts": []})
        except UnicodeDecodeError:
            raise AccountsError(f"API secrets file {path}: not UTF-8 text") from None
        except yaml.YAMLError as exc:
            raise AccountsError(f"API secrets file {path}: not YAML ({str(exc).splitlines()[0]})") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise AccountsError(f"API secrets file {path}: {where}: {err['msg']}") from None
        accounts: dict[str, Account] = {}
        for i, entry in enumerate(parsed.accounts):
            if entry.systemid in accounts:
                raise AccountsError(f"API secrets file {path}: accounts[{i}]: systemid {entry.systemid} twice")
            if entry.secret_env is not None:
                value = env.get(entry.secret_env)
                if not value:
                    raise AccountsError(f"API secrets file {path}: accounts[{i}] ({entry.systemid}): "
                                        f"environment variable {entry.secret_env} is not set")
                secret = SecretStr(value)
            else:
                assert entry.secret is not None
                secret = entry.secret
            if len(secret.get_secret_value()) < 12:
                raise AccountsError(f"API secrets file {path}: accounts[{i}] ({entry.systemid}): "
                                    "the secret is shorter than 12 characters")
            accounts[entry.systemid] = Account(entry.systemid, entry.system, secret)
        return cls(accounts)
