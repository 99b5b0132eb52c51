"""`lienthong api`: serve the national-axis-compatible HTTP API (adapters/axis/api.py).

This module composes it from the hub's parts: the directory, the ledger (sent lists, and the
mailboxes that live in its database), the failure policy (when a letter a system could not
take is offered again) and the intake exchange, reached with the API's own broker account — a
gateway account (ops/provision.py `gateway_grant`) that intake trusts to name the system it
authenticated only because it is listed in LIENTHONG_GATEWAY_USERS (router/pipeline/submitter.py).

Start-up checks everything it can and stops with one line naming the cause: the secrets file,
each account's system, the gateway account's login, its right to publish to intake (a
publish inside a transaction that is rolled back: nothing reaches intake), and its listing
among the gateway users.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import structlog
import typer

from router.cli.errors import TARGETS, OperatorError
from router.cli.options import DirectoryOpt, LedgerOpt, PrefixOpt, command_settings
from router.settings import Settings

if TYPE_CHECKING:
    import pika
    from sqlalchemy import Engine

    from adapters.axis import protocol as p
    from adapters.axis.api import AxisParts, HubUnavailable, Kind, Submitted
    from adapters.mailbox import Mailbox
    from adapters.payloadstore import PayloadStore
    from router.directory.model import Directory
    from schemas.profiles import Profile

log = structlog.get_logger("lienthong.axisapi")
REPLY_TO = "amq.rabbitmq.reply-to"
HMAC_METHOD = "axis-hmac"


# -- ports ----------------------------------------------------------------------------------------


class DirectoryView:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def has_system(self, system_id: str) -> bool:
        return system_id in self.directory.systems

    def serves(self, system_id: str, organ: str) -> bool:
        return self.directory.serves(system_id, organ)

    def profile(self, system_id: str) -> Profile:
        return self.directory.systems[system_id].validation

    def agencies(self) -> list[p.Agency]:
        from adapters.axis import protocol as p

        return [p.Agency(id=o.code, pid=o.parent or "", code=o.code, name=o.name, mail="")
                for o in sorted(self.directory.organs, key=lambda o: o.code)]


class SentView:
    """getSentEdocList from the ledger: one item per (package, recipient), with the transport
    state (`sendStatus`) and the recipient's latest business status (`receiveStatus`)."""

    def __init__(self, engine: Engine, mailbox: Mailbox) -> None:
        self.engine = engine
        self.mailbox = mailbox

    def sent(self, system_id: str, kind: Kind, doc_id: str | None) -> list[p.SentEdoc]:
        from sqlalchemy import select

        from adapters.axis import protocol as p
        from adapters.axis.api import sent_doc_id
        from adapters.mailbox import doc_id_of
        from router.ledger.schema import deliveries, packages, statuses
        from schemas.codes import StatusCode

        with self.engine.connect() as conn:
            rows = conn.execute(
                select(packages).where(packages.c.submitted_by == system_id, packages.c.kind == kind)
                .order_by(packages.c.received_at.desc()).limit(500)
            ).mappings().all()
            if doc_id:
                rows = [r for r in rows if sent_doc_id(r["digest"]) == doc_id] or rows[:0]
            digests = [r["digest"] for r in rows]
            legs = conn.execute(select(deliveries).where(deliveries.c.digest.in_(digests))).mappings().all() \
                if digests else []
            doc_ids = {r["document_id"] for r in rows if r["document_id"]}
            reports = conn.execute(
                select(statuses).where(statuses.c.document_id.in_(doc_ids)).order_by(statuses.c.reported_at)
            ).mappings().all() if doc_ids else []
        latest = {(s["document_id"], s["reporter_organ"]): s["status_code"] for s in reports}
        by_digest: dict[str, list[Any]] = {}
        for leg in legs:
            by_digest.setdefault(leg["digest"], []).append(leg)
        out: list[p.SentEdoc] = []
        for r in rows:
            for leg in by_digest.get(r["digest"], []):
                code = latest.get((r["document_id"], leg["recipient_organ"]), "")
                received = leg["last_at"] if leg["state"] == "delivered" else None
                handover = f"{r['kind']}-{r['digest'][:32]}-{leg['system_id']}" if leg["system_id"] else ""
                state, desc = leg["state"], _TRANSPORT.get(leg["state"], leg["state"])
                letter = self.mailbox.get(leg["system_id"], doc_id_of(handover)) if handover else None
                if letter is not None:  # a pulling recipient: the mailbox knows whether it was taken
                    state, desc = _PULLED.get(letter.state.value, (state, desc))
                    received = letter.updated_at if letter.state.value == "done" else None
                out.append(p.SentEdoc(
                    senderDocId=sent_doc_id(r["digest"]), receiverDocId=doc_id_of(handover) if handover else "",
                    fromCode=r["from_organ"] or "", toCode=leg["recipient_organ"], title=r["subject"] or "",
                    notation=_notation(r["document_id"]), sentTime=_vn(r["received_at"]),
                    receivedTime=_vn(received) if received else "", sendStatus=state,
                    sendStatusDesc=desc, receiveStatus=code,
                    receiveStatusDesc=_business(StatusCode, code), messageType=kind,
                ))
        return out


