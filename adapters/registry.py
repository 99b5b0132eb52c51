"""Delivery adapters by name: the directory's `delivery.adapter` selects one of these.

Each adapter brings an options model (pydantic, `extra="forbid"`) and a factory. The directory
validates every system's options with its adapter's model when it loads, so
`lienthong directory check` refuses exactly what `lienthong run` would (an adapter this build
does not have, a misspelt option), and the hub only ever builds sinks from options that passed.
Adding an adapter (http, webhook, vdxp) is one entry here plus its contract test subclass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from adapters.amqp import DirectQueue, LinkSink
from adapters.axis.client import AxisConfig, axis_sink
from adapters.breaker import BreakerPolicy, CircuitBreaker
from adapters.folder import FolderSink
from adapters.folder_drop import DropFolderSink
from adapters.folder_layout import DropFolders
from adapters.folder_poller import FolderPoller, Outbox, PollerOptions
from adapters.folder_sent import SentJournal
from adapters.mailbox import Mailbox, MailboxSink
from adapters.payloadstore import PayloadStore
from adapters.sink import Sink
from adapters.webhook import WebhookSink, WebhookTarget, load_secret


class SinkOptions(BaseModel):
    """Base of every adapter's options: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FileOptions(SinkOptions):
    """`dir`: the inbox folder; relative paths are taken from the hub's deliver root
    (LIENTHONG_DELIVER_ROOT). Default `var/deliver/<system id>`."""

    dir: StrictStr | None = None
    #: documented by mistake in earlier versions and silently ignored: refused with a hint
    path: StrictStr | None = None

    @field_validator("path")
    @classmethod
    def _renamed(cls, value: str | None) -> str | None:
        raise PydanticCustomError("lt_renamed", "is not an option of the file adapter: the inbox folder is `dir`")

    @field_validator("dir")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise PydanticCustomError("lt_empty", "must name a folder")
        return value


DEFAULT_LEDGER_URL = "sqlite:///var/ledger.sqlite3"


@dataclass(frozen=True, slots=True)
class SinkPlace:
    """What the hub knows when it builds a system's sink."""

    system_id: str
    deliver_root: Path
    #: the ledger's database, where pulling systems' mailboxes live (adapters/mailbox.py)
    ledger_url: str = DEFAULT_LEDGER_URL
    #: the hub's own broker (every node) and this system's link queue, for the `shovel` adapter
    amqp_urls: tuple[str, ...] = ()
    link_queue: str = ""
    #: the national axis the hub is connected to (router/settings.py LIENTHONG_AXIS_*), if any
    axis: AxisConfig | None = None
    #: the claim check's store and threshold: a drop-folder file above it is streamed into the
    #: store and submitted as a reference (adapters/folder_poller.py)
    payloads: PayloadStore | None = None
    claim_threshold_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Adapter:
    name: str
    options: type[SinkOptions]
    build: Callable[[Any, SinkPlace], Sink]  # (options of type `options`, place) → the sink
    #: adapters that also take packages *from* the system (drop folders): (options, place, outbox
    #: factory) → the source the hub runs
    source: Callable[[Any, SinkPlace, Callable[[], Outbox]], FolderPoller] | None = None


class SinkRegistry:
    """The adapters of this build, by name."""

    def __init__(self, adapters: Iterable[Adapter]) -> None:
        self._adapters = {a.name: a for a in adapters}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._adapters))

    def get(self, name: str) -> Adapter | None:
        return self._adapters.get(name)

    def options(self, name: str, raw: Mapping[str, Any]) -> SinkOptions:
        """Validated options; raises KeyError for an unknown adapter, pydantic's ValidationError
        (with the option's location) for bad options."""
        return self._adapters[name].options.model_validate(dict(raw))

    def build(self, name: str, options: SinkOptions, place: SinkPlace) -> Sink:
        adapter = self._adapters[name]
        if not isinstance(options, adapter.options):
            raise TypeError(f"{name} adapter built with {type(options).__name__}, expected {adapter.options.__name__}")
        return adapter.build(options, place)

    def source(self, name: str, options: SinkOptions, place: SinkPlace,
               outbox: Callable[[], Outbox]) -> FolderPoller | None:
        """The intake side of an adapter that has one (drop folders), else None."""
        adapter = self._adapters[name]
        return adapter.source(options, place, outbox) if adapter.source is not None else None


def _folder(options: FileOptions, place: SinkPlace) -> Sink:
    folder = Path(options.dir or f"var/deliver/{place.system_id}")
    return FolderSink(folder if folder.is_absolute() else place.deliver_root / folder)


