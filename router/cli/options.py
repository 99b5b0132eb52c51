"""The flags every command shares, and the one way a command turns them into `Settings`.

Each flag defaults to None, meaning "not given": `command_settings` then lets `.env` and the
environment (LIENTHONG_*) decide, and below them the defaults of `router.settings.Settings` —
the only place a default lives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from router.cli.errors import TARGETS
from router.settings import Settings, settings_from
from router.topology.rights import ROLES

LedgerOpt = Annotated[str | None, typer.Option(
    "--ledger", help="Ledger URL: sqlite:///path/ledger.db or postgresql+psycopg://user@host/db "
                     "[env LIENTHONG_LEDGER_URL; default sqlite:///var/ledger.sqlite3]")]
AmqpUrlOpt = Annotated[str | None, typer.Option(
    "--amqp-url", help="Broker URL, for every role of this command [env LIENTHONG_AMQP_URL; a role's own "
                       "LIENTHONG_AMQP_URL_<ROLE> wins over the environment's]")]
PrefixOpt = Annotated[str | None, typer.Option(
    "--prefix", help="Broker name prefix [env LIENTHONG_PREFIX; default lienthong]")]
DirectoryOpt = Annotated[Path | None, typer.Option(
    "--directory", "-d", help="Directory YAML file [env LIENTHONG_DIRECTORY; default the packaged sample]")]
LimitOpt = Annotated[int | None, typer.Option(
    "--delivery-limit", help="Quorum x-delivery-limit of working queues [env LIENTHONG_DELIVERY_LIMIT]")]
DelaysOpt = Annotated[str | None, typer.Option(
    "--retry-delays", help="Retry tier TTLs (s), comma-separated [env LIENTHONG_RETRY_DELAYS_S]")]


def command_settings(**flags: Any) -> Settings:
    """Settings for this command: the given flags over environment, `.env` and defaults.
    Also tells the error reporter which broker and ledger the command talks to."""
    if flags.get("retry_delays_s") is not None:
        flags["retry_delays_s"] = str(flags["retry_delays_s"])  # "2,5,10": parsed by Settings
    if flags.get("amqp_url") is not None:  # an explicit broker URL is every role's, over their own settings
        for role in ROLES:
            flags.setdefault(f"amqp_url_{role}", flags["amqp_url"])
    settings = settings_from(**flags)
    TARGETS.amqp_url, TARGETS.ledger_url = settings.amqp_url, settings.ledger_url
    return settings
