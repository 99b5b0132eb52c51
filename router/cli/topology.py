"""`lienthong topology apply|export|show` and `lienthong directory check|resolve`.

Thin: parse options, call the pure builders and the declarer, print. Settings come from
`router.settings` like every command's (flags over LIENTHONG_* and `.env` over the defaults:
packaged Nghệ An sample, local broker, prefix `lienthong`), so `topology apply` declares the
retry tiers and delivery limit `run` uses.
"""

from __future__ import annotations

import json
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

import typer

from router.cli.errors import OperatorError
from router.cli.options import AmqpUrlOpt, DelaysOpt, DirectoryOpt, LimitOpt, PrefixOpt, command_settings
from router.directory.model import load_directory
from router.settings import Settings, with_userinfo
from router.topology.build import Topology, build_topology
from router.topology.declare import apply_to_url, list_bindings_rabbitmqctl
from router.topology.definitions import export_definitions, role_permission_definitions
from router.topology.names import LANE_HEADER, LANES, LEVELS
from router.topology.rights import COPYING_ROLES, ROLE_PURPOSE, ROLE_URL_SETTING, ROLES, Role, role_user
from router.topology.simulate import route

if TYPE_CHECKING:
    from ops.accounts.roles import Account

topology_app = typer.Typer(help="Broker topology derived from the directory.", no_args_is_help=True)
directory_app = typer.Typer(help="The organ/system directory.", no_args_is_help=True)


def _settings(directory: Path | None, prefix: str | None = None, delivery_limit: int | None = None,
              retry_delays: str | None = None, amqp_url: str | None = None) -> Settings:
    return command_settings(directory=directory, prefix=prefix, delivery_limit=delivery_limit,
                            retry_delays_s=retry_delays, amqp_url=amqp_url)


def _topology(settings: Settings) -> Topology:
    return build_topology(load_directory(settings.directory), settings.topology_options())


@topology_app.command("apply")
def apply_cmd(
    *,
    directory: DirectoryOpt = None,
    amqp_url: AmqpUrlOpt = None,
    prefix: PrefixOpt = None,
    delivery_limit: LimitOpt = None,
    retry_delays: DelaysOpt = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Then unbind our bindings the directory no longer implies (rabbitmqctl).")
    ] = False,
) -> None:
    """Declare exchanges, queues and bindings on the broker (idempotent; never deletes queues).
    Refuses, declaring nothing, when an existing object has other arguments."""
    settings = _settings(directory, prefix, delivery_limit, retry_delays, amqp_url)
    topo = _topology(settings)
    report = apply_to_url(topo, settings.role_urls("topology"), prune=list_bindings_rabbitmqctl if prune else None)
    typer.echo(f"applied: {report.exchanges} exchanges, {report.queues} queues, {report.bindings} bindings")
    for b in report.pruned:
        typer.echo(f"unbound: {b.source} → {b.destination} [{b.routing_key}]")


