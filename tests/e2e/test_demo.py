"""The demo is safe on a shared broker: its own users, queues and folder (a unique prefix per
run), removed afterwards; a user it did not create — even one named like the sample
directory's `lt-tinh-nghean` — keeps its password; the printed `lienthong trace` command works."""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
from pathlib import Path

import pika
import pytest
import yaml

from ops.provision import ensure_user, existing_users, revoke_user, system_grant
from router.cli.demo import new_run, write_directory
from tests.support.procs import LIENTHONG
from tests.support.services import AMQP_URL, delete_broker_objects

SAMPLE_USER = "lt-tinh-nghean"  # the broker user the shipped sample directory names


@pytest.mark.unit
def test_each_run_gets_its_own_prefix_users_and_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("an operator's file")
    one, two = new_run(tmp_path), new_run(tmp_path)
    assert one.prefix != two.prefix and one.root != two.root
    assert one.root.is_dir() and (tmp_path / "keep.txt").exists()
    users = {s["broker_user"] for s in yaml.safe_load(write_directory(one).read_text(encoding="utf-8"))["systems"]}
    assert users and all(u.startswith(f"{one.prefix}-") for u in users)
    doc = "000.31.25.H41,2025/03/20,15/UBND"
    assert shlex.split(one.trace_command(doc)) == ["lienthong", "trace", doc, "--ledger", one.ledger_url]


def _logs_in(user: str, password: str) -> bool:
    params = pika.URLParameters(AMQP_URL.replace("guest:guest@", f"{user}:{password}@"))
    try:
        pika.BlockingConnection(params).close()
    except pika.exceptions.AMQPConnectionError:
        return False
    return True


@pytest.mark.e2e
@pytest.mark.slow
def test_demo_touches_only_what_it_created(tmp_path: Path, amqp_url: str, samples_dir: Path) -> None:
    password = secrets.token_urlsafe(12)
    ours = SAMPLE_USER not in existing_users()
    if ours:
        ensure_user(system_grant(SAMPLE_USER, "lienthong", "tinh-nghean"), password)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env["PATH"] = f"{LIENTHONG.parent}:{env.get('PATH', '')}"
    try:
        done = subprocess.run([str(LIENTHONG), "--log-level", "WARNING", "demo", "--samples", str(samples_dir),
                               "--workdir", str(tmp_path), "--amqp-url", amqp_url], capture_output=True,
                              text=True, env={**env, "COLUMNS": "200"}, cwd=tmp_path, timeout=300, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        (run_dir,) = list(tmp_path.glob("lt-demo-*"))
        prefix = run_dir.name
        assert not {u for u in existing_users() if u.startswith(prefix)}, "the demo left users behind"
        if ours:
            assert _logs_in(SAMPLE_USER, password), "the demo reset or deleted a user it did not create"
        assert f"Sổ cái / ledger: {run_dir / 'ledger.sqlite3'}" in done.stdout
        assert "Chuỗi bằng chứng nguyên vẹn: " in done.stdout and "ChainVerdict" not in done.stdout
        assert str(run_dir / "var" / "deliver" / "tinh-nghean") in done.stdout
        (next_line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("Xem tiếp / next: ")]
        command = next_line.removeprefix("Xem tiếp / next: ")
        traced = subprocess.run(command, shell=True, capture_output=True, text=True, env=env,
                                cwd="/", timeout=120, check=False)
        assert traced.returncode == 0, traced.stderr
        assert "000.00.00.G09" in traced.stdout  # the national-axis recipient of the cross-system package
    finally:
        if ours:
            revoke_user(SAMPLE_USER)
        for d in tmp_path.glob("lt-demo-*"):
            delete_broker_objects(d.name)  # only if the demo failed half-way; normally nothing is left
