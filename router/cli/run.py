"""`lienthong run`, `send`, `parked list|replay`."""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

import structlog
import typer

from router.cli.errors import TARGETS, OperatorError
from router.cli.options import AmqpUrlOpt, DirectoryOpt, LedgerOpt, PrefixOpt, command_settings
from router.settings import Settings

if TYPE_CHECKING:
    from ops.health import HealthServer
    from router.hub import Hub
    from router.topology.build import Topology

T = TypeVar("T")

parked_app = typer.Typer(help="Packages parked for an operator (retries exhausted, refused, crash loops).",
                         no_args_is_help=True)


class Role(StrEnum):
    intake = "intake"
    deliver = "deliver"
    all = "all"


log = structlog.get_logger("lienthong.run")


def run(
    role: Role = typer.Option(Role.all, "--role", help="intake, deliver or all"),
    system: list[str] = typer.Option([], "--system", help="deliver only for these systems (repeatable)"),
    apply_topology: bool = typer.Option(True, "--apply-topology/--no-apply-topology",
                                        help="declare the topology before consuming"),
    metrics_port: int | None = typer.Option(None, "--metrics-port",
                                            help="serve /metrics, /healthz and /readyz on 127.0.0.1:PORT"),
    metrics_addr: str = typer.Option("127.0.0.1", "--metrics-addr",
                                     help="address of --metrics-port (0.0.0.0 in a container)"),
    processes: int | None = typer.Option(
        None, "--processes", min=1,
        help="N worker processes per role (all: N intake + N deliver) under one supervisor that restarts "
             "them; needs a PostgreSQL ledger for N > 1"),
    ledger: LedgerOpt = None,
    directory: DirectoryOpt = None,
    prefix: PrefixOpt = None,
    amqp_url: AmqpUrlOpt = None,
) -> None:
    """Run the hub: the route stage (intake), the delivery workers, or both. Stops on SIGTERM/SIGINT
    after finishing in-flight work (grace period LIENTHONG_GRACE_S). Creates the folders it
    writes to (the SQLite ledger's, the file sinks'). With --processes, a supervisor runs the
    stages as worker processes (router/cli/supervisor.py)."""
    from adapters.folder import FolderSink
    from router.amqp.consumer import BrokerAuthError, Consumer
    from router.cli.supervisor import ChildRole, ParentLink
    from router.hub import Hub
    from router.topology.declare import apply_to_url

    settings = command_settings(ledger_url=ledger, directory=directory, prefix=prefix, amqp_url=amqp_url)
    child = ChildRole.from_env()
    if child is None and processes is not None:
        code = _supervise(settings, role, processes, apply_topology=apply_topology, metrics_port=metrics_port,
                          metrics_addr=metrics_addr)
        if code:
            raise typer.Exit(code)
        return
    if child is not None:  # a worker: the supervisor declared the topology and serves /metrics
        role, apply_topology, metrics_port = Role(child.role), False, None
    health: HealthServer | ParentLink | None = None
    if metrics_port is not None:
        from ops.health import HealthServer

        health = HealthServer(metrics_port, metrics_addr)  # /readyz answers 503 until the checks are set
    # what must run once per hub, not once per worker: drop-folder pollers, mailbox returns
    first = child is None or child.slot == 0
    hub = Hub.from_settings(settings)
    for sid, sink in hub.sinks.items():
        if isinstance(sink, FolderSink):
            try:
                sink.directory.mkdir(parents=True, exist_ok=True)
            except OSError as unusable:  # a broken inbox is the sink's failure at delivery, not the hub's
                log.warning("delivery folder unusable", system=sid, folder=str(sink.directory), error=str(unusable))
    try:  # drop folders are read by the intake role (adapters/folder_poller.py); checked before the broker
        pollers = hub.folder_pollers() if role in (Role.intake, Role.all) and first else []
    except ValueError as missing:  # the folder watcher's gateway account is not configured
        raise OperatorError(f"{missing} (README, drop folders)") from None
    for poller in pollers:
        poller.folders.prepare()  # a folder outside its root is refused here, in one line
    if apply_topology:  # with the topology role's account (LIENTHONG_AMQP_URL_TOPOLOGY) when it has one
        apply_to_url(hub.topology, settings.role_urls("topology"))
    consumers = []
    if role in (Role.intake, Role.all):
        consumers.append(hub.intake_consumer())
    if role in (Role.deliver, Role.all):
        consumers.append(hub.delivery_consumer(list(system) or None))
    polling = threading.Event()
    poller_threads = []
    for poller in pollers:
        poller_threads.append(threading.Thread(target=poller.run, args=(polling,),
                                               name=f"folder-{poller.folders.system}", daemon=True))
        poller_threads[-1].start()

    if role in (Role.deliver, Role.all) and first:  # letters a pulling system could not take (adapters/mailbox.py)
        from router.amqp.mailbox_returns import start_returns

        start_returns(hub.sinks, hub.topology, settings.role_url("deliver"), polling)
        # payloads every recipient has (the claim check, README "Large packages"), hourly
        threading.Thread(target=_sweep_payloads, args=(hub, polling), name="payload-sweep", daemon=True).start()

    def stop(signum: int, frame: FrameType | None) -> None:
        polling.set()
        for c in consumers:
            c.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if child is not None:  # heartbeats and readiness to the supervisor; stop if it is gone
        health = ParentLink(child.fd, lambda: stop(signal.SIGTERM, None))
    errors: list[BaseException] = []

    def guarded(c: Consumer) -> None:
        try:
            c.run()
        except BrokerAuthError as exc:
            errors.append(exc)
            for other in consumers:
                other.stop()

    threads = [threading.Thread(target=guarded, args=(c,), name=c.name) for c in consumers]
    if health is not None:
        from router.cli.health import readiness_checks

        health.set_checks(readiness_checks(hub, consumers, topology_declared=True))
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
            if health is not None:
                health.beat()
    polling.set()  # a claim in progress finishes (or is resumed by the next start's sweep)
    for t in poller_threads:
        t.join(settings.grace_s)
    for c in consumers:
        if not c.stopped.is_set():
            errors.append(RuntimeError(f"{c.name} did not stop"))
    hub.close()
    for exc in errors:
        if isinstance(exc, BrokerAuthError):
            raise exc  # one line and exit 2 (router/cli/errors.py)
    if errors:
        raise typer.Exit(1)