class WebhookOptions(SinkOptions):
    """`url`: the endpoint the packages are POSTed to; the signing secret (`whsec_<base64>`) is
    never in the directory: `secret_env` names an environment variable holding it, or
    `secret_file` a file (relative paths from the deliver root). `timeout_s`: a 2xx must come
    within it. `breaker_*`: the circuit breaker (adapters/breaker.py)."""

    url: StrictStr
    secret_env: StrictStr | None = None
    secret_file: StrictStr | None = None
    timeout_s: float = Field(10.0, gt=0, le=300)
    breaker_min_attempts: int = Field(10, ge=1, le=1000)
    breaker_ratio: float = Field(0.5, gt=0, le=1)
    breaker_pause_s: float = Field(30.0, ge=0, le=86400)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or len(value) < 10:
            raise PydanticCustomError("lt_url", "must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookOptions:
        if (self.secret_env is None) == (self.secret_file is None):
            raise PydanticCustomError("lt_secret", "give exactly one of secret_env or secret_file (the secret "
                                                   "itself never goes in the directory)")
        return self


def _webhook(options: WebhookOptions, place: SinkPlace) -> Sink:
    secret_file = None
    if options.secret_file is not None:
        secret_file = Path(options.secret_file)
        secret_file = secret_file if secret_file.is_absolute() else place.deliver_root / secret_file
    key = load_secret(env=options.secret_env, file=secret_file, system=place.system_id)
    policy = BreakerPolicy(window=max(20, options.breaker_min_attempts), min_attempts=options.breaker_min_attempts,
                           ratio=options.breaker_ratio, pause_s=options.breaker_pause_s)
    target = WebhookTarget(place.system_id, options.url, key, options.timeout_s)
    return WebhookSink(target, breaker=CircuitBreaker(place.system_id, policy))


class ShovelOptions(SinkOptions):
    """Another province's hub, reached by a RabbitMQ shovel (router/topology/links.py):
    `remote_prefix` is that hub's broker prefix (its intake exchange is `<remote_prefix>.intake`);
    `remote_url_env` names the environment variable holding the AMQP URL of that hub's broker
    with the login it gave this hub (a secret: never in the directory)."""

    remote_prefix: StrictStr = "lienthong"
    remote_url_env: StrictStr

    @field_validator("remote_url_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not value.replace("_", "").isalnum() or not value[:1].isalpha():
            raise PydanticCustomError("lt_env", "must be the name of an environment variable (A-Z, 0-9, _)")
        return value


def _shovel(options: ShovelOptions, place: SinkPlace) -> Sink:
    return LinkSink(place.amqp_urls, place.link_queue)


class MailboxOptions(SinkOptions):
    """No options: the mailbox is a table of the ledger's database; the system pulls its letters
    through the axis-compatible HTTP API (`lienthong api`)."""


_MAILBOXES: dict[str, Mailbox] = {}


def _mailbox(options: MailboxOptions, place: SinkPlace) -> Sink:
    box = _MAILBOXES.get(place.ledger_url)
    if box is None:  # one engine per database, shared by every pulling system's sink
        box = _MAILBOXES[place.ledger_url] = Mailbox.open(place.ledger_url)
    return MailboxSink(box, place.system_id)


class DropFolderOptions(SinkOptions):
    """Drop folders both ways (adapters/folder_layout.py): `root` holds out/, in/, status/,
    failed/; relative paths from the deliver root; default `var/folders/<system id>`.
    `settle_s`: a file in out/ must be that old before it is taken; `poll_s`: how often out/ is
    read; `sent_retention_days`: how long a sent file is kept for a late refusal."""

    root: StrictStr | None = None
    settle_s: float = Field(2.0, ge=0, le=3600)
    poll_s: float = Field(1.0, gt=0, le=3600)
    sent_retention_days: float = Field(7.0, gt=0, le=366)

    @field_validator("root")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise PydanticCustomError("lt_empty", "must name a folder")
        return value


def drop_folders(options: DropFolderOptions, place: SinkPlace) -> DropFolders:
    root = Path(options.root or f"var/folders/{place.system_id}")
    return DropFolders(place.system_id, root if root.is_absolute() else place.deliver_root / root)


def _journal(options: DropFolderOptions, folders: DropFolders) -> SentJournal:
    return SentJournal(folders, retention_s=options.sent_retention_days * 86400)


def _drop_sink(options: DropFolderOptions, place: SinkPlace) -> Sink:
    folders = drop_folders(options, place)
    return DropFolderSink(folders, _journal(options, folders))


def _drop_source(options: DropFolderOptions, place: SinkPlace, outbox: Callable[[], Outbox]) -> FolderPoller:
    folders = drop_folders(options, place)
    return FolderPoller(folders, outbox, _journal(options, folders),
                        PollerOptions(settle_s=options.settle_s, poll_s=options.poll_s,
                                      claim_threshold_bytes=place.claim_threshold_bytes),
                        payloads=place.payloads)


class DirectAmqpOptions(SinkOptions):
    """No options: the system consumes `P.sys.<id>.urgent` and `.normal` with its own broker user."""


def _direct(options: DirectAmqpOptions, place: SinkPlace) -> Sink:
    return DirectQueue(place.system_id)


class AxisOptions(SinkOptions):
    """The national-axis gateway: packages go out with `sendEdoc` (adapters/axis/client.py). Where
    the axis is and the hub's systemId and secret are settings (LIENTHONG_AXIS_*), never the
    directory. `timeout_s`: how long one call may take."""

    timeout_s: float = Field(30.0, gt=0, le=600)


def _axis(options: AxisOptions, place: SinkPlace) -> Sink:
    return axis_sink(place.axis, place.system_id, options.timeout_s)


SINKS = SinkRegistry([
    Adapter("amqp", DirectAmqpOptions, _direct),
    Adapter("file", FileOptions, _folder),
    Adapter("folder", DropFolderOptions, _drop_sink, _drop_source),
    Adapter("mailbox", MailboxOptions, _mailbox),
    Adapter("shovel", ShovelOptions, _shovel),
    Adapter("webhook", WebhookOptions, _webhook),
    Adapter("axis", AxisOptions, _axis),
])