@topology_app.command("roles")
def roles_cmd(
    *,
    role: Annotated[list[str] | None, typer.Option(
        "--role", help=f"Only this role (repeatable): {', '.join(ROLES)}; default every role.")] = None,
    via: Annotated[str, typer.Option(
        "--via", help="api: the management API at LIENTHONG_MANAGEMENT_URL; rabbitmqctl: on the broker host.")]
    = "api",
    rotate: Annotated[bool, typer.Option("--rotate", help="New passwords for users that exist already.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print each role's user and rights; change nothing.")]
    = False,
    table: Annotated[bool, typer.Option("--table", help="Print the rights table of every account (Markdown).")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    prefix: PrefixOpt = None,
) -> None:
    """Create or update the hub's own broker accounts, one per role with least rights
    (router/topology/rights.py): topology (`topology apply`), intake and deliver (`run --role`),
    operator (`parked`). An existing user keeps its password unless --rotate; a new password is
    printed once, as the role's LIENTHONG_AMQP_URL_<ROLE> line, with the LIENTHONG_HUB_USERS line."""
    from ops.accounts.broker_api import BrokerApiError, ManagementApi
    from ops.accounts.roles import Account, ApiAccounts, CtlAccounts, ensure_accounts
    from router.cli.errors import ServiceUnavailable
    from router.topology.names import Names
    from router.topology.rights import rights_markdown, role_permissions

    if table:
        sys.stdout.write(rights_markdown())
        return
    unknown = [r for r in role or () if r not in ROLES]
    if unknown:
        raise OperatorError(f"unknown role {unknown[0]!r} — roles: {', '.join(ROLES)}")
    if via not in ("api", "rabbitmqctl"):
        raise OperatorError(f"--via {via!r}: use api (the management API) or rabbitmqctl")
    settings = command_settings(prefix=prefix)
    names = Names(settings.prefix)
    chosen = [r for r in ROLES if not role or r in role]
    wanted = {role_user(r, names.prefix): role_permissions(r, names) for r in chosen}
    if dry_run:
        done = [Account(user, permissions, created=False) for user, permissions in wanted.items()]
    else:
        api = ManagementApi(settings.management_url) if via == "api" else None
        try:
            done = ensure_accounts(ApiAccounts(api) if api is not None else CtlAccounts(), wanted, rotate=rotate)
        except BrokerApiError as exc:
            raise ServiceUnavailable(str(exc)) from None
        finally:
            if api is not None:
                api.close()
    env = role_environment(list(zip(chosen, done, strict=True)), settings)
    if as_json:
        rows = [{"role": r, "user": a.user, "created": a.created, "password": a.password,
                 "configure": a.permissions.configure, "write": a.permissions.write, "read": a.permissions.read}
                for r, a in zip(chosen, done, strict=True)]
        typer.echo(json.dumps({"roles": rows, "environment": env}, ensure_ascii=False))
        return
    for r, a in zip(chosen, done, strict=True):
        state = "would set" if dry_run else "created" if a.created else "rotated" if a.password else "updated"
        typer.echo(f"{state} {a.user} ({r}: {ROLE_PURPOSE[r]}): configure {a.permissions.configure} "
                   f"write {a.permissions.write} read {a.permissions.read}")
    for name, value in env.items():
        typer.echo(f"{name}={value}")


def role_environment(done: list[tuple[Role, Account]], settings: Settings) -> dict[str, str]:
    """The settings a deployment needs: each new password as its role's URL (the host of
    LIENTHONG_AMQP_URL), and the users whose copies the stages trust (every copying role)."""
    env = {ROLE_URL_SETTING[r]: with_userinfo(settings.amqp_url, f"{quote(a.user, safe='')}:{quote(pw, safe='')}")
           for r, a in done if (pw := a.password)}
    env["LIENTHONG_HUB_USERS"] = ",".join(role_user(r, settings.prefix) for r in COPYING_ROLES)
    return env


@topology_app.command("links")
def links_cmd(
    *,
    directory: DirectoryOpt = None,
    prefix: PrefixOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the shovels (passwords hidden), define nothing.")]
    = False,
) -> None:
    """Define the shovel of every link system (delivery adapter `shovel`: another province's hub)
    on this hub's broker with rabbitmqctl (plugin rabbitmq_shovel), reading each link's remote URL
    from the environment variable its directory entry names. Idempotent; run after `apply`."""
    from router.topology.links import LinkError, links_of, rabbitmqctl, redacted, set_shovels, shovel_value

    settings = _settings(directory, prefix)
    directory_ = load_directory(settings.directory)
    links = links_of(directory_, build_topology(directory_, settings.topology_options()))
    if not links:
        typer.echo("no link systems in the directory (delivery adapter `shovel`)")
        return
    try:
        if dry_run:
            import os

            for link in links:
                url = os.environ.get(link.remote_url_env) or f"amqp://…@…  ({link.remote_url_env} not set)"
                shown = redacted(shovel_value(link, url)) if link.remote_url_env in os.environ else {"unset": url}
                typer.echo(f"{link.shovel_name}: {json.dumps(shown, ensure_ascii=False)}")
            return
        for name in set_shovels(links, rabbitmqctl):
            typer.echo(f"shovel defined: {name}")
    except LinkError as exc:
        raise OperatorError(str(exc)) from None


@topology_app.command("export")
def export_cmd(
    *,
    directory: DirectoryOpt = None,
    prefix: PrefixOpt = None,
    delivery_limit: LimitOpt = None,
    retry_delays: DelaysOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
    roles: Annotated[bool, typer.Option(
        "--roles", help="Add the permissions of the hub's role accounts (`topology roles`; no users, no passwords).")]
    = False,
) -> None:
    """Write RabbitMQ definitions JSON (for rabbitmqctl import_definitions / load_definitions)."""
    topo = _topology(_settings(directory, prefix, delivery_limit, retry_delays))
    definitions = export_definitions(topo)
    if roles:
        definitions["permissions"] = role_permission_definitions(topo.names)
    text = json.dumps(definitions, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


@topology_app.command("show")
def show_cmd(
    *,
    directory: DirectoryOpt = None,
    prefix: PrefixOpt = None,
    delivery_limit: LimitOpt = None,
    retry_delays: DelaysOpt = None,
    trace: Annotated[str | None, typer.Option("--trace", help="Organ code to trace.")] = None,
    lane: Annotated[str, typer.Option("--lane", help="urgent | normal (with --trace).")] = "normal",
) -> None:
    """Draw the topology as text, or trace one recipient through it."""
    settings = _settings(directory, prefix, delivery_limit, retry_delays)
    d = load_directory(settings.directory)
    topo = build_topology(d, settings.topology_options())
    if trace is None:
        typer.echo(render_text(topo))
        return
    res = d.resolve(trace)
    typer.echo(f"{trace}: {res.outcome}" + (f" ({res.reason})" if res.reason else ""))
    if res.forwarded:
        typer.echo(f"  forwarded: {' → '.join([*res.forwarded, res.code])}")
    if not res.deliverable:
        raise typer.Exit(1)
    exchange, key = topo.route_for(res)
    queues = sorted(route(topo, exchange, key, {LANE_HEADER: lane}))
    typer.echo(f"  publish to {exchange} key {key} [{LANE_HEADER}={lane}] → {', '.join(queues) or 'nowhere'}")


def render_text(topo: Topology) -> str:
    """An ASCII picture of the topology for operators (same data the broker receives)."""
    n = topo.names
    intake_tiers = ", ".join(f"retry.{i} {d}s" for i, d in enumerate(topo.options.intake_tiers, start=1))
    lines = [
        f"{n.intake_exchange} (fanout) ──▶ [{n.intake_queue}]  ✗──▶ [{n.intake_dead}]",
        f"  intake tiers ({intake_tiers}) ──TTL──▶ [{n.intake_retried}]  ✗──▶ [{n.intake_dead}]",
        f"  the hub parks (with a record) ──▶ [{n.intake_parked}]",
        "",
    ]
    for lv in LEVELS:
        x = n.level_exchange(lv)
        lines.append(f"{x} (topic, alternate-exchange {n.unrouted_exchange})")
        per_system: dict[str, list[str]] = {}
        for b in topo.bindings:
            if b.source == x:
                per_system.setdefault(b.destination, []).append(b.routing_key)
        for dest, keys in sorted(per_system.items()):
            wrapped = textwrap.wrap(" ".join(keys), 90) or [""]
            lines.append(f"  ──▶ {dest}: {wrapped[0]}")
            lines += [f"        {w}" for w in wrapped[1:]]
    roots = [b.routing_key for b in topo.bindings if b.source == n.unrouted_exchange]
    lines += [
        "",
        f"{n.unrouted_exchange} (topic, alternate-exchange {n.external_exchange})",
        f"  {' '.join(roots)} ──▶ [{n.unknown_queue}]   (inside the hub's tree, not in the directory)",
        f"{n.external_exchange} (fanout) ──▶ {n.system_exchange(topo.gateway)}"
        "   (outside the tree: national axis)",
        "",
    ]
    tiers = ", ".join(f"retry.{i} {d}s" for i, d in enumerate(topo.options.retry_delays_s, start=1))
    for sid in topo.systems:
        sx = n.system_exchange(sid)
        lines.append(f"{sx} (headers){'  [gateway]' if sid == topo.gateway else ''}")
        for lane_name in LANES:
            lines.append(f"  {LANE_HEADER}={lane_name} ──▶ [{n.system_queue(sid, lane_name)}]")
        lines.append(f"  tiers ({tiers}) ──TTL──▶ {sx};  ✗──▶ [{n.deliver_dead}];  parked ──▶ [{n.parked_queue(sid)}]")
    lines += [
        "",
        f"✗ = dead letter (delivery limit {topo.options.delivery_limit} or reject) via {n.dead_letter_exchange},"
        " recorded and parked by the hub; parked and dead queues dead-letter to"
        f" [{n.graveyard_queue}]",
    ]
    return "\n".join(lines)


@directory_app.command("check")
def check_cmd(file: Annotated[Path, typer.Argument(help="Directory YAML file.")]) -> None:
    """Validate a directory file; lists every error with the entry it concerns."""
    d = load_directory(file)
    systems = ", ".join(f"{s.id}{' (gateway)' if s.gateway else ''}" for s in d.systems.values())
    typer.echo(f"ok: {len(d)} organs, systems: {systems}; hub tree: {', '.join(sorted(d.local_roots))}")


@directory_app.command("resolve")
def resolve_cmd(
    code: Annotated[str, typer.Argument(help="Organ code, e.g. 000.31.25.H41")],
    directory: DirectoryOpt = None,
    on: Annotated[str | None, typer.Option("--on", help="Date (YYYY-MM-DD); default today in Vietnam.")] = None,
) -> None:
    """Show where packages for an organ code go (forwarding included)."""
    d = load_directory(_settings(directory).directory)
    res = d.resolve(code, _date(on) if on else None)
    organ = f"{res.organ.code} {res.organ.name}" if res.organ else "-"
    typer.echo(f"{code}: {res.outcome}; organ {organ}; system {res.system.id if res.system else '-'}")
    if res.forwarded:
        typer.echo(f"  forwarded: {' → '.join([*res.forwarded, res.code])}")
    if res.reason:
        typer.echo(f"  reason: {res.reason}")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise OperatorError(f"invalid date for --on: {text!r} — use YYYY-MM-DD, e.g. 2025-07-01") from None


def register(app: typer.Typer) -> None:
    app.add_typer(topology_app, name="topology")
    app.add_typer(directory_app, name="directory")
