"""`lienthong topology apply` against the real broker: applies, re-applies, names conflicts and
then declares nothing (no mixed topology), with the settings `run` uses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pika
import pytest
from typer.testing import CliRunner

from router.cli import app
from router.directory.model import SAMPLE_DIRECTORY, load_directory
from router.topology.build import TopologyOptions, build_topology
from router.topology.declare import find_conflicts
from tests.support.procs import LIENTHONG

pytestmark = pytest.mark.integration


def test_apply_then_conflict(amqp_url: str, broker_prefix: str) -> None:
    runner = CliRunner()
    base = ["topology", "apply", "--amqp-url", amqp_url, "--prefix", broker_prefix, "--retry-delays", "1,2"]
    first = runner.invoke(app, base)
    assert first.exit_code == 0, first.output
    assert "applied:" in first.output
    again = runner.invoke(app, [*base, "--prune"])
    assert again.exit_code == 0, again.output
    assert "unbound" not in again.output  # nothing stale after an identical apply
    # a conflicting delivery limit and a new (third) retry tier: refused before anything is declared
    conflict = runner.invoke(app, [*base[:-1], "1,2,3", "--delivery-limit", "8"])
    assert conflict.exit_code == 2
    assert f"queue '{broker_prefix}.intake': argument 'x-delivery-limit'" in conflict.output
    assert "nothing declared" in conflict.output
    assert "Traceback" not in conflict.output
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        ok = conn.channel().queue_declare(f"{broker_prefix}.sys.tinh-nghean.urgent", passive=True)
        assert ok.method.message_count == 0
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as missing:
            conn.channel().queue_declare(f"{broker_prefix}.sys.tinh-nghean.retry.3", passive=True)
        assert missing.value.reply_code == 404  # the new tier was not created beside the old topology
    finally:
        if conn.is_open:
            conn.close()


def test_apply_takes_retry_tiers_and_limit_from_the_environment(
    amqp_url: str, broker_prefix: str, tmp_path: Path
) -> None:
    """`run` reads LIENTHONG_RETRY_DELAYS_S / LIENTHONG_DELIVERY_LIMIT (and .env); so does apply."""
    (tmp_path / ".env").write_text("LIENTHONG_DELIVERY_LIMIT=7\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "LIENTHONG_AMQP_URL": amqp_url, "LIENTHONG_PREFIX": broker_prefix,
           "LIENTHONG_RETRY_DELAYS_S": "1,2,3"}
    done = subprocess.run([str(LIENTHONG), "topology", "apply"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        conn.channel().queue_declare(f"{broker_prefix}.sys.tinh-nghean.retry.3", passive=True)
        seven = build_topology(load_directory(SAMPLE_DIRECTORY),
                               TopologyOptions(prefix=broker_prefix, delivery_limit=7, retry_delays_s=(1, 2, 3)))
        assert find_conflicts(seven, conn.channel()) == []  # 7 from .env, not the default 5
    finally:
        if conn.is_open:
            conn.close()
