"""The API's secrets file: outside the directory, not readable by others, never printed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapters.axis.accounts import Accounts, AccountsError

pytestmark = pytest.mark.unit


def _write(tmp_path: Path, accounts: list[dict[str, str]], mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(yaml.safe_dump({"accounts": accounts}), encoding="utf-8")
    path.chmod(mode)
    return path


def test_secrets_from_the_file_or_the_environment_and_never_in_a_repr(tmp_path: Path) -> None:
    path = _write(tmp_path, [
        {"systemid": "000.00.00.H41", "system": "tinh-nghean", "secret": "test-secret-123"},
        {"systemid": "000.00.25.H41", "system": "huyen-thanhchuong", "secret_env": "LT_SECRET_TC"},
    ])
    accounts = Accounts.load(path, env={"LT_SECRET_TC": "from-the-vault-42"})
    assert accounts.secret_of("000.00.00.H41") == "test-secret-123"
    assert accounts.secret_of("000.00.25.H41") == "from-the-vault-42"
    assert accounts.system_of("000.00.25.H41") == "huyen-thanhchuong"
    assert accounts.secret_of("000.00.00.H40") is None
    assert "test-secret-123" not in repr(accounts.all()) and "from-the-vault-42" not in repr(accounts.all())


@pytest.mark.parametrize(("accounts", "mode", "message"), [
    ([{"systemid": "A", "system": "s", "secret": "long-enough-secret"}], 0o644, "readable by other users: chmod 600"),
    ([{"systemid": "A", "system": "s", "secret_env": "NOPE"}], 0o600, "environment variable NOPE is not set"),
    ([{"systemid": "A", "system": "s", "secret": "short"}], 0o600, "shorter than 12"),
    ([{"systemid": "A", "system": "s"}], 0o600, "exactly one of `secret` and `secret_env`"),
    ([{"systemid": "A", "system": "s", "secret": "long-enough-secret"},
      {"systemid": "A", "system": "t", "secret": "long-enough-secret"}], 0o600, "accounts[1]: systemid A twice"),
    ([{"systemid": "A", "sytem": "s", "secret": "long-enough-secret"}], 0o600, "accounts.0"),
])
def test_a_bad_secrets_file_is_refused_naming_file_and_entry(
    tmp_path: Path, accounts: list[dict[str, str]], mode: int, message: str
) -> None:
    path = _write(tmp_path, accounts, mode)
    with pytest.raises(AccountsError) as info:
        Accounts.load(path, env={})
    assert message in str(info.value) and str(path) in str(info.value)
    assert "long-enough-secret" not in str(info.value)
