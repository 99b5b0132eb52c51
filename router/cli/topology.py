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
from typing import Annotated

import typer

from router.cli.errors import OperatorError
from router.cli.options import AmqpUrlOpt, DelaysOpt, DirectoryOpt, LimitOpt, PrefixOpt, command_settings
from router.directory.model import load_directory
from router.settings import Settings
from router.topology.build import Topology, build_topology
from router.topology.declare import apply_to_url, list_bindings_rabbitmqctl
from router.topology.definitions import export_definitions
from router.topology.names import LANE_HEADER, LANES, LEVELS
from router.topology.simulate import route

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
    report = apply_to_url(topo, settings.broker_urls, prune=list_bindings_rabbitmqctl if prune else None)
    typer.echo(f"applied: {report.exchanges} exchanges, {report.queues} queues, {report.bindings} bindings")
    for b in report.pruned:
        typer.echo(f"unbound: {b.source} → {b.destination} [{b.routing_key}]")


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
) -> None:
    """Write RabbitMQ definitions JSON (for rabbitmqctl import_definitions / load_definitions)."""
    topo = _topology(_settings(directory, prefix, delivery_limit, retry_delays))
    text = json.dumps(export_definitions(topo), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
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