def _supervise(
    settings: Settings, role: Role, processes: int, *, apply_topology: bool, metrics_port: int | None,
    metrics_addr: str,
) -> int:
    """`run --processes N`: declare the topology once, then keep N workers per role running
    (router/cli/supervisor.py) and serve one /metrics, /healthz, /readyz for all of them."""
    from sqlalchemy.engine import make_url

    from router.cli.supervisor import Supervisor, metrics_folder, remove_metrics_folder, worker_command
    from router.topology.declare import apply_to_url

    if processes > 1 and make_url(settings.ledger_url).get_backend_name() == "sqlite":
        raise OperatorError(
            f"--processes {processes} needs a PostgreSQL ledger: SQLite lets one process write at a time "
            "(set LIENTHONG_LEDGER_URL=postgresql+psycopg://…, or run --processes 1)")
    if apply_topology:
        apply_to_url(_topology(settings), settings.role_urls("topology"))
    roles = [Role.intake.value, Role.deliver.value] if role is Role.all else [role.value]
    folder = metrics_folder() if metrics_port is not None else None
    supervisor = Supervisor(worker_command(), roles, processes, grace_s=settings.grace_s, metrics_dir=folder)
    server = None
    try:
        if folder is not None and metrics_port is not None:
            from prometheus_client import CollectorRegistry
            from prometheus_client.multiprocess import MultiProcessCollector

            from ops import metrics
            from ops.health import HealthServer

            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
            registry.register(metrics.WORKER_RESTARTS)  # the supervisor's own, kept in its memory
            server = HealthServer(metrics_port, metrics_addr, registry=registry)
            server.set_checks({"topology": lambda: True, **supervisor.checks()})
            supervisor.beat = server.beat
        signal.signal(signal.SIGTERM, supervisor.stop)
        signal.signal(signal.SIGINT, supervisor.stop)
        code = supervisor.run()
    finally:
        if server is not None:
            server.close()
        if folder is not None:
            remove_metrics_folder(folder)
    if code == 2:
        raise OperatorError("a worker stopped on a configuration error (its message is above); "
                            "every worker was stopped")
    return code


