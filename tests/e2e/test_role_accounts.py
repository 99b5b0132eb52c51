"""Least rights are enough (issue 8 item 1): the hub run as two processes, each with only its
role's account as `lienthong topology roles` provisions it — intake (declaring first with the
topology account), deliver, and the operator's `parked` commands — routes a package, routes a
status back, parks a failing delivery (the sender told) and replays it after the fix.
LIENTHONG_AMQP_URL names a user that does not exist, so any path still using it would fail."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.provision import revoke_user
from router.topology.rights import ROLES
from schemas.codes import StatusCode
from tests.support.packages import make_edoc, make_status
from tests.support.procs import LIENTHONG, PASSWORD, HubEnv, hub_environment
from tests.support.services import unique_prefix
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(amqp_url: str, tmp_path: Path) -> Iterator[HubEnv]:
    prefix = unique_prefix("rolerun")
    try:
        with hub_environment(amqp_url, prefix, tmp_path) as e:
            yield e
    finally:
        for role in ROLES:
            revoke_user(f"{prefix}-{role}")


def _cli(env: HubEnv, *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LIENTHONG), *args], capture_output=True, text=True, env=env.env(extra), cwd=env.root,
                          timeout=120, check=False)


def test_the_hub_runs_routes_parks_and_replays_with_role_accounts_only(env: HubEnv) -> None:
    nobody = f"amqp://{env.prefix}-nobody:wrong@{env.amqp_url.split('@', 1)[1]}"
    provisioned = _cli(env, "topology", "roles", "--via", "rabbitmqctl", "--json")
    assert provisioned.returncode == 0, provisioned.stderr
    settings = json.loads(provisioned.stdout)["environment"]
    hub_users = {"LIENTHONG_HUB_USERS": settings["LIENTHONG_HUB_USERS"], "LIENTHONG_AMQP_URL": nobody}
    intake_env = {**hub_users, **{k: settings[k] for k in ("LIENTHONG_AMQP_URL_TOPOLOGY", "LIENTHONG_AMQP_URL_INTAKE")}}
    deliver_env = {**hub_users, "LIENTHONG_AMQP_URL_DELIVER": settings["LIENTHONG_AMQP_URL_DELIVER"]}
    operator_env = {**hub_users, "LIENTHONG_AMQP_URL_OPERATOR": settings["LIENTHONG_AMQP_URL_OPERATOR"]}

    blocker = env.inbox("truc-quoc-gia").directory  # the national axis's connector is down
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder: every delivery to the axis fails")
    intake = env.spawn("intake", journal=False, extra_env=intake_env)
    deliver = env.spawn("deliver", journal=False, extra_env=deliver_env, args=("--no-apply-topology",))
    try:
        intake.wait_ready()
        deliver.wait_ready()
        edoc = make_edoc("000.00.13.H41", ["000.31.25.H41"], 81)  # province department → a Thanh Chương commune
        to_axis = make_edoc("000.00.13.H41", ["000.00.00.G09"], 82)  # → Bộ Nội vụ, through the national axis
        status = make_status("000.31.25.H41", "000.00.13.H41", 81, StatusCode.ARRIVED)
        for system, body in (("tinh-nghean", edoc), ("tinh-nghean", to_axis)):
            path = env.root / f"p-{len(body)}.edxml"
            path.write_bytes(body)
            sent = _cli(env, "send", str(path), "--system", system, "--password", PASSWORD)
            assert sent.returncode == 0 and json.loads(sent.stdout)["outcome"] == "accepted", sent.stdout + sent.stderr

        def inbox(sid: str) -> list[bytes]:
            return [f.read_bytes() for f in env.inbox(sid).delivered()]

        wait_for(lambda: edoc in inbox("huyen-thanhchuong"), timeout=60, what="the package delivered")
        answer = env.root / "status.edxml"
        answer.write_bytes(status)
        sent = _cli(env, "send", str(answer), "--system", "huyen-thanhchuong", "--password", PASSWORD)
        assert sent.returncode == 0 and json.loads(sent.stdout)["outcome"] == "accepted", sent.stdout + sent.stderr
        wait_for(lambda: status in inbox("tinh-nghean"), timeout=60, what="the status delivered")

        def parked() -> list[dict[str, object]]:
            out = _cli(env, "parked", "list", "--format", "json", extra=operator_env)
            assert out.returncode == 0, out.stderr[-2000:]
            return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

        wait_for(lambda: len(parked()) == 1, timeout=90, what="the failing delivery parked")
        item = parked()[0]
        assert item["system"] == "truc-quoc-gia" and item["code"] == "DELIVERY_FAILED", item
        wait_for(lambda: any(b"[DELIVERY_FAILED]" in b for b in inbox("tinh-nghean")), timeout=60,
                 what="the sender told")
        blocker.unlink()
        replay = _cli(env, "parked", "replay", "--system", "truc-quoc-gia", extra=operator_env)
        assert replay.returncode == 0 and replay.stdout.strip().endswith("1"), replay.stdout + replay.stderr
        wait_for(lambda: to_axis in inbox("truc-quoc-gia"), timeout=60, what="the replayed package delivered")
        assert parked() == []
        refused = _cli(env, "topology", "apply", extra={"LIENTHONG_AMQP_URL_TOPOLOGY": settings[
            "LIENTHONG_AMQP_URL_INTAKE"]})  # the intake account cannot declare: one line, no traceback
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "refused user" in refused.stderr, \
            refused.stderr
    finally:
        for proc in (intake, deliver):
            proc.popen.send_signal(signal.SIGTERM)
    for proc in (intake, deliver):
        assert proc.popen.wait(timeout=60) == 0, proc.tail(30)