_TRANSPORT = {
    "accepted": "Đã nhận vào trục / Accepted by the hub", "routed": "Đã chuyển / Routed",
    "delivered": "Đã chuyển đến hệ thống nhận / Delivered to the recipient's system",
    "retrying": "Đang gửi lại / Retrying", "parked": "Không chuyển được, đã dừng / Not delivered, held",
    "rejected": "Bị từ chối / Rejected",
}


_PULLED = {
    "waiting": ("delivered", "Chờ hệ thống nhận lấy về / Waiting in the recipient's mailbox"),
    "processing": ("delivered", "Hệ thống nhận đang xử lý / Being taken by the recipient's system"),
    "retrying": ("retrying", "Hệ thống nhận báo lỗi, sẽ gửi lại / The recipient reported a failure; offered again"),
    "done": ("delivered", "Hệ thống nhận đã lấy về / Taken by the recipient's system"),
    "parked": ("parked", "Hệ thống nhận không lấy được, đã dừng / The recipient could not take it; held"),
}


def _business(codes: Any, code: str) -> str:
    if not code:
        return ""
    try:
        return f"{code} {codes(code).name.lower()}"
    except ValueError:
        return code


def _notation(document_id: str | None) -> str:
    # DocumentId is "From,date,number/notation" (domain.md §1.8)
    return document_id.rsplit(",", 1)[-1] if document_id else ""


def _vn(moment: datetime) -> str:
    from schemas.policy import VIETNAM

    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M:%S")


