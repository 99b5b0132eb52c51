"""`lienthong systems provision|rotate|disable|revoke SYSTEM` and `systems admin-token`: each
system's broker user and API secret, changed through the RabbitMQ management API by an admin
limited to a subtree, every action recorded with who did it (ops/accounts/).

The acting admin is `--admin NAME` with its token in LIENTHONG_ADMIN_TOKEN (never a flag: it
would land in the shell history). The new password and API secret are printed once.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from ops.accounts.admins import Action, AdminError, Admins, token_hash
from ops.accounts.audit import AuditLog
from ops.accounts.broker_api import BrokerApiError, ManagementApi
from ops.accounts.systems import AccountResult, SystemAccounts, SystemRef
from ops.compliance.units import Units
from router.cli.errors import OperatorError, ServiceUnavailable
from router.cli.options import DirectoryOpt, PrefixOpt, command_settings
from router.directory.model import load_directory
from router.topology.build import build_topology

systems_app = typer.Typer(help="Systems' broker accounts and API secrets (delegated admin).", no_args_is_help=True)

AdminOpt = Annotated[str, typer.Option("--admin", help="Acting admin (admins file); token in LIENTHONG_ADMIN_TOKEN")]
SecretsOpt = Annotated[Path | None, typer.Option(
    "--api-secrets", help="API secrets YAML of `lienthong api` to write the system's new secret to "
                          "[env LIENTHONG_API_SECRETS]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]


def _act(action: Action, system_id: str, admin: str, api_secrets: Path | None, as_json: bool,
         directory: Path | None, prefix: str | None) -> None:
    settings = command_settings(directory=directory, prefix=prefix)
    d = load_directory(settings.directory)
    system = d.systems.get(system_id)
    if system is None:
        raise OperatorError(f"system {system_id!r} is not in the directory ({', '.join(sorted(d.systems))})")
    if settings.admins_file is None:
        raise OperatorError("no admins file — set LIENTHONG_ADMINS_FILE to the YAML of admins and their subtrees")
    token = os.environ.get("LIENTHONG_ADMIN_TOKEN", "")
    if not token:
        raise OperatorError("set LIENTHONG_ADMIN_TOKEN to the acting admin's token")
    units = Units({}, {o.code: o.parent for o in d.organs})
    topology = build_topology(d, settings.topology_options())
    api = ManagementApi(settings.management_url)
    try:
        accounts = SystemAccounts(
            api, prefix=settings.prefix, topic_exchanges=[x.name for x in topology.exchanges if x.type == "topic"],
            admins=Admins.load(settings.admins_file), audit=AuditLog(settings.audit_log), lineage=units.lineage,
            api_secrets=api_secrets or settings.api_secrets)
        result = accounts.run(admin, token, action, SystemRef(system.id, system.broker_user, system.serves))
    except AdminError as exc:
        raise OperatorError(str(exc)) from None
    except BrokerApiError as exc:
        raise ServiceUnavailable(str(exc)) from None
    finally:
        api.close()
    _print(result, as_json)


def _print(result: AccountResult, as_json: bool) -> None:
    if as_json:
        text = json.dumps({"system": result.system, "action": result.action.value, "broker_user": result.broker_user,
                           "password": result.password, "api_secret": result.api_secret,
                           "connections_closed": result.connections_closed}, ensure_ascii=False) + "\n"
    else:
        lines = [f"{result.action.value}: hệ thống {result.system}, tài khoản {result.broker_user} "
                 f"({result.connections_closed} kết nối đã đóng / connections closed)"]
        if result.password:
            lines.append(f"mật khẩu / password: {result.password}")
        if result.api_secret:
            lines.append(f"khóa API / API secret: {result.api_secret}")
        text = "\n".join(lines) + "\n"
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()


@systems_app.command("provision")
def provision(system: Annotated[str, typer.Argument(help="System id of the directory")], admin: AdminOpt,
              api_secrets: SecretsOpt = None, as_json: JsonOpt = False, directory: DirectoryOpt = None,
              prefix: PrefixOpt = None) -> None:
    """Create (or reset) the system's broker user: write on the intake exchange only, read on its own queues
    only, topic permissions on its own routing keys; and a new API secret."""
    _act(Action.PROVISION, system, admin, api_secrets, as_json, directory, prefix)


@systems_app.command("rotate")
def rotate(system: Annotated[str, typer.Argument(help="System id of the directory")], admin: AdminOpt,
           api_secrets: SecretsOpt = None, as_json: JsonOpt = False, directory: DirectoryOpt = None,
           prefix: PrefixOpt = None) -> None:
    """New password (and API secret); the connections opened with the old one are closed."""
    _act(Action.ROTATE, system, admin, api_secrets, as_json, directory, prefix)


@systems_app.command("disable")
def disable(system: Annotated[str, typer.Argument(help="System id of the directory")], admin: AdminOpt,
            as_json: JsonOpt = False, directory: DirectoryOpt = None, prefix: PrefixOpt = None) -> None:
    """Remove the system's permissions and close its connections (the user stays; provision re-enables)."""
    _act(Action.DISABLE, system, admin, None, as_json, directory, prefix)


@systems_app.command("revoke")
def revoke(system: Annotated[str, typer.Argument(help="System id of the directory")], admin: AdminOpt,
           api_secrets: SecretsOpt = None, as_json: JsonOpt = False, directory: DirectoryOpt = None,
           prefix: PrefixOpt = None) -> None:
    """Delete the system's broker user, close its connections and remove its API secret."""
    _act(Action.REVOKE, system, admin, api_secrets, as_json, directory, prefix)


@systems_app.command("admin-token")
def admin_token() -> None:
    """Print a new admin token and the token_sha256 line for the admins file."""
    token = secrets.token_urlsafe(32)
    sys.stdout.write(f"token (give it to the admin, once): {token}\ntoken_sha256: {token_hash(token)}\n")


def register(app: typer.Typer) -> None:
    app.add_typer(systems_app, name="systems")
