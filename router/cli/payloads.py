"""`lienthong payloads sweep`: remove claim-checked payloads that every recipient has.

The payload store (LIENTHONG_PAYLOAD_DIR) keeps each large package's bytes while the ledger
says a copy is still on its way — accepted, routed, retrying or parked, since a parked copy may
be replayed — and for LIENTHONG_PAYLOAD_RETENTION_S after the last recipient got it; then this
command removes it (router/pipeline/claimcheck.py). Run it from cron, or let `lienthong run`
do it (every hour). Exit 0; the removed digests are printed, one a line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from router.cli.options import LedgerOpt, command_settings
from router.hub import payload_store_of
from router.ledger import Ledger
from router.pipeline.claimcheck import sweep


def sweep_command(
    ledger_url: LedgerOpt = None,
    payload_dir: Annotated[Path | None, typer.Option(
        "--payload-dir", help="The payload store [env LIENTHONG_PAYLOAD_DIR; default var/payloads]")] = None,
    retention_s: Annotated[float | None, typer.Option(
        "--retention-s", help="Seconds a payload stays after its last delivery "
                              "[env LIENTHONG_PAYLOAD_RETENTION_S; default 7 days]")] = None,
) -> None:
    """Remove the payloads no recipient needs any more (delivered to all, older than the retention)."""
    settings = command_settings(ledger_url=ledger_url, payload_dir=payload_dir, payload_retention_s=retention_s)
    with Ledger.open(settings.ledger_url, create=False) as ledger:
        removed = sweep(payload_store_of(settings), ledger, settings.payload_retention_s)
    out = "".join(f"{d}\n" for d in removed)
    sys.stdout.buffer.write((out + f"removed {len(removed)} payload(s)\n").encode("utf-8"))
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    payloads_app = typer.Typer(help="The claim check's payload store (large packages).", no_args_is_help=True)
    payloads_app.command("sweep")(sweep_command)
    app.add_typer(payloads_app, name="payloads")
