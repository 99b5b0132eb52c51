"""`lienthong run` with adapters whose configuration is incomplete stops before touching the
broker, in one line naming what is missing and never the secret."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from router.settings import PACKAGE_DATA
from tests.support.procs import LIENTHONG

pytestmark = pytest.mark.e2e


def _run(tmp_path: Path, delivery: dict[str, object], **env_extra: str) -> subprocess.CompletedProcess[str]:
    data = yaml.safe_load((PACKAGE_DATA / "nghe_an.yaml").read_text(encoding="utf-8"))
    for system in data["systems"]:
        if system["id"] == "huyen-thanhchuong":
            system["delivery"] = delivery
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update(LIENTHONG_DIRECTORY=str(path), LIENTHONG_LEDGER_URL=f"sqlite:///{tmp_path / 'l.sqlite3'}",
               LIENTHONG_AMQP_URL="amqp://nobody:x@127.0.0.1:1/%2F", **env_extra)  # never reached
    return subprocess.run([str(LIENTHONG), "run"], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120, check=False)


def test_a_webhook_without_its_secret_stops_in_one_line(tmp_path: Path) -> None:
    done = _run(tmp_path, {"adapter": "webhook", "options": {"url": "https://dms.example.vn/hook",
                                                             "secret_env": "LT_TEST_UNSET_SECRET"}})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith(
        "webhook secret of system huyen-thanhchuong: environment variable LT_TEST_UNSET_SECRET is not set "
        "— set it outside the directory file (README, webhook)")


def test_drop_folders_without_the_watchers_account_stop_in_one_line(tmp_path: Path) -> None:
    done = _run(tmp_path, {"adapter": "folder", "options": {"root": "folders/huyen"}})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "set LIENTHONG_FOLDERS_AMQP_URL" in done.stderr.strip().splitlines()[-1]
    done = _run(tmp_path, {"adapter": "folder", "options": {"root": "folders/huyen"}},
                LIENTHONG_FOLDERS_AMQP_URL="amqp://lt-gw-folders:pw@127.0.0.1:1/%2F")
    assert "'lt-gw-folders' is not in LIENTHONG_GATEWAY_USERS" in done.stderr.strip().splitlines()[-1]
    assert "pw@" not in done.stderr
