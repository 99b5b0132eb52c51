"""The directory file's shape, as pydantic models, and errors that name the entry.

One model per kind of entry (`OrganEntry`, `SystemEntry`, `DeliveryEntry`), each with
`extra="forbid"` so a typo is an error. Entries are validated one by one, so every problem of
every entry is reported at once, and `render` turns pydantic's error (a location inside the
entry and a type) into a line that starts with the entry, e.g.
``organs[1] (000.00.13.H41): valid_to '31/12/2025' is not an ISO date (YYYY-MM-DD)`` or
``systems[0] (tinh): delivery.options.dir: Input should be a valid string``. The rules between
entries (parents, successors, who serves what) are checked in `model.py` on the valid entries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool
from pydantic_core import ErrorDetails, PydanticCustomError

from schemas.organ import OrganId
from schemas.profiles import Profile

SYSTEM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ADAPTER = re.compile(r"^[a-z][a-z0-9_-]*$")


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("lt_required", "is required (non-empty text)")
    return value.strip()


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def _iso_date(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("lt_date", "{value} is not an ISO date (YYYY-MM-DD)", {"value": repr(value)})


def _organ_code(value: Any) -> str:
    code = str(value).strip()
    if not OrganId.is_valid(code):
        raise PydanticCustomError("lt_code", "{value} is not of the shape LLL.KK.JJ.XNN", {"value": repr(code)})
    return code


def _system_id(value: Any) -> str:
    sid = str(value).strip()
    if not SYSTEM_ID.match(sid):
        raise PydanticCustomError("lt_id", "must match {pattern} (it names queues)", {"pattern": SYSTEM_ID.pattern})
    return sid


def _serves(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PydanticCustomError("lt_serves", "must be a list of organ codes")
    return [str(c).strip() for c in value]


def _adapter(value: Any) -> str:
    name = str(value)
    if not ADAPTER.match(name):
        raise PydanticCustomError("lt_adapter", "{value} must be a name such as file, http, amqp",
                                  {"value": repr(name)})
    return name


def _options(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PydanticCustomError("lt_options", "must be a mapping")
    return dict(value)


def _delivery(value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise PydanticCustomError("lt_delivery", "{adapter, options} is required")
    return value


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganEntry(_Entry):
    code: Annotated[str, BeforeValidator(_organ_code)]
    name: Annotated[str, BeforeValidator(_text)]
    parent: Annotated[str | None, BeforeValidator(_optional_text)] = None
    valid_from: Annotated[date | None, BeforeValidator(_iso_date)] = None
    valid_to: Annotated[date | None, BeforeValidator(_iso_date)] = None
    successor: Annotated[str | None, BeforeValidator(_optional_text)] = None


class DeliveryEntry(_Entry):
    """`options` stay raw here: the adapter's own options model (adapters/registry.py) checks them."""

    adapter: Annotated[str, BeforeValidator(_adapter)]
    options: Annotated[dict[str, Any], BeforeValidator(_options)] = Field(default_factory=dict)


def _validation(value: Any) -> str:
    name = str(value).strip()
    if name not in {p.value for p in Profile}:
        raise PydanticCustomError("lt_validation", "{value} must be one of: {names}",
                                  {"value": repr(name), "names": ", ".join(p.value for p in Profile)})
    return name


class SystemEntry(_Entry):
    id: Annotated[str, BeforeValidator(_system_id)]
    name: Annotated[str, BeforeValidator(_text)]
    broker_user: Annotated[str, BeforeValidator(_text)]
    serves: Annotated[list[str], BeforeValidator(_serves)] = Field(default_factory=list)
    gateway: StrictBool = False
    delivery: Annotated[DeliveryEntry, BeforeValidator(_delivery)] = Field(None, validate_default=True)
    #: validation profile of what this system submits (schemas/profiles.py)
    validation: Annotated[str, BeforeValidator(_validation)] = Profile.DEFAULT.value


class DirectoryFile(_Entry):
    """The top level; entries stay raw so each is validated (and named) on its own."""

    organs: list[Any]
    systems: list[Any]


def entry_name(kind: str, index: int, raw: Any, key: str) -> str:
    """`organs[3] (000.00.13.H41)`: the index always, the entry's own name when it has one."""
    if not isinstance(raw, Mapping):
        return f"{kind}[{index}]"
    name = str(raw.get(key, "")).strip()
    return f"{kind}[{index}] ({name or '?'})"


def render(where: str, error: ErrorDetails, prefix: tuple[str, ...] = ()) -> str:
    """One line per problem: the entry, the location inside it, what is wrong."""
    parts = [*prefix, *(str(p) for p in error["loc"])]
    loc = ".".join(parts)
    kind = error["type"]
    head = f"{where}: " if where else ""
    if kind == "extra_forbidden":
        parent = ".".join(parts[:-1])
        return f"{head}{parent + ': ' if parent else ''}unknown field {parts[-1]!r}"
    if kind == "missing":
        return f"{head}{loc} is required"
    if kind.startswith("lt_"):
        return head + " ".join(p for p in (loc, error["msg"]) if p)
    if kind in ("bool_type", "bool_parsing"):
        return f"{head}{loc} must be true or false"
    if kind in ("model_type", "model_attributes_type", "dict_type") and not error["loc"]:
        return f"{head}{loc + ': ' if loc else ''}expected a mapping"
    if kind == "list_type":
        return f"{head}{loc}: expected a list"
    return f"{head}{loc}: {error['msg']}"
