"""The `lienthong` command. Each subsystem owns its commands; this module only mounts them.

It is the one module allowed to import everything (see tests/unit/test_layering.py).
"""

from __future__ import annotations

import importlib

import typer

from ops.logging import configure_logging
from router.cli.errors import GuardedGroup

app = typer.Typer(
    cls=GuardedGroup,  # operator mistakes become one line and an exit code (router/cli/errors.py)
    name="lienthong",
    help="Trục liên thông văn bản — edXML document exchange hub on RabbitMQ.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# (module, attribute): each attribute is a function `register(app: typer.Typer) -> None`.
# Listed as data so a subsystem adds its commands with one line, and a missing optional
# module is a clear import error rather than a silently absent command.
COMMAND_MODULES: tuple[str, ...] = (
    "schemas.cli",
    "router.cli.run",
    "router.cli.trace",
    "router.cli.topology",
    "router.cli.api",
    "router.cli.axis",
    "signing.cli",
    "router.cli.report",
    "router.cli.systems",
    "router.cli.payloads",
)


@app.callback()
def _root(
    log_format: str = typer.Option("auto", "--log-format", help="auto | json | console"),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING, ERROR"),
) -> None:
    """Trục liên thông văn bản — edXML document exchange hub on RabbitMQ."""
    configure_logging(log_format, log_level)  # type: ignore[arg-type]


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main() -> None:
    app()