class IntakeGateway:
    """Publishes to `P.intake` with the gateway account, one connection per worker thread
    (pika is not thread-safe), confirms on, and waits for intake's verdict on direct reply-to."""

    def __init__(self, url: str, exchange: str, reply_wait_s: float, *, payloads: PayloadStore | None = None,
                 claim_threshold_bytes: int = 0) -> None:
        """`payloads`: the claim check's store (the hub's LIENTHONG_PAYLOAD_DIR, which this process
        must reach): a package above `claim_threshold_bytes` is put there and submitted as a
        reference, so it never meets the broker's `max_message_size` (README "Large packages")."""
        self.url = url
        self.exchange = exchange
        self.reply_wait_s = reply_wait_s
        self.payloads = payloads
        self.claim_threshold_bytes = claim_threshold_bytes if payloads is not None else 0
        self.user = login_of(url)
        self._local = threading.local()

    def _channel(self) -> tuple[pika.BlockingConnection, Any, dict[str, bytes]]:
        import pika

        state = getattr(self._local, "state", None)
        if state is not None and state[0].is_open and state[1].is_open:
            return state  # type: ignore[no-any-return]
        conn = pika.BlockingConnection(pika.URLParameters(self.url))
        ch = conn.channel()
        ch.confirm_delivery()
        replies: dict[str, bytes] = {}

        def on_reply(_ch: Any, _m: Any, props: Any, body: bytes) -> None:
            replies[props.correlation_id or ""] = body

        ch.basic_consume(REPLY_TO, on_reply, auto_ack=True)
        self._local.state = (conn, ch, replies)
        return conn, ch, replies

    def _drop(self) -> None:
        state, self._local.state = getattr(self._local, "state", None), None
        if state is not None and state[0].is_open:
            try:
                state[0].close()
            except Exception:  # noqa: BLE001 - a connection already broken may fail to close; it is gone either way
                log.debug("closing a broken broker connection failed")

    def submit(self, body: bytes, system_id: str) -> Submitted | HubUnavailable:
        import pika
        from pika.exceptions import AMQPError, UnroutableError

        from adapters.axis.api import HubUnavailable, Submitted
        from adapters.payloadstore import ClaimReference
        from router.pipeline.claimcheck import should_claim
        from router.pipeline.envelope import CLAIM
        from router.pipeline.submitter import AUTHENTICATED_BY, ON_BEHALF_OF

        correlation = uuid.uuid4().hex
        headers: dict[str, Any] = {ON_BEHALF_OF: system_id, AUTHENTICATED_BY: HMAC_METHOD}
        if self.payloads is not None and should_claim(len(body), self.claim_threshold_bytes):
            body = ClaimReference.of(self.payloads.put(body), self.payloads.name).encode()
            headers[CLAIM] = "1"
        props = pika.BasicProperties(
            delivery_mode=2, content_type="application/xml", user_id=self.user, timestamp=int(time.time()),
            message_id=correlation, correlation_id=correlation, reply_to=REPLY_TO, headers=headers,
        )
        for attempt in (1, 2):  # a connection idle past its heartbeat is found dead only here: reconnect once
            try:
                conn, ch, replies = self._channel()
                ch.basic_publish(self.exchange, "", body, props, mandatory=True)
                break
            except UnroutableError:
                return HubUnavailable("intake exchange has no queue bound (is the topology applied?)")
            except (AMQPError, OSError) as exc:
                self._drop()
                if attempt == 2:  # (a publish that did get through is de-duplicated by intake)
                    return HubUnavailable(f"broker: {exc!r}"[:300])
        deadline = time.monotonic() + self.reply_wait_s
        try:
            while correlation not in replies and time.monotonic() < deadline:
                conn.process_data_events(time_limit=0.2)
        except (AMQPError, OSError):
            self._drop()  # confirmed already: the package is in the hub
        raw = replies.pop(correlation, None)
        if raw is None:
            return Submitted("accepted", message="confirmed by the broker; intake's verdict not yet known")
        try:
            verdict = json.loads(raw)
        except ValueError:
            return Submitted("accepted")
        outcome = verdict.get("outcome")
        if outcome == "rejected":
            return Submitted("rejected", verdict.get("code"), verdict.get("message"))
        return Submitted("duplicate" if outcome == "duplicate" else "accepted", verdict.get("code"))

    def check(self) -> None:
        """Fail fast: log in, publish inside a transaction and roll it back (proves the right to
        write to intake without anything reaching it), and open direct reply-to."""
        import pika
        from pika.exceptions import ChannelClosedByBroker

        conn = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            ch = conn.channel()
            try:
                ch.exchange_declare(self.exchange, passive=True)
            except ChannelClosedByBroker as exc:
                raise OperatorError(f"the intake exchange {self.exchange} does not exist ({exc.reply_text}) — "
                                    "apply the topology (`lienthong topology apply`) or check LIENTHONG_PREFIX") \
                    from None
            ch = conn.channel()
            ch.tx_select()
            try:
                ch.basic_publish(self.exchange, "", b"", pika.BasicProperties(user_id=self.user))
                ch.tx_rollback()
            except ChannelClosedByBroker as exc:
                raise OperatorError(f"broker user {self.user!r} may not publish to {self.exchange} "
                                    f"({exc.reply_text}) — grant it with ops.provision.gateway_grant") from None
            ch = conn.channel()
            try:
                ch.basic_consume(REPLY_TO, lambda *_: None, auto_ack=True)
            except ChannelClosedByBroker as exc:
                raise OperatorError(f"broker user {self.user!r} may not read {REPLY_TO} ({exc.reply_text}) — "
                                    "grant it with ops.provision.gateway_grant") from None
        finally:
            if conn.is_open:
                conn.close()


def login_of(url: str) -> str:
    user = urlparse(url).username
    return unquote(user) if user else "guest"


# -- composition ----------------------------------------------------------------------------------


@dataclass
class Built:
    parts: AxisParts
    gateway: IntakeGateway
    closers: list[Any]

    def close(self) -> None:
        for c in self.closers:
            c()


