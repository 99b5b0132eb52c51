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

from adapters.breaker import BreakerPolicy, CircuitBreaker
from adapters.folder import FolderSink
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


@dataclass(frozen=True, slots=True)
class SinkPlace:
    """What the hub knows when it builds a system's sink."""

    system_id: str
    deliver_root: Path


@dataclass(frozen=True, slots=True)
class Adapter:
    name: str
    options: type[SinkOptions]
    build: Callable[[Any, SinkPlace], Sink]  # (options of type `options`, place) → the sink


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


SINKS = SinkRegistry([Adapter("file", FileOptions, _folder), Adapter("webhook", WebhookOptions, _webhook)])
