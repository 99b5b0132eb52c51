"""`lienthong axis poll` and `lienthong axis reconcile`: the hub's link to the national axis.

`poll` takes in what the axis holds for the hub (adapters/axis/poller.py), submitting it to
intake as the national-axis gateway system (LIENTHONG_AXIS_AMQP_URL: that system's own broker
account, or a gateway account listed in LIENTHONG_GATEWAY_USERS that names it in
`lt-on-behalf-of`); intake then treats every package as submitted by the gateway, which serves
every organ outside the hub's tree.
`reconcile` compares the axis's `getSentEdocList` with the ledger (adapters/axis/reconcile.py).
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog
import typer

from router.cli.errors import TARGETS, OperatorError, ServiceUnavailable
from router.cli.options import DirectoryOpt, LedgerOpt, PrefixOpt, command_settings
from router.settings import Settings

if TYPE_CHECKING:
    from adapters.axis.client import AxisConfig
    from adapters.axis.protocol import SentEdoc
    from router.directory.model import Directory

log = structlog.get_logger("lienthong.axis")
axis_app = typer.Typer(help="The national document axis (trục liên thông quốc gia): poll, reconcile.",
                       no_args_is_help=True)


def _config(settings: Settings) -> AxisConfig:
    from router.hub import axis_config

    config = axis_config(settings)
    if config is None:
        raise OperatorError("the national axis is not configured — set LIENTHONG_AXIS_URL, LIENTHONG_AXIS_SYSTEM_ID "
                            "and LIENTHONG_AXIS_SECRET (or LIENTHONG_AXIS_SECRET_FILE)")
    return config


class BrokerIntake:
    """Submits to the intake exchange as the gateway system; True only on the broker's confirm.
    A broker that does not answer is a False (the poller tries again next round), reconnecting
    on the next call."""

    def __init__(self, url: str, exchange: str, headers: dict[str, str] | None = None) -> None:
        self.url, self.exchange, self.headers = url, exchange, headers
        self._submitter: Any = None

    def __call__(self, body: bytes) -> bool:
        import pika.exceptions

        from adapters.amqp import Submitter

        try:
            if self._submitter is None:
                self._submitter = Submitter(self.url, self.exchange)
            return bool(self._submitter.submit(body, want_reply=False, headers=self.headers).confirmed)
        except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError,
                pika.exceptions.ProbableAccessDeniedError):
            raise  # wrong credentials do not heal by waiting: one line and exit 2
        except pika.exceptions.AMQPError as exc:
            log.warning("axis.intake_unavailable", error=type(exc).__name__)
            self.close()
            return False

    def close(self) -> None:
        submitter, self._submitter = self._submitter, None
        if submitter is not None:
            with contextlib.suppress(Exception):  # a dead connection: nothing left to close
                submitter.close()


#: how intake records packages the poller submits through a gateway account (lt-authenticated-by)
AXIS_LINK_METHOD = "axis-link"


def _intake(settings: Settings, directory: Directory) -> BrokerIntake:
    """The poller's way into intake: the gateway system's own broker account, or an adapter
    gateway account (LIENTHONG_GATEWAY_USERS) naming the gateway system in `lt-on-behalf-of`
    (router/pipeline/submitter.py) — write on intake only, no system queue to read."""
    import pika

    from router.pipeline.submitter import AUTHENTICATED_BY, ON_BEHALF_OF
    from router.topology.names import Names

    gateway = directory.gateway
    if settings.axis_amqp_url is None:
        raise OperatorError(f"set LIENTHONG_AXIS_AMQP_URL: the broker URL the poller submits with (the national-axis "
                            f"system's account {gateway.broker_user}, or a gateway account of LIENTHONG_GATEWAY_USERS)")
    url = settings.axis_amqp_url.get_secret_value()
    user = pika.URLParameters(url).credentials.username
    TARGETS.amqp_url = url
    exchange = Names(settings.prefix).intake_exchange
    if user == gateway.broker_user:
        return BrokerIntake(url, exchange)
    if user in settings.gateway_users:
        return BrokerIntake(url, exchange, {ON_BEHALF_OF: gateway.id, AUTHENTICATED_BY: AXIS_LINK_METHOD})
    raise OperatorError(f"LIENTHONG_AXIS_AMQP_URL logs in as {user!r}, which is neither the national-axis system's "
                        f"broker user {gateway.broker_user!r} (directory) nor in LIENTHONG_GATEWAY_USERS")


@axis_app.command("poll")
def poll(
    once: bool = typer.Option(False, "--once", help="one round, print what it did as JSON, exit"),
    interval: float | None = typer.Option(None, "--interval",
                                          help="seconds between rounds [env LIENTHONG_AXIS_POLL_INTERVAL_S; 60]"),
    ledger: LedgerOpt = None,
    directory: DirectoryOpt = None,
    prefix: PrefixOpt = None,
) -> None:
    """Take in what the national axis holds for the hub (edoc, then status packages): fetch each,
    submit it to intake as the national-axis system, confirm it to the axis with
    updateStatus(done) once the broker confirmed. Runs until SIGTERM/SIGINT (or --once)."""
    from adapters.axis.client import AxisClient
    from adapters.axis.journal import AxisJournal
    from adapters.axis.poller import AxisPoller
    from router.directory.model import load_directory

    settings = command_settings(ledger_url=ledger, directory=directory, prefix=prefix,
                                axis_poll_interval_s=interval)
    config = _config(settings)
    intake = _intake(settings, load_directory(settings.directory))
    journal = AxisJournal.open(config.journal_url)
    client = AxisClient(config.link)
    poller = AxisPoller(client, journal, intake, fetch_with=config.fetch_with)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if not once:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    try:
        while True:
            report = poller.poll_once()
            if once:
                typer.echo(json.dumps({**report.summary(), "waiting": report.waiting}, ensure_ascii=False))
                raise typer.Exit(0 if report.clean else 3)
            if stop.wait(settings.axis_poll_interval_s):
                break
    finally:
        intake.close()
        client.close()
        journal.close()


def _ledger_deliveries(ledger_url: str, system_id: str) -> dict[tuple[str, str], str]:
    from sqlalchemy import select

    from router.ledger import schema as t
    from router.ledger.store import Ledger

    with Ledger.open(ledger_url, create=False) as ledger, ledger.engine.connect() as conn:
        rows = conn.execute(select(t.deliveries.c.digest, t.deliveries.c.recipient_organ, t.deliveries.c.state)
                            .where(t.deliveries.c.system_id == system_id)).all()
    return {(r[0], r[1]): str(r[2]) for r in rows}


def _axis_sent(config: AxisConfig) -> list[SentEdoc]:
    from adapters.axis.client import AxisClient, AxisDown, AxisOk

    items: list[SentEdoc] = []
    with AxisClient(config.link) as client:
        for messagetype in ("edoc", "status"):
            got = client.sent_list(messagetype)
            if isinstance(got, AxisDown):
                raise ServiceUnavailable(f"the national axis does not answer at {config.link.url} ({got.error})")
            if not isinstance(got, AxisOk):
                raise OperatorError(f"the national axis refused getSentEdocList: ErrorCode {got.code} {got.desc[:160]}")
            items.extend(got.answer.data)
    return items


@axis_app.command("reconcile")
def reconcile_command(
    fmt: str = typer.Option("table", "--format", help="table or json"),
    ledger: LedgerOpt = None,
    directory: DirectoryOpt = None,
) -> None:
    """Compare what the national axis says the hub sent (getSentEdocList) with the ledger and the
    axis sink's journal: packages missing at the axis, unknown to the ledger, or in another
    state. Exit 0 when they agree, 1 when there are differences."""
    from adapters.axis.journal import RECEIVED, AxisJournal
    from adapters.axis.reconcile import reconcile
    from router.directory.model import load_directory

    if fmt not in ("table", "json"):
        raise typer.BadParameter("table or json", param_hint="--format")
    settings = command_settings(ledger_url=ledger, directory=directory)
    config = _config(settings)
    gateway = load_directory(settings.directory).gateway.id
    deliveries = _ledger_deliveries(settings.ledger_url, gateway)
    journal = AxisJournal.open(config.journal_url)
    try:
        records = journal.all_sent()
        with journal.engine.connect() as conn:
            from_axis = frozenset(d for (d,) in conn.execute(RECEIVED.select().with_only_columns(RECEIVED.c.digest))
                                  if d)
    finally:
        journal.close()
    result = reconcile(records, deliveries, _axis_sent(config), from_axis=from_axis)
    if fmt == "json":
        typer.echo(json.dumps({"clean": result.clean, "sent": result.sent, "listed": result.listed,
                               "differences": [d.as_dict() for d in result.differences]}, ensure_ascii=False,
                              indent=2))
    else:
        typer.echo(f"sent to the axis: {result.sent} (package, recipient) · listed by the axis: {result.listed} · "
                   f"differences: {len(result.differences)}")
        if result.differences:
            header = ("kind", "recipient", "axis DocId", "document", "ledger", "axis", "detail")
            rows = [(d.kind, d.recipient, d.doc_id or "—", (d.document_id or d.digest[:16]) or "—",
                     d.ledger_state or "—", d.axis_state or "—", d.detail) for d in result.differences]
            widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
            for row in (header, *rows):
                typer.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    raise typer.Exit(0 if result.clean else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(axis_app, name="axis")
