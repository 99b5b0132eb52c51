"""`lienthong systems provision|rotate|disable|revoke` against a real RabbitMQ node of the
test's own with the management plugin (the shared broker is never touched): the rights a
provisioned system gets are exactly the contract, a district admin cannot touch another
district's system, and every action is in the audit log with who did it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker, ProbableAuthenticationError
from typer.testing import CliRunner, Result

from ops.accounts.admins import token_hash
from ops.accounts.audit import AuditLog
from router.cli import app
from router.directory.model import load_directory
from router.topology.build import TopologyOptions, build_topology
from router.topology.declare import apply_to_url
from router.topology.names import Names
from router.topology.rights import ROLES, role_permissions
from tests.support import cluster
from tests.support.ops_tools import free_port

pytestmark = pytest.mark.integration

PREFIX = "ltacct"
ACCESS_REFUSED, PRECONDITION_FAILED = 403, 406

DIRECTORY = """
organs:
  - {code: 000.00.00.H41, name: Ủy ban nhân dân tỉnh Nghệ An}
  - {code: 000.00.25.H41, name: Ủy ban nhân dân huyện Thanh Chương}
  - {code: 000.12.25.H41, name: Ủy ban nhân dân xã Thanh Liên}
  - {code: 000.00.26.H41, name: Ủy ban nhân dân huyện Anh Sơn}
systems:
  - {id: tinh, name: Hệ thống tỉnh, broker_user: lt-tinh, serves: [000.00.00.H41],
     delivery: {adapter: file, options: {dir: var/tinh}}}
  - {id: thanhchuong, name: Hệ thống huyện Thanh Chương, broker_user: lt-thanhchuong, serves: [000.00.25.H41],
     delivery: {adapter: file, options: {dir: var/tc}}}
  - {id: anhson, name: Hệ thống huyện Anh Sơn, broker_user: lt-anhson, serves: [000.00.26.H41],
     delivery: {adapter: file, options: {dir: var/as}}}
  - {id: quocgia, name: Trục quốc gia, broker_user: lt-quocgia, gateway: true,
     delivery: {adapter: file, options: {dir: var/qg}}}
"""


@dataclass
class ManagedNode(cluster.Node):
    """A node of the test's own with the management API on a port of its own."""

    management_port: int = 0

    def _env(self) -> dict[str, str]:
        env = super()._env()
        with (self.base / "rabbitmq.conf").open("a", encoding="utf-8") as f:
            f.write(f"management.tcp.port = {self.management_port}\nmanagement.tcp.ip = 127.0.0.1\n")
        return env


@dataclass
class Stack:
    node: ManagedNode
    env: dict[str, str]
    directory: Path
    audit: Path
    secrets: Path

    def run(self, *args: str, admin: str, token: str) -> Result:
        """The real `lienthong` command, in process (a subprocess per call would cost seconds each)."""
        return CliRunner().invoke(app, ["systems", *args, "--admin", admin, "--json"],
                                    env={**self.env, "LIENTHONG_ADMIN_TOKEN": token})

    def provision(self, system: str, admin: str = "province", token: str = "province-token") -> dict[str, Any]:
        proc = self.run("provision", system, "--api-secrets", str(self.secrets), admin=admin, token=token)
        assert proc.exit_code == 0, proc.output
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    def connect(self, user: str, password: str) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(self.node.url_for(user, password)))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not cluster.available():
        pytest.skip("RabbitMQ server binaries not installed (scripts/services.sh installs them)")
    root = tmp_path_factory.mktemp("accounts")
    base = root / "rabbit"
    home = cluster._cookie_home(base)
    node = ManagedNode(f"lt-acct-{os.getpid()}@localhost", cluster.free_port(), cluster.free_port(), base / "n1",
                       home, ("rabbitmq_management",), management_port=free_port())
    directory = root / "directory.yaml"
    directory.write_text(DIRECTORY, encoding="utf-8")
    admins = root / "admins.yaml"
    admins.write_text(
        "admins:\n"
        f"  - {{name: province, scope: '*', revoke: true, token_sha256: {token_hash('province-token')}}}\n"
        f"  - {{name: it-thanhchuong, scope: 000.00.25.H41, token_sha256: {token_hash('tc-token')}}}\n",
        encoding="utf-8")
    node.start()
    try:
        node.add_user("admin", "admin-pw", ".*", ".*", ".*")
        node.ctl("set_user_tags", "admin", "administrator")
        topology = build_topology(load_directory(directory), TopologyOptions(prefix=PREFIX))
        apply_to_url(topology, node.url_for("admin", "admin-pw"))
        env = {"LIENTHONG_DIRECTORY": str(directory), "LIENTHONG_PREFIX": PREFIX,
               "LIENTHONG_MANAGEMENT_URL": f"http://admin:admin-pw@127.0.0.1:{node.management_port}",
               "LIENTHONG_ADMINS_FILE": str(admins), "LIENTHONG_AUDIT_LOG": str(root / "audit.jsonl")}
        _wait_management(node)
        yield Stack(node, env, directory, root / "audit.jsonl", root / "api-secrets.yaml")
    finally:
        node.kill()


