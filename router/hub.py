"""Wiring: from Settings to directory, topology, ledger, sinks, stages and consumers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.amqp import Submitter
from adapters.axis.client import AxisConfig, AxisLink
from adapters.folder_poller import FolderPoller, Outbox
from adapters.payloadstore import FolderPayloadStore, PayloadStore
from adapters.registry import DEFAULT_LEDGER_URL, SINKS, SinkPlace, SinkRegistry
from adapters.sink import Sink
from router.amqp.consumer import Consumer, Message
from router.amqp.executor import Executor
from router.amqp.observe import Observer
from router.directory.model import Directory, load_directory
from router.ledger.store import Ledger
from router.pipeline.claimcheck import sweep
from router.pipeline.clock import Clock, system_clock
from router.pipeline.decisions import Decision
from router.pipeline.delivery import DeliveryStage
from router.pipeline.delivery_recovery import DeliveryRecovery
from router.pipeline.failure import FailurePolicy
from router.pipeline.intake import IntakeStage
from router.pipeline.intake_recovery import IntakeRecovery
from router.pipeline.recovery import Recovery
from router.pipeline.signatures import NoSignatureCheck, SignatureCheck
from router.pipeline.statuses import HubIdentity, HubVoice, StatusSigner
from router.pipeline.submitter import SubmitterTrust
from router.pipeline.window import DeliveryWindow, IntakeWindow, Submission
from router.settings import Settings
from router.topology.build import Topology, build_topology
from router.topology.names import Names
from router.topology.rights import Role
from schemas.limits import ParseLimits
from schemas.policy import ValidationOptions


def signature_check(settings: Settings) -> SignatureCheck:
    """Policy `off` everywhere needs no trust store; anything else needs one (fail at start)."""
    if all(v == "off" for v in settings.signature_policy.values()):
        return NoSignatureCheck()
    if settings.trust_dir is None:
        raise ValueError("LIENTHONG_SIGNATURE_POLICY asks for verification but LIENTHONG_TRUST_DIR is not set")
    from router.pipeline.verification import SigningCheck
    from signing.stage import VerificationStage
    from signing.trust import TrustSource

    # Read at start (a bad trust directory stops the hub here); the workers re-read it on change.
    stage = VerificationStage(TrustSource.from_dir(settings.trust_dir), workers=settings.verify_workers,
                              cache_entries=settings.verify_cache_entries)
    return SigningCheck(stage, settings.signature_policy)


def axis_config(settings: Settings) -> AxisConfig | None:
    """The national axis from the settings, or None when it is not configured (all three needed)."""
    secret = settings.axis_secret_value()
    if not settings.axis_url or not settings.axis_system_id or not secret:
        return None
    return AxisConfig(AxisLink(settings.axis_url, settings.axis_system_id, secret), settings.ledger_url,
                      settings.axis_fetch)


def build_sinks(
    directory: Directory, root: Path, adapters: SinkRegistry = SINKS, ledger_url: str | None = None, *,
    amqp_urls: tuple[str, ...] = (), prefix: str = "lienthong", axis: AxisConfig | None = None,
) -> dict[str, Sink]:
    """One sink per system, from the registry; the directory validated the options already."""
    names = Names(prefix)
    return {
        sid: adapters.build(s.delivery.adapter, s.delivery.options,
                            SinkPlace(sid, root, ledger_url or DEFAULT_LEDGER_URL, amqp_urls=amqp_urls,
                                      link_queue=names.link_queue(sid), axis=axis))
        for sid, s in directory.systems.items()
    }


def payload_store_of(settings: Settings) -> PayloadStore:
    """The payload store LIENTHONG_PAYLOAD_STORE chooses: the one place for every command (the
    hub's stages, the axis-compatible API's uploads, `lienthong payloads sweep`)."""
    if settings.payload_store == "s3":
        from adapters.payloadstore_s3 import S3Location, S3PayloadStore

        secret = settings.payload_s3_secret_key
        return S3PayloadStore.at(S3Location(
            endpoint=settings.payload_s3_endpoint or "", bucket=settings.payload_s3_bucket or "",
            prefix=settings.payload_s3_prefix, region=settings.payload_s3_region,
            access_key=settings.payload_s3_access_key, secret_key=secret.get_secret_value() if secret else None,
        ))
    return FolderPayloadStore(settings.payload_dir)


@dataclass
class Hub:
    settings: Settings
    directory: Directory
    topology: Topology
    ledger: Ledger
    sinks: Mapping[str, Sink]
    signatures: SignatureCheck = field(default_factory=NoSignatureCheck)
    #: The one clock: each message is stamped with the hub's receipt time, never the submitter's
    #: AMQP timestamp (forgeable, skewed). Tests inject `fixed_clock`.
    clock: Clock = system_clock
    _payloads: PayloadStore | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        directory: Directory | None = None,
        sinks: Mapping[str, Sink] | None = None,
        signatures: SignatureCheck | None = None,
        clock: Clock = system_clock,
    ) -> Hub:
        directory = directory or load_directory(settings.directory)
        topology = build_topology(directory, settings.topology_options())
        ledger = Ledger.open(settings.ledger_url)
        return cls(
            settings, directory, topology, ledger,
            sinks if sinks is not None
            else build_sinks(directory, settings.deliver_root, ledger_url=settings.ledger_url,
                             amqp_urls=settings.role_urls("deliver"), prefix=settings.prefix,
                             axis=axis_config(settings)),
            signatures or signature_check(settings), clock,
        )

    def close(self) -> None:
        self.signatures.close()
        self.ledger.close()

    def status_signer(self) -> StatusSigner | None:
        """XML-DSig with the hub's key on the statuses it emits, when a key is configured."""
        key, cert = self.settings.hub_key, self.settings.hub_cert
        if key is None or cert is None:
            return None
        from signing.xmlsig import sign_package

        key_pem, cert_pem = key.read_bytes(), cert.read_bytes()
        return lambda body: sign_package(body, key_pem, cert_pem)

    def voice(self) -> HubVoice:
        """Who the hub speaks as in the statuses it creates (LIENTHONG_HUB_ORGAN / _NAME) and
        how it signs them: one value for both stages and both recoveries."""
        return HubVoice(HubIdentity(self.settings.hub_organ, self.settings.hub_name), self.status_signer())

    def payload_store(self) -> PayloadStore:
        """The claim check's store (LIENTHONG_PAYLOAD_STORE: a folder, LIENTHONG_PAYLOAD_DIR, or an
        S3-compatible bucket) that every hub process and the adapters that stream large files in
        (drop folders, the axis-compatible API) can reach. One per hub: a bucket's client is
        made once."""
        if self._payloads is None:
            self._payloads = payload_store_of(self.settings)
        return self._payloads

    def sweep_payloads(self) -> list[str]:
        """Remove the payloads every recipient has had for LIENTHONG_PAYLOAD_RETENTION_S (the
        ledger says who has what: router/pipeline/claimcheck.py); returns their digests."""
        return sweep(self.payload_store(), self.ledger, self.settings.payload_retention_s)

    def intake_stage(self) -> IntakeStage:
        options = ValidationOptions(limits=ParseLimits(max_recipients=self.settings.max_recipients))
        return IntakeStage(self.directory, self.ledger, self.topology.names, signatures=self.signatures,
                           voice=self.voice(), options=options, payloads=self.payload_store(),
                           claim_threshold_bytes=self.settings.claim_threshold_bytes,
                           claim_max_bytes=self.settings.claim_max_bytes,
                           carried_since=self.settings.carried_since)

    def delivery_stage(self) -> DeliveryStage:
        return DeliveryStage(self.directory, self.ledger, self.topology, self.sinks, voice=self.voice(),
                             payloads=self.payload_store())

    def policy(self) -> FailurePolicy:
        opts = self.topology.options
        return FailurePolicy(intake_tiers=len(opts.intake_tiers), deliver_tiers=len(opts.retry_delays_s),
                             original_wait_s=self.settings.original_wait_s)

    def intake_recovery(self) -> IntakeRecovery:
        return IntakeRecovery(self.directory, self.topology, hub_users=self.hub_users(),
                              voice=self.voice(), trust=SubmitterTrust(self.directory, self.settings.gateway_users),
                              payloads=self.payload_store())

    def delivery_recovery(self) -> DeliveryRecovery:
        return DeliveryRecovery(self.directory, self.topology, voice=self.voice(), hub_users=self.hub_users())

    def hub_users(self) -> frozenset[str]:
        return hub_users_of(self.settings)

    def _consumer(
        self, role: Role, queues: list[str], handle: Callable[[Message], Decision], recovery: Recovery, name: str,
        **options: Any,
    ) -> Consumer:
        """Both stages run the same way: the role's broker URLs (its own account, or the hub's
        one), the pool settings, the failure executor of the stage's recovery and its observer."""
        return Consumer(
            self.settings.role_urls(role), queues, handle, self.ledger.append, name=name,
            prefetch=self.settings.prefetch, workers=self.settings.workers, batch=self.settings.window,
            grace_s=self.settings.grace_s, executor=Executor(self.policy(), recovery),
            observer=Observer(recovery.stage, self.topology.systems), **options,
        )

    def intake_consumer(self, name: str = "intake", **options: Any) -> Consumer:
        """The route stage on `P.intake`, its retries coming back on `P.intake.retried`, and what
        the broker dead-letters from both (`P.intake.dead`, recorded and parked)."""
        stage = self.intake_stage()
        recovery = self.intake_recovery()
        names = self.topology.names

        def submission(m: Message) -> Submission:
            inbound = Consumer.inbound_of(m)
            # a claim is a reference from the hub or a gateway: the bytes are in the store
            return Submission(m.delivery_tag, m.body, recovery.submitter(inbound), m.digest, recovery.claimed(inbound))

        def read_ahead(ms: Sequence[Message]) -> IntakeWindow:
            return stage.window([submission(m) for m in ms])

        def handle(m: Message) -> Decision:
            s = submission(m)
            window = m.window if isinstance(m.window, IntakeWindow) else None
            return stage.process(s.body, s.user_id, self.clock(), None if s.claim else s.digest, claim=s.claim,
                                 window=window, key=s.key)

        return self._consumer("intake", [names.intake_queue, names.intake_retried, names.intake_dead], handle,
                              recovery, name, window=read_ahead, **options)

    def folder_pollers(self, adapters: SinkRegistry = SINKS) -> list[FolderPoller]:
        """The intake side of drop-folder systems: one poller each, submitting for its system."""
        pollers = []
        for sid, s in self.directory.systems.items():
            place = SinkPlace(sid, self.settings.deliver_root, payloads=self.payload_store(),
                              claim_threshold_bytes=self.settings.claim_threshold_bytes)
            adapter = adapters.get(s.delivery.adapter)
            if adapter is None or adapter.source is None:
                continue
            poller = adapters.source(s.delivery.adapter, s.delivery.options, place, self.outbox_for(sid))
            if poller is not None:
                pollers.append(poller)
        return pollers

    def outbox_for(self, system_id: str) -> Callable[[], Outbox]:
        """The one place where the hub submits on behalf of a system (drop folders): with the folder
        watcher's gateway account (LIENTHONG_FOLDERS_AMQP_URL), naming the system in
        `lt-on-behalf-of`, which intake trusts only from LIENTHONG_GATEWAY_USERS
        (router/pipeline/submitter.py)."""
        from router.pipeline.envelope import CLAIM
        from router.pipeline.submitter import AUTHENTICATED_BY, ON_BEHALF_OF

        url = self.settings.folders_amqp_url
        if not url:
            raise ValueError("no broker account for the drop folders: set LIENTHONG_FOLDERS_AMQP_URL to the "
                             "folder watcher's gateway account")
        if pika_user(url) not in self.settings.gateway_users:
            raise ValueError(f"the drop folders' broker user {pika_user(url)!r} is not in LIENTHONG_GATEWAY_USERS: "
                             "intake would not trust it to name the system")
        headers = {ON_BEHALF_OF: system_id, AUTHENTICATED_BY: "folder"}
        exchange = self.topology.names.intake_exchange
        return lambda: Submitter(url, exchange).outbox(headers=headers, claim_headers={CLAIM: "1"})

    def delivery_consumer(self, systems: list[str] | None = None, name: str = "deliver", **options: Any) -> Consumer:
        stage = self.delivery_stage()
        names = self.topology.names
        queues: list[str] = []
        priority: dict[str, int] = {}
        direct = {sid for sid, sink in self.sinks.items() if getattr(sink, "consumes_itself", False)}
        for sid in systems or [s for s in self.topology.systems if s not in direct]:  # direct AMQP: its own
            urgent, normal = names.system_queue(sid, "urgent"), names.system_queue(sid, "normal")
            queues += [urgent, normal]
            priority[urgent], priority[normal] = 0, 1
        queues.append(names.deliver_dead)

        def read_ahead(ms: Sequence[Message]) -> DeliveryWindow:
            return stage.window([m.headers for m in ms])

        def handle(m: Message) -> Decision:
            window = m.window if isinstance(m.window, DeliveryWindow) else None
            return stage.process(m.body, m.headers, self.clock(), m.digest, window=window)

        return self._consumer("deliver", queues, handle, self.delivery_recovery(), name, queue_priority=priority,
                              window=read_ahead, **options)


def hub_users_of(settings: Settings) -> frozenset[str]:
    """The broker users whose messages are the hub's: those of its AMQP URLs (the roles' own
    included) and LIENTHONG_HUB_USERS (RabbitMQ checks `user_id` against the login, so nobody
    else can set them): only their copies are delivered, only what they parked is replayed, only
    theirs are intake's own retries."""
    return frozenset({u for u in map(pika_user, settings.all_broker_urls) if u} | set(settings.hub_users))


def pika_user(url: str) -> str | None:
    """The broker user in an AMQP URL (the hub's own: its copies carry it as `user_id`)."""
    from urllib.parse import unquote, urlparse

    user = urlparse(url).username
    return unquote(user) if user else "guest"
