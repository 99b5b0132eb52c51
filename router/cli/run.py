"""`lienthong run`, `send`, `parked list|replay`."""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
from enum import StrEnum
from pathlib import Path
from types import FrameType

import typer

from router.settings import Settings

parked_app = typer.Typer(help="Packages parked for an operator (retries exhausted, refused, crash loops).",
                         no_args_is_help=True)


class Role(StrEnum):
    intake = "intake"
    deliver = "deliver"
    all = "all"


def run(
    role: Role = typer.Option(Role.all, "--role", help="intake, deliver or all"),
    system: list[str] = typer.Option([], "--system", help="deliver only for these systems (repeatable)"),
    apply_topology: bool = typer.Option(True, "--apply-topology/--no-apply-topology",
                                        help="declare the topology before consuming"),
    metrics_port: int | None = typer.Option(None, "--metrics-port",
                                            help="serve Prometheus metrics on 127.0.0.1:PORT"),
) -> None:
    """Run the hub: the route stage (intake), the delivery workers, or both. Stops on SIGTERM/SIGINT
    after finishing in-flight work (grace period LIENTHONG_GRACE_S)."""
    from router.amqp.consumer import BrokerAuthError, Consumer
    from router.hub import Hub
    from router.topology.declare import apply_to_url

    settings = Settings()
    if metrics_port is not None:
        from ops.metrics import serve

        serve(metrics_port)
    hub = Hub.from_settings(settings)
    if apply_topology:
        apply_to_url(hub.topology, settings.amqp_url)
    consumers = []
    if role in (Role.intake, Role.all):
        consumers.append(hub.intake_consumer())
    if role in (Role.deliver, Role.all):
        consumers.append(hub.delivery_consumer(list(system) or None))

    def stop(signum: int, frame: FrameType | None) -> None:
        for c in consumers:
            c.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    errors: list[BaseException] = []

    def guarded(c: Consumer) -> None:
        try:
            c.run()
        except BrokerAuthError as exc:
            typer.echo(f"lỗi xác thực với RabbitMQ / broker authentication failed: {exc}", err=True)
            errors.append(exc)
            for other in consumers:
                other.stop()

    threads = [threading.Thread(target=guarded, args=(c,), name=c.name) for c in consumers]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
    for c in consumers:
        if not c.stopped.is_set():
            errors.append(RuntimeError(f"{c.name} did not stop"))
    hub.close()
    if errors:
        raise typer.Exit(1)


def send(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="edXML package"),
    system: str = typer.Option(..., "--system", help="submit as this system (its broker user)"),
    password: str = typer.Option(..., "--password", envvar="LIENTHONG_SYSTEM_PASSWORD",
                                 help="the system's broker password"),
    wait: float = typer.Option(30.0, "--wait", help="seconds to wait for the intake result"),
) -> None:
    """Submit a package as SYSTEM over AMQP (confirmed, user_id set) and print the intake result."""
    import pika

    from adapters.amqp import Submitter
    from router.directory.model import load_directory
    from router.topology.names import Names

    settings = Settings()
    directory = load_directory(settings.directory)
    if system not in directory.systems:
        raise typer.BadParameter(f"unknown system; known: {', '.join(directory.systems)}", param_hint="--system")
    params = pika.URLParameters(settings.amqp_url)
    user = directory.systems[system].broker_user
    url = f"amqp://{user}:{password}@{params.host}:{params.port}/%2F"
    with Submitter(url, Names(settings.prefix).intake_exchange) as sub:
        result = sub.submit(file.read_bytes(), wait_s=wait)
    if not result.confirmed:
        typer.echo("không được trục xác nhận / not confirmed by the broker (unroutable)", err=True)
        raise typer.Exit(1)
    if result.result is None:
        typer.echo("đã gửi, chưa có kết quả / submitted; no intake result within the wait", err=True)
        raise typer.Exit(3)
    typer.echo(json.dumps(result.result, ensure_ascii=False, indent=2))
    raise typer.Exit(0 if result.result.get("outcome") in ("accepted", "duplicate") else 1)


@parked_app.command("list")
def parked_list(
    system: str | None = typer.Option(None, "--system", help="only this system (`intake`: packages held at intake)"),
    fmt: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """List parked packages with the reason they were parked (nothing is removed)."""
    from router.amqp.parked import ParkedQueueMissing, list_parked
    from router.directory.model import load_directory
    from router.topology.build import build_topology

    settings = Settings()
    topology = build_topology(load_directory(settings.directory), settings.topology_options())
    try:
        items = list_parked(topology, settings.amqp_url, system)
    except (ParkedQueueMissing, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if fmt == "json":
        for it in items:
            typer.echo(json.dumps(dataclasses.asdict(it), ensure_ascii=False))
        return
    if not items:
        typer.echo("Không có gói tin nào bị giữ lại / nothing parked")
    for it in items:
        where = f"→ {it.recipients}" if it.recipients else f"từ/from {it.submitted_by or '?'}"
        typer.echo(f"{it.system}  {it.digest[:16]}  {it.document_id}  {where}  "
                   f"(lần/attempt {it.attempt}) [{it.code or '?'}]: {it.reason}")


@parked_app.command("replay")
def parked_replay(
    system: str | None = typer.Option(None, "--system", help="only this system (`intake`: packages held at intake)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="count what would be replayed, change nothing"),
) -> None:
    """Send parked packages to their system again, attempt count reset (after fixing the cause)."""
    from router.amqp.parked import ParkedQueueMissing, replay_parked
    from router.directory.model import load_directory
    from router.topology.build import build_topology

    settings = Settings()
    topology = build_topology(load_directory(settings.directory), settings.topology_options())
    try:
        n = replay_parked(topology, settings.amqp_url, system, dry_run=dry_run)
    except (ParkedQueueMissing, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    verb = "sẽ gửi lại / would replay" if dry_run else "đã gửi lại / replayed"
    typer.echo(f"{verb}: {n}")


def demo(
    samples: Path = typer.Option(
        Path(__file__).resolve().parents[3] / "shared" / "domain" / "samples", "--samples",
        help="folder of sample edXML packages"),
    workdir: Path = typer.Option(Path("var/demo"), "--workdir", help="ledger and delivered files go here"),
    keep: bool = typer.Option(False, "--keep", help="keep the demo's queues and exchanges on the broker"),
) -> None:
    """Start the hub on the sample directory, route the sample packages end to end (statuses
    included) and print where each package went and what came back."""
    from rich.console import Console

    from router.cli.demo import run_demo

    settings = Settings()
    raise typer.Exit(run_demo(samples, workdir.resolve(), settings.amqp_url, Console(), keep=keep))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("run")(run)
    app.command("send")(send)
    app.add_typer(parked_app, name="parked")
