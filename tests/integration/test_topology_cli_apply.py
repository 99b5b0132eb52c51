"""`lienthong topology apply` against the real broker: applies, re-applies, names conflicts."""

from __future__ import annotations

import pika
import pytest
import typer
from typer.testing import CliRunner

from router.cli import topology as topology_cli

pytestmark = pytest.mark.integration


def test_apply_then_conflict(amqp_url: str, broker_prefix: str) -> None:
    app = typer.Typer()
    topology_cli.register(app)
    runner = CliRunner()
    base = ["topology", "apply", "--amqp-url", amqp_url, "--prefix", broker_prefix, "--retry-delays", "1,2"]
    first = runner.invoke(app, base)
    assert first.exit_code == 0, first.output
    assert "applied:" in first.output
    again = runner.invoke(app, [*base, "--prune"])
    assert again.exit_code == 0, again.output
    assert "unbound" not in again.output  # nothing stale after an identical apply
    conflict = runner.invoke(app, [*base, "--delivery-limit", "8"])
    assert conflict.exit_code == 1
    assert f"queue '{broker_prefix}.intake': argument 'x-delivery-limit'" in conflict.output
    assert "Traceback" not in conflict.output
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        ok = conn.channel().queue_declare(f"{broker_prefix}.sys.tinh-nghean.urgent", passive=True)
        assert ok.method.message_count == 0
    finally:
        conn.close()
