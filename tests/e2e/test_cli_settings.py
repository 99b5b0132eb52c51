"""One source of settings and one line per operator mistake, through the real `lienthong`
process in a fresh working directory (no ./var, no LIENTHONG_* in the environment).

Each case asserts the whole of stderr — one line naming the cause and what to do, no
traceback, no pika chatter — and the exit code: 2 usage/configuration, 3 a service down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from router.ledger.events import PackageKind, PackageReceived
from router.ledger.store import Ledger
from tests.support.procs import LIENTHONG
from tests.support.services import delete_broker_objects, unique_prefix

pytestmark = pytest.mark.e2e

DOC = "000.00.00.H41,2025/03/01,12/UBND-VP"
USE_URL = "use sqlite:///path/ledger.db or postgresql+psycopg://user@host/db"


def lienthong(cwd: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    return subprocess.run([str(LIENTHONG), *args], capture_output=True, text=True, cwd=cwd,
                          env={**clean, **(env or {})}, timeout=timeout, check=False)


def one_line(done: subprocess.CompletedProcess[str], code: int, line: str) -> None:
    assert (done.returncode, done.stderr) == (code, f"lienthong: {line}\n")


def record_document(url: str) -> None:
    with Ledger.open(url) as ledger:
        ledger.append([PackageReceived("d" * 64, PackageKind.EDOC, "000.00.00.H41", "tinh-nghean",
                                       document_id=DOC, recipients=("000.00.13.H41",))])


# -- Two sources of settings ---------------------------------------------------------------------
def test_trace_reads_the_ledger_run_writes_by_default(tmp_path: Path) -> None:
    record_document(f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite3'}")  # `run`'s default, relative to cwd
    done = lienthong(tmp_path, "trace", DOC)
    assert done.returncode == 0, done.stderr
    assert DOC in done.stdout
    assert not (tmp_path / "lienthong-ledger.db").exists()


def test_trace_and_verify_honour_dot_env(tmp_path: Path) -> None:
    ledger = tmp_path / "elsewhere" / "hub.db"
    record_document(f"sqlite:///{ledger}")
    (tmp_path / ".env").write_text(f"LIENTHONG_LEDGER_URL=sqlite:///{ledger}\n", encoding="utf-8")
    assert lienthong(tmp_path, "trace", DOC).returncode == 0
    verified = lienthong(tmp_path, "ledger", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "1 mục" in verified.stdout


@pytest.mark.parametrize("args", [("ledger", "verify"), ("trace", DOC)])
def test_read_only_commands_never_create_a_ledger(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = lienthong(tmp_path, *args, "--ledger", "sqlite:///typo/ledgr.db")
    one_line(done, 2, "ledger not found: typo/ledgr.db — check --ledger / LIENTHONG_LEDGER_URL "
                      "(`lienthong run` creates it)")
    assert list(tmp_path.iterdir()) == []


# -- Tracebacks for everyday mistakes ------------------------------------------------------------
def test_bad_ledger_url(tmp_path: Path) -> None:
    one_line(lienthong(tmp_path, "ledger", "verify", "--ledger", "ledger.db"), 2,
             f"invalid ledger URL 'ledger.db' — {USE_URL}")


def test_postgresql_down(tmp_path: Path) -> None:
    done = lienthong(tmp_path, "trace", DOC, "--ledger", "postgresql+psycopg://postgres@127.0.0.1:1/lt")
    one_line(done, 3, "PostgreSQL unreachable at 127.0.0.1:1/lt — start it or check LIENTHONG_LEDGER_URL / --ledger")


def test_rabbitmq_down(tmp_path: Path) -> None:
    done = lienthong(tmp_path, "topology", "apply", "--prefix", unique_prefix("down"),
                     env={"LIENTHONG_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"})
    one_line(done, 3, "RabbitMQ unreachable at 127.0.0.1:1 — start it or check LIENTHONG_AMQP_URL / --amqp-url")


def test_wrong_broker_password_when_run_applies_the_topology(tmp_path: Path, amqp_url: str) -> None:
    bad = amqp_url.replace("guest:guest@", "guest:wrong@")
    done = lienthong(tmp_path, "run", "--amqp-url", bad, "--prefix", unique_prefix("pw"))
    one_line(done, 2, "RabbitMQ at 127.0.0.1:5672 refused user 'guest' (wrong password or no access to the vhost)"
                      " — check LIENTHONG_AMQP_URL / --amqp-url")


def test_directory_check_on_a_binary_file(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    one_line(lienthong(tmp_path, "directory", "check", "logo.png"), 2,
             "invalid directory: logo.png: not UTF-8 text (byte 0); save the directory as UTF-8 YAML")


def test_directory_resolve_with_a_bad_date(tmp_path: Path) -> None:
    one_line(lienthong(tmp_path, "directory", "resolve", "000.00.22.H41", "--on", "2025-13-01"), 2,
             "invalid date for --on: '2025-13-01' — use YYYY-MM-DD, e.g. 2025-07-01")


def test_missing_directory_file(tmp_path: Path) -> None:
    one_line(lienthong(tmp_path, "topology", "show", "--directory", "danh-ba.yaml"), 2,
             "cannot read danh-ba.yaml: No such file or directory — check the path")


def test_invalid_setting_in_the_environment(tmp_path: Path) -> None:
    done = lienthong(tmp_path, "topology", "export", env={"LIENTHONG_DELIVERY_LIMIT": "0"})
    one_line(done, 2, "invalid setting delivery_limit (Input should be greater than or equal to 1) — fix "
                      "LIENTHONG_DELIVERY_LIMIT in the environment or .env, or the --delivery-limit flag")


def test_run_in_a_fresh_folder_creates_what_it_writes_to(tmp_path: Path, amqp_url: str) -> None:
    prefix = unique_prefix("fresh")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    log_path = tmp_path.parent / f"{prefix}.log"
    log = log_path.open("wb")
    hub = subprocess.Popen([str(LIENTHONG), "--log-format", "json", "run", "--prefix", prefix, "--amqp-url",
                            amqp_url], cwd=tmp_path, env=clean, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while log_path.read_text().count('"consuming"') < 2 and hub.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert log_path.read_text().count('"consuming"') == 2, log_path.read_text()
        for created in ("ledger.sqlite3", "deliver/tinh-nghean", "deliver/huyen-thanhchuong"):
            assert (tmp_path / "var" / created).exists()
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(60) == 0
    finally:
        if hub.poll() is None:
            hub.kill()
        log.close()
        delete_broker_objects(prefix)