def _wait_management(node: ManagedNode) -> None:
    import time

    import httpx
    for _ in range(120):
        try:
            if httpx.get(f"http://127.0.0.1:{node.management_port}/api/overview", auth=("admin", "admin-pw"),
                         timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail("the management API of the test node did not answer")


def _refused(conn: pika.BlockingConnection, op: Any) -> int | None:
    ch = conn.channel()
    ch.confirm_delivery()
    try:
        op(ch)
    except ChannelClosedByBroker as exc:
        return int(exc.reply_code)
    finally:
        if ch.is_open:
            ch.close()
    return None


def test_a_provisioned_system_has_exactly_its_rights(stack: Stack) -> None:
    tc, asn = stack.provision("thanhchuong"), stack.provision("anhson")
    conn = stack.connect("lt-thanhchuong", tc["password"])
    try:
        intake = f"{PREFIX}.intake"
        props = pika.BasicProperties(user_id="lt-thanhchuong")
        assert _refused(conn, lambda ch: ch.basic_publish(intake, "", b"<x/>", props)) is None
        # another system's user_id: RabbitMQ itself refuses (the login decides who speaks)
        forged = pika.BasicProperties(user_id="lt-anhson")
        assert _refused(conn, lambda ch: ch.basic_publish(intake, "", b"<x/>", forged)) == PRECONDITION_FAILED
        for level in (1, 2, 3, 4):  # the level exchanges: only the hub routes there
            exchange = Names(PREFIX).level_exchange(level)
            assert _refused(conn, lambda ch, x=exchange: ch.basic_publish(x, "H41.25", b"<x/>", props)) == ACCESS_REFUSED
        own, other = f"{PREFIX}.sys.thanhchuong.normal", f"{PREFIX}.sys.anhson.normal"
        assert _refused(conn, lambda ch: ch.basic_get(own)) is None
        assert _refused(conn, lambda ch: ch.basic_get(other)) == ACCESS_REFUSED
    finally:
        conn.close()
    perms = stack.node.json("list_topic_permissions")
    mine = [p for p in perms if p["user"] == "lt-thanhchuong"]
    assert mine and all(p["write"] == "^$" and p["read"] == r"^(H41\.25(\..*)?)$" for p in mine)
    assert asn["api_secret"] and tc["api_secret"] != asn["api_secret"]


def test_a_district_admin_acts_only_inside_its_subtree(stack: Stack) -> None:
    stack.provision("anhson")
    refused = stack.run("rotate", "anhson", admin="it-thanhchuong", token="tc-token")
    assert refused.exit_code == 2 and "outside that subtree" in refused.stderr and "Traceback" not in refused.stderr
    refused = stack.run("revoke", "thanhchuong", admin="it-thanhchuong", token="tc-token")
    assert refused.exit_code == 2 and "may not revoke" in refused.stderr
    wrong = stack.run("disable", "thanhchuong", admin="it-thanhchuong", token="not-the-token")
    assert wrong.exit_code == 2 and "wrong token" in wrong.stderr
    done = stack.run("rotate", "thanhchuong", admin="it-thanhchuong", token="tc-token")
    assert done.exit_code == 0, done.output
    log = AuditLog(stack.audit)
    assert log.verify() is None
    last = log.entries()[-4:]
    assert [(e["admin"], e["action"], e["system"], e["outcome"]) for e in last] == [
        ("it-thanhchuong", "rotate", "anhson", "refused"),
        ("it-thanhchuong", "revoke", "thanhchuong", "refused"),
        ("it-thanhchuong", "disable", "thanhchuong", "refused"),
        ("it-thanhchuong", "rotate", "thanhchuong", "done"),
    ]
    assert all("password" not in json.dumps(e) for e in log.entries())


def test_rotate_disable_and_revoke_close_the_open_connections(stack: Stack) -> None:
    first = stack.provision("thanhchuong")
    conn = stack.connect("lt-thanhchuong", first["password"])
    rotated = json.loads(stack.run("rotate", "thanhchuong", admin="province", token="province-token").stdout)
    assert rotated["connections_closed"] == 1
    with pytest.raises(ProbableAuthenticationError):
        stack.connect("lt-thanhchuong", first["password"])
    _gone(conn)
    conn = stack.connect("lt-thanhchuong", rotated["password"])
    disabled = json.loads(stack.run("disable", "thanhchuong", admin="province", token="province-token").stdout)
    assert disabled["connections_closed"] == 1
    _gone(conn)
    again = stack.provision("thanhchuong")  # re-enable
    conn = stack.connect("lt-thanhchuong", again["password"])
    revoked = stack.run("revoke", "thanhchuong", "--api-secrets", str(stack.secrets), admin="province",
                        token="province-token")
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["connections_closed"] == 1
    _gone(conn)
    users = {u["user"] for u in stack.node.json("list_users")}
    assert "lt-thanhchuong" not in users
    assert "thanhchuong" not in stack.secrets.read_text(encoding="utf-8")
    assert oct(stack.secrets.stat().st_mode & 0o777) == "0o600"


def _gone(conn: pika.BlockingConnection) -> None:
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            conn.process_data_events(time_limit=0.2)
        except pika.exceptions.AMQPError:
            return
        if not conn.is_open:
            return
    pytest.fail("the connection stayed open")


def test_the_hub_role_accounts_through_the_management_api(stack: Stack) -> None:
    """`lienthong topology roles` (default --via api): the four users with the rights the topology
    derives, a second run only updates them (passwords kept), --rotate changes one password."""
    def roles(*args: str) -> dict[str, Any]:
        done = CliRunner().invoke(app, ["topology", "roles", "--json", *args], env=stack.env)
        assert done.exit_code == 0, done.output
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    first = roles()
    assert [r["user"] for r in first["roles"]] == [f"{PREFIX}-{r}" for r in ROLES]
    assert all(r["created"] and r["password"] for r in first["roles"])
    listed = {p["user"]: p for p in stack.node.json("list_permissions")}
    for r in first["roles"]:
        expected = role_permissions(r["role"], Names(PREFIX))
        assert (listed[r["user"]]["configure"], listed[r["user"]]["write"], listed[r["user"]]["read"]) == (
            expected.configure, expected.write, expected.read)
    again = roles()
    assert not any(r["created"] or r["password"] for r in again["roles"])
    assert set(again["environment"]) == {"LIENTHONG_HUB_USERS"}
    intake = next(r for r in first["roles"] if r["role"] == "intake")
    stack.connect(intake["user"], intake["password"]).close()  # the update kept the password
    rotated = roles("--role", "intake", "--rotate")
    assert [r["role"] for r in rotated["roles"]] == ["intake"] and rotated["roles"][0]["password"]
    with pytest.raises(ProbableAuthenticationError):
        stack.connect(intake["user"], intake["password"])
    down = CliRunner().invoke(app, ["topology", "roles"], env={**stack.env, "LIENTHONG_MANAGEMENT_URL":
                                                                 f"http://admin:admin-pw@127.0.0.1:{free_port()}"})
    assert down.exit_code == 3 and "unreachable" in down.stderr and "Traceback" not in down.output