def build(settings: Settings, *, check: bool = True) -> Built:
    """Everything the API needs, checked; raises OperatorError naming the cause."""
    from adapters.axis.accounts import Accounts, AccountsError
    from adapters.axis.api import AxisParts
    from adapters.axis.replies import Replies
    from adapters.mailbox import Mailbox
    from router.directory.model import load_directory
    from router.ledger.store import Ledger
    from router.pipeline.failure import Failure, FailureKind, FailurePolicy, RetryAfter
    from router.pipeline.outcome import Stage
    from router.topology.names import Names

    if settings.api_secrets is None:
        raise OperatorError("no API secrets file — set LIENTHONG_API_SECRETS (or --secrets) to the YAML file of "
                            "systemid, system and secret per DMS (README: Connect your document-management system)")
    if not settings.api_amqp_url:
        raise OperatorError("no broker account for the API — set LIENTHONG_API_AMQP_URL to the gateway account's "
                            "URL (amqp://lt-gw-api:PASSWORD@host:5672/%2F)")
    gateway_user = login_of(settings.api_amqp_url)
    if gateway_user not in settings.gateway_users:
        raise OperatorError(f"the API's broker user {gateway_user!r} is not in LIENTHONG_GATEWAY_USERS — the hub "
                            "would refuse every package it submits; list it there (for the API and the hub)")
    directory = load_directory(settings.directory)
    if directory.system_by_user(gateway_user) is not None:
        raise OperatorError(f"the API's broker user {gateway_user!r} is a system's broker user in the directory; "
                            "the API needs an account of its own")
    try:
        accounts = Accounts.load(settings.api_secrets)
    except AccountsError as exc:
        raise OperatorError(str(exc)) from None
    unknown = [a.systemid for a in accounts.all() if a.system not in directory.systems]
    if unknown:
        a = next(x for x in accounts.all() if x.systemid == unknown[0])
        raise OperatorError(f"API secrets file {settings.api_secrets}: systemid {a.systemid} names system "
                            f"{a.system!r}, which is not in the directory {settings.directory}")
    ledger = Ledger.open(settings.ledger_url)
    mailbox = Mailbox.open(settings.ledger_url)  # its own engine: BEGIN IMMEDIATE on SQLite
    opts = settings.topology_options()
    policy = FailurePolicy(intake_tiers=len(opts.intake_tiers), deliver_tiers=len(opts.retry_delays_s))
    delays = tuple(opts.retry_delays_s)

    def retry(fails: int) -> float | None:
        action = policy.decide(Failure(FailureKind.SINK_TRANSIENT, "the system reported fail"), Stage.DELIVERY, fails)
        return float(delays[action.tier - 1]) if isinstance(action, RetryAfter) else None

    from router.hub import payload_store_of

    gateway = IntakeGateway(settings.api_amqp_url, Names(settings.prefix).intake_exchange, settings.api_reply_wait_s,
                            payloads=payload_store_of(settings),
                            claim_threshold_bytes=settings.claim_threshold_bytes)
    if check:
        TARGETS.amqp_url = settings.api_amqp_url
        gateway.check()
    parts = AxisParts(accounts=accounts, directory=DirectoryView(directory), intake=gateway,
                      sent=SentView(ledger.engine, mailbox), mailbox=mailbox, replies=Replies(mailbox.engine),
                      retry=retry)
    return Built(parts, gateway, [ledger.close, mailbox.close])


def api(
    host: str | None = typer.Option(None, "--host", help="Address to listen on [env LIENTHONG_API_HOST; "
                                                         "default 127.0.0.1]"),
    port: int | None = typer.Option(None, "--port", help="Port (0: any free one) [env LIENTHONG_API_PORT; "
                                                         "default 8080]"),
    secrets: str | None = typer.Option(None, "--secrets", help="YAML file of systemid, system and secret per "
                                                               "DMS [env LIENTHONG_API_SECRETS]"),
    metrics_port: int | None = typer.Option(None, "--metrics-port",
                                            help="serve /metrics, /healthz and /readyz on PORT"),
    metrics_addr: str = typer.Option("127.0.0.1", "--metrics-addr",
                                     help="address of the --metrics-port server (0.0.0.0 in a container)"),
    ledger: LedgerOpt = None,
    directory: DirectoryOpt = None,
    prefix: PrefixOpt = None,
) -> None:
    """Serve the national-axis-compatible HTTP API (sendEdoc, getReceivedEdocList, getEdoc,
    downloadEdoc, updateStatus, getSentEdocList, getAgenciesList, counts) for DMSs built on the
    vendor SDK. Its broker account is LIENTHONG_API_AMQP_URL (a gateway account); OpenAPI at /docs.
    Put TLS in front of it (a reverse proxy): the SDK's HMAC does not sign the body."""
    import uvicorn

    from adapters.axis.api import create_app

    settings = command_settings(ledger_url=ledger, directory=directory, prefix=prefix, api_host=host,
                                api_port=port, api_secrets=secrets)
    built = build(settings)
    health = None
    if metrics_port is not None:
        from ops.health import HealthServer
        from router.cli.health import api_readiness_checks

        health = HealthServer(metrics_port, metrics_addr)
        health.set_checks(api_readiness_checks(built.gateway.check, built.parts.mailbox.engine))

    class Server(uvicorn.Server):
        """Stops on SIGTERM/SIGINT after answering what is in flight, and exits 0 like `lienthong
        run` (uvicorn would re-raise the signal after its graceful shutdown). Its main loop's tick
        (every 0.1 s) is the /healthz heartbeat: a stuck event loop stops answering it."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

        async def on_tick(self, counter: int) -> bool:
            if health is not None:
                health.beat()
            return await super().on_tick(counter)

    server = Server(uvicorn.Config(create_app(built.parts), host=settings.api_host, port=settings.api_port,
                                           log_config=None, access_log=False, server_header=False))
    log.info("axis API listening", host=settings.api_host, port=settings.api_port,
             systems=len(built.parts.accounts), gateway=built.gateway.user)
    try:
        server.run()
    finally:
        if health is not None:
            health.close()
        built.close()


def register(app: typer.Typer) -> None:
    app.command("api")(api)
