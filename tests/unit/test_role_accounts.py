"""The hub's role accounts without a broker: the README's rights table is the data's, each role
falls back to LIENTHONG_AMQP_URL (one account keeps working), a role's own URL reaches every
node of the cluster with its own login, and the stages trust every role's copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.accounts.roles import ensure_accounts
from ops.provision import Permissions
from router.cli.options import command_settings
from router.cli.topology import role_environment
from router.hub import hub_users_of
from router.settings import Settings
from router.topology.names import Names
from router.topology.rights import ACCOUNTS, KINDS, RIGHTS, ROLES, rights_markdown, role_permissions, role_user

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- rights-table: begin (lienthong topology roles --table) -->\n", "<!-- rights-table: end -->"


def test_the_readme_shows_the_rights_table_of_the_data() -> None:
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, "README: the rights table markers are missing"
    shown = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert shown == rights_markdown(), "README rights table is stale: lienthong topology roles --table"


def test_the_table_covers_every_kind_and_account() -> None:
    assert set(RIGHTS) == {k.key for k in KINDS}
    assert all(set(row) == set(ACCOUNTS) for row in RIGHTS.values())


def test_one_url_keeps_working_for_every_role() -> None:
    s = Settings(amqp_url="amqp://hub:pw@10.0.0.1:5672/%2F", amqp_failover_urls=("amqp://hub:pw@10.0.0.2:5672/%2F",))
    assert all(s.role_urls(r) == s.broker_urls for r in ROLES)
    assert s.role_url("deliver") == s.amqp_url


def test_a_role_reaches_every_node_with_its_own_login() -> None:
    s = Settings(amqp_url="amqp://hub:pw@10.0.0.1:5672/%2F",
                 amqp_failover_urls=("amqp://hub:pw@10.0.0.1:5672/%2F", "amqp://hub:pw@10.0.0.2:5672/%2F"),
                 amqp_url_intake="amqp://lienthong-intake:s%40cret@10.0.0.1:5672/%2F")
    assert s.role_urls("intake") == ("amqp://lienthong-intake:s%40cret@10.0.0.1:5672/%2F",
                                     "amqp://lienthong-intake:s%40cret@10.0.0.2:5672/%2F")
    assert s.role_urls("deliver") == s.broker_urls
    assert hub_users_of(s) == {"hub", "lienthong-intake"}


def test_an_explicit_amqp_url_flag_is_every_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_AMQP_URL_TOPOLOGY", "amqp://lienthong-topology:x@h:5672/%2F")
    assert command_settings().role_url("topology").startswith("amqp://lienthong-topology:")
    flagged = command_settings(amqp_url="amqp://admin:y@h:5672/%2F")
    assert flagged.role_url("topology") == flagged.role_url("intake") == "amqp://admin:y@h:5672/%2F"


class _Accounts:
    """Records what provisioning asked of the broker (the real one: tests/integration/test_role_rights.py)."""

    def __init__(self, existing: set[str]) -> None:
        self.existing = existing
        self.passwords: dict[str, str] = {}
        self.permissions: dict[str, Permissions] = {}

    def exists(self, user: str) -> bool:
        return user in self.existing

    def set_password(self, user: str, password: str, *, new: bool) -> None:
        assert new == (user not in self.existing)
        self.passwords[user] = password

    def set_permissions(self, user: str, permissions: Permissions) -> None:
        self.permissions[user] = permissions


def test_updating_keeps_the_passwords_of_existing_users() -> None:
    accounts = _Accounts({"lt-intake"})
    names = Names("lt")
    done = ensure_accounts(accounts, {role_user(r, "lt"): role_permissions(r, names) for r in ROLES})
    assert set(accounts.permissions) == {"lt-topology", "lt-intake", "lt-deliver", "lt-operator"}
    assert "lt-intake" not in accounts.passwords and len(accounts.passwords) == 3
    env = role_environment(list(zip(ROLES, done, strict=True)),
                           Settings(amqp_url="amqp://guest:guest@broker:5672/%2F", prefix="lt"))
    assert env["LIENTHONG_HUB_USERS"] == "lt-intake,lt-deliver,lt-operator"
    assert "LIENTHONG_AMQP_URL_INTAKE" not in env
    assert env["LIENTHONG_AMQP_URL_DELIVER"] == f"amqp://lt-deliver:{accounts.passwords['lt-deliver']}@broker:5672/%2F"
