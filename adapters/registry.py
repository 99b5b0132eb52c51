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

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from adapters.axis.client import AxisConfig, axis_sink
from adapters.folder import FolderSink
from adapters.sink import Sink


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
    #: the national axis the hub is connected to (router/settings.py LIENTHONG_AXIS_*), if any
    axis: AxisConfig | None = None


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


class AxisOptions(SinkOptions):
    """The national-axis gateway: packages go out with `sendEdoc` (adapters/axis/client.py). Where
    the axis is and the hub's systemId and secret are settings (LIENTHONG_AXIS_*), never the
    directory. `timeout_s`: how long one call may take."""

    timeout_s: float = Field(30.0, gt=0, le=600)


def _axis(options: AxisOptions, place: SinkPlace) -> Sink:
    return axis_sink(place.axis, place.system_id, options.timeout_s)


SINKS = SinkRegistry([Adapter("file", FileOptions, _folder), Adapter("axis", AxisOptions, _axis)])
