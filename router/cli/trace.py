"""`lienthong trace` and `lienthong ledger verify`: reading the ledger from a shell.

Exit codes are the answer for scripts: 0 found / chain intact, 1 not found / chain broken,
2 no such ledger (both only read: a missing SQLite file is never created), 3 ledger unreachable.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from router.cli.options import LedgerOpt, command_settings
from router.ledger import Ledger, render_trace_text


class TraceFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def trace(
    document_id: Annotated[
        str, typer.Argument(help="MessageHeader/DocumentId, e.g. '000.00.00.H41,2025/03/01,12/UBND-VP'")
    ],
    fmt: Annotated[
        TraceFormat, typer.Option("--format", help="text (for people) or json (for tools)")
    ] = TraceFormat.TEXT,
    ledger_url: LedgerOpt = None,
) -> None:
    """Show where a document went and what came back: per recipient, the transport history and the
    business statuses (01 … 16), with the revoke/update/replace packages that refer to it."""
    with Ledger.open(command_settings(ledger_url=ledger_url).ledger_url, create=False) as ledger:
        found = ledger.trace(document_id)
    _write(found.to_json() + "\n" if fmt is TraceFormat.JSON else render_trace_text(found))
    if not found.found:
        raise typer.Exit(1)


def verify(ledger_url: LedgerOpt = None) -> None:
    """Recompute the evidence chain from its first entry; name the first entry that does not fit."""
    with Ledger.open(command_settings(ledger_url=ledger_url).ledger_url, create=False) as ledger:
        verdict = ledger.verify_chain()
    _write(verdict.text() + "\n")
    if not verdict.ok:
        raise typer.Exit(1)


def _write(text: str) -> None:
    # bytes, not print(): a C/POSIX locale on a server must not turn Vietnamese into an error
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)
    ledger_app = typer.Typer(help="The ledger: evidence chain checks.", no_args_is_help=True)
    ledger_app.command("verify")(verify)
    app.add_typer(ledger_app, name="ledger")
