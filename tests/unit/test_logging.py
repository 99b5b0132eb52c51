"""One JSON object per line, always: records logged at once from many threads, through structlog
and through the standard library (as pika and SQLAlchemy log), never share or split a line.
Runs in a child process so the real stderr pipe is what is parsed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

THREADS, RECORDS = 16, 300

CHILD = f"""
import logging, threading
import structlog
from ops.logging import configure_logging

configure_logging("json", "INFO")
slog = structlog.get_logger("lienthong.test")
std = logging.getLogger("lienthong.stdlib")
start = threading.Barrier({THREADS})

def work(n):
    start.wait()
    for i in range({RECORDS}):
        if i % 2:
            slog.info("structlog record", thread=n, i=i, pad="x" * (i % 97) * 40)
        else:
            std.warning("stdlib record %d %d %s", n, i, "y" * (i % 89) * 40)

threads = [threading.Thread(target=work, args=(n,)) for n in range({THREADS})]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_every_line_is_one_json_object_under_concurrent_logging() -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, check=True)
    lines = proc.stderr.splitlines()
    records = [json.loads(line) for line in lines]  # a `}{` or a plain-text line fails here
    assert len(records) == THREADS * RECORDS
    assert {r["event"].split()[0] for r in records} == {"structlog", "stdlib"}
    assert all("timestamp" in r and "level" in r for r in records)


def test_pika_chatter_is_hidden_unless_debug() -> None:
    child = ("import logging; from ops.logging import configure_logging; import sys\n"
             "configure_logging('json', sys.argv[1])\n"
             "logging.getLogger('pika.adapters.blocking_connection').error('Connection workflow failed')\n")
    quiet = subprocess.run([sys.executable, "-c", child, "INFO"], capture_output=True, text=True, check=True)
    loud = subprocess.run([sys.executable, "-c", child, "DEBUG"], capture_output=True, text=True, check=True)
    assert quiet.stderr == ""
    assert json.loads(loud.stderr)["event"] == "Connection workflow failed"


def test_a_worker_names_itself_on_every_line_of_both_loggers() -> None:
    """Under `lienthong run --processes` N workers share one stream: each line says whose it is."""
    child = ("import logging, structlog; from ops.logging import configure_logging\n"
             "configure_logging('json', 'INFO')\n"
             "structlog.get_logger('t').info('structlog record')\n"
             "structlog.get_logger('t').info('own worker field', worker='kept')\n"
             "logging.getLogger('lienthong.stdlib').warning('stdlib record')\n")
    env = {**os.environ, "LIENTHONG_WORKER_NAME": "intake-1"}
    named = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True, env=env)
    records = [json.loads(line) for line in named.stderr.splitlines()]
    assert [r["worker"] for r in records] == ["intake-1", "kept", "intake-1"]
    assert len({r["pid"] for r in records}) == 1 and isinstance(records[0]["pid"], int)
    env.pop("LIENTHONG_WORKER_NAME")
    alone = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True, env=env)
    assert [("worker" in json.loads(line)) for line in alone.stderr.splitlines()] == [False, True, False]
