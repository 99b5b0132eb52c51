"""Reaching the real services on loopback, and isolating tests on the shared broker.

A missing broker is a skip on a developer's laptop and a failure in CI (dramatiq's pattern):
CI must never go green by skipping the tests that matter.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AMQP_URL = os.environ.get("LIENTHONG_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
PG_URL = os.environ.get("LIENTHONG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def ensure_services() -> None:
    """Start (or install) RabbitMQ and PostgreSQL through scripts/services.sh when silent."""
    if answers(5672) and answers(5432):
        return
    subprocess.run(["bash", str(ROOT / "scripts" / "services.sh")], check=False, timeout=600)


def require(port: int, what: str) -> None:
    if answers(port):
        return
    ensure_services()
    if answers(port):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} does not answer on 127.0.0.1:{port} and could not be started")
    pytest.skip(f"{what} not available on 127.0.0.1:{port}")


@contextmanager
def pg_schema(pg_url: str, label: str = "lt_test") -> Iterator[str]:
    """A PostgreSQL URL whose `search_path` is a schema of its own, dropped after: the ledger
    code sees one URL and nothing else, exactly as in production."""
    from sqlalchemy import create_engine, make_url, text

    schema = f"{label}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def unique_prefix(label: str = "t") -> str:
    """Every test's broker objects start with this, so parallel runs never collide."""
    return f"lt-{label}-{uuid.uuid4().hex[:8]}"


def delete_broker_objects(prefix: str) -> None:
    """Delete queues, exchanges and policies named with `prefix` (management API when
    enabled, otherwise rabbitmqctl), so the shared broker is left as found."""
    import pika

    params = pika.URLParameters(AMQP_URL)
    names_q, names_x, policies = _list_with_rabbitmqctl(prefix)
    conn = pika.BlockingConnection(params)
    try:
        ch = conn.channel()
        for q in names_q:
            ch.queue_delete(q)
        for x in names_x:
            ch.exchange_delete(x)
    finally:
        conn.close()
    for p in policies:
        subprocess.run(["rabbitmqctl", "clear_policy", p], capture_output=True, check=False, timeout=60)


def _list_with_rabbitmqctl(prefix: str) -> tuple[list[str], list[str], list[str]]:
    def names(*args: str) -> list[str]:
        out = subprocess.run(
            ["rabbitmqctl", "-q", "--formatter", "json", *args],
            capture_output=True, text=True, check=False, timeout=120,
        )
        if out.returncode != 0 or not out.stdout.strip():
            return []
        return [row["name"] for row in json.loads(out.stdout) if str(row.get("name", "")).startswith(prefix)]

    return names("list_queues", "name"), names("list_exchanges", "name"), names("list_policies")

