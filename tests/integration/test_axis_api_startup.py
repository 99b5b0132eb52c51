"""`lienthong api` stops at start with one line naming the cause when its broker account, its
rights or its configuration are wrong (real broker, real accounts)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.provision import Grant, ensure_user, gateway_grant, revoke_user
from router.cli.api import build
from router.cli.errors import OperatorError, explain
from router.settings import Settings
from router.topology.declare import apply_to_url
from tests.support.axis_api import write_directory, write_secrets
from tests.support.hub import PASSWORD
from tests.support.services import ROOT, delete_broker_objects, unique_prefix

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def place(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    prefix = unique_prefix("axstart")
    tmp = Path(tmp_path_factory.mktemp("axstart"))
    settings = Settings(amqp_url=amqp_url, prefix=prefix, directory=write_directory(prefix, tmp / "dir.yaml"))
    from router.directory.model import load_directory
    from router.topology.build import build_topology

    apply_to_url(build_topology(load_directory(settings.directory), settings.topology_options()), amqp_url)
    users = {"ok": f"{prefix}-gw", "mute": f"{prefix}-gw-mute"}
    ensure_user(gateway_grant(users["ok"], prefix), PASSWORD)
    ensure_user(Grant(users["mute"], "^$", "^$", "^amq\\.rabbitmq\\.reply-to.*$"), PASSWORD)  # may not write
    write_secrets(tmp / "secrets.yaml")
    try:
        yield prefix, tmp
    finally:
        for u in users.values():
            revoke_user(u)
        delete_broker_objects(prefix)


def _settings(amqp_url: str, prefix: str, tmp: Path, user: str, password: str = PASSWORD, **kw: object) -> Settings:
    rest = amqp_url.split("@", 1)[1]
    values: dict[str, object] = {
        "amqp_url": amqp_url, "prefix": prefix, "directory": tmp / "dir.yaml", "ledger_url": f"sqlite:///{tmp}/l.db",
        "api_amqp_url": f"amqp://{user}:{password}@{rest}", "api_secrets": tmp / "secrets.yaml",
        "gateway_users": (user,),
    }
    values.update(kw)
    return Settings(**values)  # type: ignore[arg-type]


def _cause(settings: Settings) -> str:
    with pytest.raises(Exception) as info:
        build(settings).close()
    failure = explain(info.value)
    assert isinstance(failure, OperatorError), repr(info.value)
    return str(failure)


def test_a_well_configured_gateway_starts(amqp_url: str, place: tuple[str, Path]) -> None:
    prefix, tmp = place
    built = build(_settings(amqp_url, prefix, tmp, f"{prefix}-gw"))
    try:
        assert len(built.parts.accounts) == 2
    finally:
        built.close()


def test_each_wrong_setting_names_its_cause(amqp_url: str, place: tuple[str, Path]) -> None:
    prefix, tmp = place
    ok = f"{prefix}-gw"
    assert "not in LIENTHONG_GATEWAY_USERS" in _cause(_settings(amqp_url, prefix, tmp, ok, gateway_users=()))
    assert "refused user" in _cause(_settings(amqp_url, prefix, tmp, ok, password="wrong-password"))
    assert f"may not publish to {prefix}.intake" in _cause(_settings(amqp_url, prefix, tmp, f"{prefix}-gw-mute"))
    assert "LIENTHONG_API_SECRETS" in _cause(_settings(amqp_url, prefix, tmp, ok, api_secrets=None))
    (tmp / "open.yaml").write_text((tmp / "secrets.yaml").read_text())
    (tmp / "open.yaml").chmod(0o644)
    assert "chmod 600" in _cause(_settings(amqp_url, prefix, tmp, ok, api_secrets=tmp / "open.yaml"))
    assert "does not exist" in _cause(_settings(amqp_url, "lt-nothing-here", tmp, ok))


def test_the_command_prints_one_line_and_no_traceback(amqp_url: str, place: tuple[str, Path]) -> None:
    prefix, tmp = place
    env = {"LIENTHONG_API_SECRETS": str(tmp / "secrets.yaml"), "LIENTHONG_PREFIX": prefix,
           "LIENTHONG_DIRECTORY": str(tmp / "dir.yaml"), "LIENTHONG_LEDGER_URL": f"sqlite:///{tmp}/l.db",
           "LIENTHONG_API_AMQP_URL": amqp_url.replace("guest:guest", f"{prefix}-gw-mute:{PASSWORD}"),
           "LIENTHONG_GATEWAY_USERS": f"{prefix}-gw-mute", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(Path(sys.executable).with_name("lienthong")), "api", "--port", "0"], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "may not publish" in done.stderr.strip().splitlines()[-1]