def _sweep_payloads(hub: Hub, stop: threading.Event, every_s: float = 3600.0) -> None:
    """At start and then every `every_s` until `stop`; a failing sweep is logged, never fatal
    (with `--processes N`, the first delivery worker sweeps, as it returns mailbox letters)."""
    while True:
        try:
            removed = hub.sweep_payloads()
            if removed:
                log.info("payloads swept", removed=len(removed))
        except Exception as exc:  # noqa: BLE001 - the store or the ledger: try again next time
            log.warning("payload sweep failed", error=f"{type(exc).__name__}: {exc}")
        if stop.wait(every_s):
            return


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

    settings = command_settings()
    directory = load_directory(settings.directory)
    if system not in directory.systems:
        raise typer.BadParameter(f"unknown system; known: {', '.join(directory.systems)}", param_hint="--system")
    params = pika.URLParameters(settings.amqp_url)
    user = directory.systems[system].broker_user
    url = f"amqp://{user}:{password}@{params.host}:{params.port}/%2F"
    TARGETS.amqp_url = url  # a refused login names the system's user, not the hub's
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
    directory: DirectoryOpt = None,
    prefix: PrefixOpt = None,
    amqp_url: AmqpUrlOpt = None,
) -> None:
    """List parked packages with the reason they were parked (nothing is removed)."""
    from router.amqp.parked import list_parked

    settings = command_settings(directory=directory, prefix=prefix, amqp_url=amqp_url)
    topology = _topology(settings)
    items = _parked_call(lambda: list_parked(topology, settings.role_url("operator"), system))
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
    directory: DirectoryOpt = None,
    prefix: PrefixOpt = None,
    amqp_url: AmqpUrlOpt = None,
) -> None:
    """Send parked packages to their system again, attempt count reset (after fixing the cause)."""
    from router.amqp.parked import replay_parked
    from router.hub import hub_users_of

    settings = command_settings(directory=directory, prefix=prefix, amqp_url=amqp_url)
    topology = _topology(settings)
    n = _parked_call(lambda: replay_parked(
        topology, settings.role_url("operator"), system, dry_run=dry_run,
        hub_users=hub_users_of(settings)))
    verb = "sẽ gửi lại / would replay" if dry_run else "đã gửi lại / replayed"
    typer.echo(f"{verb}: {n}")


def _topology(settings: Settings) -> Topology:
    from router.directory.model import load_directory
    from router.topology.build import build_topology

    return build_topology(load_directory(settings.directory), settings.topology_options())


def _parked_call(call: Callable[[], T]) -> T:
    """An unknown system or a parked queue that does not exist is the operator's to fix."""
    from router.amqp.parked import ParkedQueueMissing

    try:
        return call()
    except (ParkedQueueMissing, ValueError) as exc:
        raise OperatorError(str(exc)) from None


def demo(
    samples: Path = typer.Option(
        Path(__file__).resolve().parents[3] / "shared" / "domain" / "samples", "--samples",
        help="folder of sample edXML packages"),
    workdir: Path = typer.Option(Path("var/demo"), "--workdir",
                                 help="each run's ledger and delivered files go to a new folder in here"),
    keep: bool = typer.Option(False, "--keep", help="keep the demo's queues and exchanges on the broker"),
    amqp_url: AmqpUrlOpt = None,
) -> None:
    """Start the hub on the sample directory, route the sample packages end to end (statuses
    included) and print where each package went and what came back. Uses its own broker users,
    queues and folder (a unique prefix per run) and removes only those."""
    from rich.console import Console

    from router.cli.demo import run_demo

    settings = command_settings(amqp_url=amqp_url)
    raise typer.Exit(run_demo(samples, workdir, settings, Console(), keep=keep))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("run")(run)
    app.command("send")(send)
    app.add_typer(parked_app, name="parked")
