"""Operator mistakes and outages as one line and an exit code, never a traceback.

Commands do not catch these one by one: `GuardedGroup`, the class of the root `lienthong`
command, runs every command and turns the exceptions below (anywhere in the cause chain) into
one line on stderr naming the cause and what to do. Everything else is a bug and keeps its
traceback. Exit codes, for scripts:

* 0 found / done, 1 not found / chain broken (the commands' own answers);
* 2 usage or configuration (bad URL, missing ledger, wrong password, unreadable file, bad date);
* 3 a service that does not answer (RabbitMQ, PostgreSQL, rabbitmqctl).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
import typer
import typer.core
import typer.exceptions
from pika.adapters.utils.connection_workflow import AMQPConnectorException
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError

from adapters.axis.client import AxisNotConfigured
from adapters.folder_layout import FolderJailError
from adapters.webhook import WebhookSecretError
from ops.provision import ProvisionError
from router.amqp.consumer import BrokerAuthError
from router.directory.model import DirectoryError
from router.ledger.engine import LedgerMissing, LedgerUrlError
from router.pipeline.submitter import GatewayConfigError
from router.topology.declare import TopologyMismatchError

EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
ACCESS_REFUSED = 403


class OperatorError(Exception):
    """A mistake the operator can fix (exit 2), raised by a command with its one-line message."""

    exit_code = EXIT_USAGE


class ServiceUnavailable(OperatorError):
    exit_code = EXIT_UNREACHABLE


@dataclass
class Targets:
    """Where this command talks to, so a message can name the service (never its password)."""

    amqp_url: str = ""
    ledger_url: str = ""
    #: the setting the broker URL came from, for the advice in a message
    amqp_setting: str = "LIENTHONG_AMQP_URL"


TARGETS = Targets()


def _amqp_where() -> tuple[str, str]:
    try:
        p = pika.URLParameters(TARGETS.amqp_url)
    except Exception:  # noqa: BLE001 - an unparsable URL is reported by pika itself
        return "the configured address", "?"
    user = getattr(p.credentials, "username", "?")
    return f"{p.host}:{p.port}", user


def _ledger_where() -> str:
    try:
        u = make_url(TARGETS.ledger_url)
    except ArgumentError:
        return "the configured address"
    return f"{u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def _database(exc: DatabaseError) -> OperatorError:
    orig = exc.orig
    detail = _first_line(orig)
    if type(orig).__module__.startswith("sqlite3"):
        return OperatorError(f"cannot use the SQLite ledger ({detail}) — check LIENTHONG_LEDGER_URL / --ledger, "
                             "the file and its folder's permissions")
    if "does not exist" in detail or "authentication failed" in detail or "role" in detail:
        return OperatorError(f"PostgreSQL refused the ledger connection ({detail}) — check LIENTHONG_LEDGER_URL")
    return ServiceUnavailable(f"PostgreSQL unreachable at {_ledger_where()} — start it or check "
                              "LIENTHONG_LEDGER_URL / --ledger")


def _settings(exc: ValidationError) -> OperatorError:
    err = exc.errors()[0]
    name = ".".join(str(x) for x in err["loc"]) or "?"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return OperatorError(f"invalid setting {name} ({err['msg']}){more} — fix LIENTHONG_{name.upper()} "
                         f"in the environment or .env, or the --{name.replace('_', '-')} flag")


def _mismatch(exc: TopologyMismatchError) -> OperatorError:
    first = exc.mismatches[0]
    more = f" (and {len(exc.mismatches) - 1} more)" if len(exc.mismatches) > 1 else ""
    return OperatorError(f"topology not applied, nothing declared: {first}{more} — use the broker's values "
                         "or migrate the object (router/TOPOLOGY.md)")


def explain_one(exc: BaseException) -> OperatorError | None:
    """The operator's line for this exception alone, or None (not an operator mistake)."""
    match exc:
        case OperatorError():
            return exc
        case AxisNotConfigured():
            return OperatorError(str(exc))
        case LedgerMissing():
            return OperatorError(f"ledger not found: {exc.path} — check --ledger / LIENTHONG_LEDGER_URL "
                                 "(`lienthong run` creates it)")
        case LedgerUrlError() | NoSuchModuleError():
            return OperatorError(f"invalid ledger URL {_safe_url(TARGETS.ledger_url)} — use "
                                 "sqlite:///path/ledger.db or postgresql+psycopg://user@host/db")
        case DatabaseError():
            return _database(exc)
        case (pika.exceptions.ProbableAuthenticationError() | pika.exceptions.AuthenticationError()
              | pika.exceptions.ProbableAccessDeniedError() | BrokerAuthError()):
            where, user = _amqp_where()
            return OperatorError(f"RabbitMQ at {where} refused user {user!r} (wrong password or no access to "
                                 f"the vhost) — check {TARGETS.amqp_setting} / --amqp-url")
        case pika.exceptions.ChannelClosedByBroker() if exc.reply_code == ACCESS_REFUSED:
            _, user = _amqp_where()
            return OperatorError(f"RabbitMQ refused user {user!r} this command's work ({_first_line(exc.reply_text)})"
                                 f" — check {TARGETS.amqp_setting}: it needs the account of the right role "
                                 "(`lienthong topology roles --dry-run` lists them)")
        case pika.exceptions.AMQPConnectionError() | AMQPConnectorException():
            where, _ = _amqp_where()
            return ServiceUnavailable(f"RabbitMQ unreachable at {where} — start it or check "
                                      f"{TARGETS.amqp_setting} / --amqp-url")
        case TopologyMismatchError():
            return _mismatch(exc)
        case ValidationError():
            return _settings(exc)
        case SettingsError():
            return OperatorError(f"invalid setting: {_first_line(exc)} — fix the environment or .env")
        case DirectoryError():
            if len(exc.errors) == 1:
                return OperatorError(f"invalid directory: {exc.errors[0]}")
            return OperatorError(str(exc))  # the validation report: one line per entry in error
        case UnicodeDecodeError():
            return OperatorError(f"not UTF-8 text (byte {exc.start}) — save the file as UTF-8")
        case GatewayConfigError():
            return OperatorError(str(exc))
        case WebhookSecretError():
            return OperatorError(f"{exc} — set it outside the directory file (README, webhook)")
        case FolderJailError():
            return OperatorError(f"{exc} — use real folders inside the root (README, drop folders)")
        case ProvisionError():
            return ServiceUnavailable(f"{_first_line(exc)}")
        case FileNotFoundError() | IsADirectoryError() | NotADirectoryError() | PermissionError():
            if exc.filename is None:
                return None
            return OperatorError(f"cannot read {exc.filename}: {exc.strerror} — check the path")
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def explain(exc: BaseException) -> OperatorError | None:
    """The first operator-level cause in the exception's chain."""
    for e in _chain(exc):
        found = explain_one(e)
        if found is not None:
            return found
    return None


def report(failure: OperatorError) -> None:
    sys.stderr.buffer.write(f"lienthong: {failure}\n".encode())
    sys.stderr.flush()


class GuardedGroup(typer.core.TyperGroup):
    """The root command: every subcommand runs inside `explain` (see the module docstring)."""

    def invoke(self, ctx: Any) -> Any:  # typer.Context: typer types it with its vendored click
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise
        except Exception as exc:
            failure = explain(exc)
            if failure is None:
                raise
            report(failure)
            raise typer.Exit(failure.exit_code) from None
