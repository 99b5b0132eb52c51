"""The directory: which organs exist, how they nest, and which connected system serves each.

The organ code tells a level and a fallback parent, but the authority for the tree, for the
2025-style mergers (a dissolved organ forwards to its successor) and for "who receives the
packages of this organ" is this registry (domain.md §4.2, §4.4). Everything the router needs
per recipient is precomputed at load, so `Directory.resolve` costs a few dictionary lookups
whatever the size of the directory (a nation has ~100k codes).

File format (YAML, UTF-8; documented with an example in router/TOPOLOGY.md)::

    organs:
      - code: 000.00.00.H41              # required, LLL.KK.JJ.XNN (domain.md §4.1)
        name: Ủy ban nhân dân tỉnh Nghệ An  # required
        parent: 000.00.00.H41            # optional; default: the code-derived parent
        valid_from: 2016-01-01           # optional ISO date
        valid_to: 2025-02-28             # optional ISO date: last day the organ exists
        successor: 000.00.05.H41         # optional; requires valid_to (a dissolved organ)
    systems:
      - id: tinh-nghean                  # required, [a-z0-9-]: used in queue names
        name: Hệ thống QLVB tỉnh Nghệ An   # required
        broker_user: lt-tinh-nghean      # required, unique: the AMQP user_id it submits as
        serves: [000.00.00.H41]          # subtrees it serves (the most specific system wins)
        gateway: false                   # true for the national-axis system (exactly one)
        delivery: {adapter: file, options: {dir: /srv/lienthong/out/tinh-nghean}}
                                         # adapter: one of adapters/registry.py, options checked
                                         # by its model (file: `dir`, relative to the deliver root)
        validation: strict               # optional: default (refuse the unsafe or unroutable,
                                         # warn about the rest) or strict (full QCVN)

Rules checked at load (each error names its entry, e.g.
``organs[17] (000.00.13.H41): parent 000.00.99.H41 not in directory``): code shape, duplicate
code, unknown parent, a parent in another level-1 tree, cyclic parents, successor without
valid_to, unknown or cyclic successor, a successor dissolved before its predecessor, a system
serving an unknown organ, two systems serving the same subtree root, duplicate system id or
broker user, no gateway or more than one, a gateway listing `serves`, a local level-1 root
that no system serves, a delivery adapter this build does not have and options its adapter does
not accept (``systems[0] (tinh): delivery.options: unknown field 'dri'``). The shape of each
entry is checked by the pydantic models of entries.py.

The hub's own tree (`local_roots`) is the set of level-1 codes under which a non-gateway system
serves something; a level-1 tree is local or external as a whole. Everything outside it is
the gateway's (the national axis), including codes the directory has never heard of and the
identifiers real traffic carries beside Decision-20 codes (schemas/organ.py: pre-2020
three-group codes, placed by their level-1 group; SaaS connector ids such as `vxp.saas.03`,
always outside).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, ValuesView
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from adapters.registry import SINKS, SinkOptions, SinkRegistry
from router.directory.entries import DeliveryEntry, DirectoryFile, OrganEntry, SystemEntry, entry_name, render
from schemas.organ import OrganId, level1_group, shape_of
from schemas.policy import vietnam_today
from schemas.profiles import Profile

Outcome = Literal["local", "external", "unknown_local", "invalid"]

_MAX_FORWARDS = 32  # a successor chain longer than this is a data error, not a merger history


class DirectoryError(ValueError):
    """The directory file is invalid; `errors` lists every problem, each naming its entry."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        shown = "\n  ".join(self.errors[:50])
        more = f"\n  … and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"invalid directory ({len(self.errors)} error(s)):\n  {shown}{more}")


@dataclass(frozen=True, slots=True)
class Organ:
    code: str
    name: str
    parent: str | None
    valid_from: date | None = None
    valid_to: date | None = None
    successor: str | None = None

    @property
    def id(self) -> OrganId:
        return OrganId.parse(self.code)

    @property
    def level(self) -> int:
        return self.id.level

    @property
    def routing_key(self) -> str:
        return self.id.routing_key

    def dissolved_on(self, day: date) -> bool:
        """True once `day` is after the last day of existence (valid_to is inclusive)."""
        return self.valid_to is not None and day > self.valid_to


@dataclass(frozen=True, slots=True)
class Delivery:
    """How packages reach the system: the adapter's name in adapters/registry.py and its
    options, already validated by that adapter's model (so the hub can always build it)."""

    adapter: str
    options: SinkOptions


@dataclass(frozen=True, slots=True)
class System:
    id: str
    name: str
    broker_user: str
    serves: tuple[str, ...]
    gateway: bool
    delivery: Delivery
    #: how strictly what it submits is validated: `default` or `strict` (schemas/profiles.py)
    validation: Profile = Profile.DEFAULT


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a recipient code leads, as a value the pipeline records in the trace.

    `forwarded` lists the codes left behind while following successors (the requested code
    first), so a trace can say "000.00.05.H41 dissolved, forwarded to 000.00.04.H41".
    `reason` is a short English explanation when the outcome is not a plain delivery.
    """

    requested: str
    organ: Organ | None
    system: System | None
    forwarded: tuple[str, ...]
    outcome: Outcome
    reason: str = ""

    @property
    def code(self) -> str:
        """The code packages are finally addressed to (after forwarding)."""
        return self.organ.code if self.organ is not None else self.requested

    @property
    def deliverable(self) -> bool:
        return self.system is not None and self.outcome in ("local", "external")


class Directory:
    """Organs and systems, validated, with every per-code answer precomputed."""

    def __init__(self, organs: Iterable[Organ], systems: Iterable[System]) -> None:
        """Build from already-validated entries; use `from_dict` / `load_directory` for input."""
        self._organs: dict[str, Organ] = {o.code: o for o in organs}
        self._systems: dict[str, System] = {s.id: s for s in systems}
        self._by_user = {s.broker_user: s for s in self._systems.values()}
        gateways = [s for s in self._systems.values() if s.gateway]
        self._gateway = gateways[0] if gateways else None
        root_of_served = {self._organs[c].id.groups[3] for s in self._systems.values() for c in s.serves}
        self._local_groups = frozenset(root_of_served)
        self._served_by_root = {c: s for s in self._systems.values() for c in s.serves}
        self._server: dict[str, System | None] = {}
        for code in self._organs:
            self._server[code] = self._compute_server(code)
        self._children: dict[str, list[str]] = {}
        for o in self._organs.values():
            if o.parent is not None:
                self._children.setdefault(o.parent, []).append(o.code)

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], adapters: SinkRegistry = SINKS) -> Directory:
        """Validate parsed YAML; each system's delivery options against `adapters`."""
        organs, systems = _validate(data, adapters)
        return cls(organs, systems)

    def _compute_server(self, code: str) -> System | None:
        """Nearest directory ancestor-or-self that a system lists; else the gateway if external."""
        node: str | None = code
        while node is not None:
            served = self._served_by_root.get(node)
            if served is not None:
                return served
            node = self._organs[node].parent
        if self._organs[code].id.groups[3] in self._local_groups:
            return None
        return self._gateway

    # -- lookups ---------------------------------------------------------------------------

    @property
    def organs(self) -> ValuesView[Organ]:
        """Every organ in file order (a view: iterate it as often as needed)."""
        return self._organs.values()

    def __len__(self) -> int:
        return len(self._organs)

    def organ(self, code: str) -> Organ | None:
        return self._organs.get(code)

    def children(self, code: str) -> tuple[str, ...]:
        return tuple(self._children.get(code, ()))

    @property
    def systems(self) -> Mapping[str, System]:
        return MappingProxyType(self._systems)

    def system_by_user(self, broker_user: str) -> System | None:
        return self._by_user.get(broker_user)

    @property
    def gateway(self) -> System:
        assert self._gateway is not None  # guaranteed by validation
        return self._gateway

    @property
    def local_roots(self) -> frozenset[str]:
        """Level-1 codes (`000.00.00.H41`) of the hub's own tree."""
        return frozenset(f"000.00.00.{g}" for g in self._local_groups)

    def is_local_code(self, code: str) -> bool:
        """True when the code's level-1 group belongs to the hub's tree (code need not exist)."""
        return code[-3:] in self._local_groups and OrganId.is_valid(code)

    def _outside(self, code: str) -> bool | None:
        """For a code the directory does not list: True outside the hub's tree, False inside,
        None when it is no identifier at all. Pre-2020 codes (`01.02.G22`) are placed by their
        level-1 group; connector ids (`vxp.saas.03`) have none and are the national axis's."""
        if shape_of(code) is None:
            return None
        group = level1_group(code)
        return group is None or group not in self._local_groups

    def server_of(self, code: str) -> System | None:
        """The system whose queues receive this code's routing key, ignoring successors.

        This is the broker's view (positional): the most specific serving system for a code in
        the directory, the gateway for any code outside the hub's tree, None otherwise.
        """
        if code in self._server:
            return self._server[code]
        return self._gateway if self._outside(code) else None

    def serves(self, system_id: str, organ_code: str) -> bool:
        """Does this system speak for the organ? (authorization of `From`; no forwarding)."""
        server = self.server_of(organ_code)
        return server is not None and server.id == system_id

    def resolve(self, code: str, on: date | None = None) -> Resolution:
        """Where packages for `code` go on day `on` (today in Vietnam by default).

        Dissolved organs forward to their successor (chain followed, validated acyclic at load).
        """
        day = on or vietnam_today()  # mergers take effect on Vietnamese calendar days
        organ = self._organs.get(code)
        if organ is None:
            outside = self._outside(code)
            if outside is None:
                return Resolution(code, None, None, (), "invalid", "not an organ code LLL.KK.JJ.XNN")
            if not outside:
                return Resolution(code, None, None, (), "unknown_local", "not in the directory")
            return Resolution(code, None, self._gateway, (), "external")
        forwarded: list[str] = []
        while organ.dissolved_on(day) and organ.successor is not None:
            forwarded.append(organ.code)
            organ = self._organs[organ.successor]
        server = self._server[organ.code]
        if organ.dissolved_on(day):
            reason = f"dissolved after {organ.valid_to} without successor"
            if self.is_local_code(organ.code):
                return Resolution(code, organ, None, tuple(forwarded), "unknown_local", reason)
            return Resolution(code, organ, self._gateway, tuple(forwarded), "external", reason)
        if server is None:
            return Resolution(code, organ, None, tuple(forwarded), "unknown_local", "served by no system")
        outcome: Outcome = "external" if server.gateway else "local"
        return Resolution(code, organ, server, tuple(forwarded), outcome)


#: libyaml's safe loader where PyYAML was built with it: a nation's directory (~110k organs,
#: 15 MB) parses in seconds instead of over a minute; the same safe constructors either way.
SAFE_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_directory(path: str | Path, adapters: SinkRegistry = SINKS) -> Directory:
    """Read and validate a directory file; raises DirectoryError listing every problem."""
    p = Path(path)
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=SAFE_YAML_LOADER)  # noqa: S506 (a safe loader)
    except UnicodeDecodeError as exc:
        raise DirectoryError([f"{p}: not UTF-8 text (byte {exc.start}); save the directory as UTF-8 YAML"]) from exc
    except yaml.YAMLError as exc:
        raise DirectoryError([f"{p}: not valid YAML: {' '.join(str(exc).split())}"]) from exc
    if not isinstance(data, Mapping):
        raise DirectoryError([f"{p}: expected a mapping with `organs` and `systems`"])
    return Directory.from_dict(data, adapters)


SAMPLE_DIRECTORY = Path(__file__).resolve().parents[1] / "data" / "nghe_an.yaml"

# -- validation ------------------------------------------------------------------------------
# The shape of each entry is checked by the pydantic models of entries.py; the rules between
# entries are checked here, on the valid entries. An entry that failed its own checks still
# counts as present (its code, its id), so its neighbours get no second, derived error.


def _read_organs(raw: list[Any], errors: list[str]) -> tuple[dict[str, Organ], set[str], dict[str, int]]:
    """Valid organs by code, every well-shaped code present in the file (valid or not), and
    the index of each code's first entry."""
    organs: dict[str, Organ] = {}
    present: set[str] = set()
    first_seen: dict[str, int] = {}
    for i, entry in enumerate(raw):
        where = entry_name("organs", i, entry, "code")
        code = str(entry.get("code", "")).strip() if isinstance(entry, Mapping) else ""
        if code in first_seen and OrganId.is_valid(code):
            errors.append(f"{where}: duplicate code (first at organs[{first_seen[code]}])")
            continue
        first_seen.setdefault(code, i)
        try:
            e = OrganEntry.model_validate(entry)
        except ValidationError as exc:
            errors += [render(where, d) for d in exc.errors()]
            if OrganId.is_valid(code):
                present.add(code)
            continue
        default_parent = OrganId.parse(e.code).parent
        parent = e.parent if e.parent is not None else (default_parent.code if default_parent else None)
        organs[e.code] = Organ(e.code, e.name, parent, e.valid_from, e.valid_to, e.successor)
        present.add(e.code)
    return organs, present, first_seen


def _check_organ_links(
    organs: dict[str, Organ], present: set[str], index: dict[str, int], errors: list[str]
) -> None:
    def where(code: str) -> str:
        return f"organs[{index[code]}] ({code})"

    for code, o in organs.items():
        if o.parent is not None:
            if o.parent == code:
                errors.append(f"{where(code)}: parent is the organ itself")
            elif o.parent not in present:
                errors.append(f"{where(code)}: parent {o.parent} not in directory")
            elif o.parent[-3:] != code[-3:]:
                errors.append(
                    f"{where(code)}: parent {o.parent} is in another level-1 tree; routing keys "
                    f"start with the level-1 group, so a subtree cannot cross trees"
                )
        if o.valid_from and o.valid_to and o.valid_from > o.valid_to:
            errors.append(f"{where(code)}: valid_from {o.valid_from} is after valid_to {o.valid_to}")
        if o.successor is None:
            continue
        if o.valid_to is None:
            errors.append(f"{where(code)}: successor {o.successor} given but no valid_to")
        if o.successor not in present:
            errors.append(f"{where(code)}: successor {o.successor} not in directory")
        if o.successor not in organs:
            continue
        succ = organs[o.successor]
        if o.valid_to and succ.valid_to and succ.valid_to <= o.valid_to:
            errors.append(
                f"{where(code)}: successor {o.successor} is dissolved ({succ.valid_to}) "
                f"no later than this organ ({o.valid_to})"
            )
    _check_cycles(organs, "parent", where, errors)
    _check_cycles(organs, "successor", where, errors)


def _check_cycles(organs: dict[str, Organ], attr: str, where: Any, errors: list[str]) -> None:
    """Report each cycle once, naming the entry where it was found."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in organs:
        path: list[str] = []
        node: str | None = start
        while node is not None and node in organs and state.get(node) is None:
            state[node] = 1
            path.append(node)
            node = getattr(organs[node], attr)
        if node is not None and state.get(node) == 1:
            cycle = [*path[path.index(node):], node]
            errors.append(f"{where(node)}: {attr} cycle {' → '.join(cycle)}")
        for p in path:
            state[p] = 2
        if len(path) > _MAX_FORWARDS and attr == "successor":
            errors.append(f"{where(start)}: successor chain longer than {_MAX_FORWARDS}")


def _read_systems(
    raw: list[Any], present: set[str], adapters: SinkRegistry, errors: list[str]
) -> tuple[list[System], bool]:
    """Valid systems, and whether every entry was valid (the checks over all systems — one
    gateway, served roots — would only repeat an entry's own error otherwise)."""
    systems: list[System] = []
    complete = True
    seen_id: dict[str, int] = {}
    seen_user: dict[str, int] = {}
    served_by: dict[str, str] = {}
    for i, entry in enumerate(raw):
        where = entry_name("systems", i, entry, "id")
        try:
            e = SystemEntry.model_validate(entry)
        except ValidationError as exc:
            errors += [render(where, d) for d in exc.errors()]
            complete = False
            continue
        if e.id in seen_id:
            errors.append(f"{where}: duplicate id (first at systems[{seen_id[e.id]}])")
        seen_id.setdefault(e.id, i)
        if e.broker_user in seen_user:
            first = seen_user[e.broker_user]
            errors.append(f"{where}: duplicate broker_user {e.broker_user!r} (first at systems[{first}])")
        seen_user.setdefault(e.broker_user, i)
        if e.gateway and e.serves:
            errors.append(f"{where}: a gateway serves everything outside the hub's tree; list no `serves`")
        for code in e.serves:
            if code not in present:
                errors.append(f"{where}: serves {code}, not in directory")
            elif code in served_by and served_by[code] != e.id:
                errors.append(f"{where}: serves {code}, already served by system {served_by[code]}")
            elif code in served_by:
                errors.append(f"{where}: serves {code} twice")
            else:
                served_by[code] = e.id
        delivery = _delivery(e.delivery, adapters, where, errors)
        if delivery is None:
            complete = False
            continue
        systems.append(System(e.id, e.name, e.broker_user, tuple(e.serves), e.gateway, delivery,
                              Profile(e.validation)))
    if complete:
        gateways = [s.id for s in systems if s.gateway]
        if not gateways:
            errors.append("systems: no gateway (exactly one system needs `gateway: true`)")
        elif len(gateways) > 1:
            errors.append(f"systems: more than one gateway ({', '.join(gateways)})")
    return systems, complete


def _delivery(entry: DeliveryEntry, adapters: SinkRegistry, where: str, errors: list[str]) -> Delivery | None:
    """The adapter must exist in this build and accept its options: what `run` will build."""
    if adapters.get(entry.adapter) is None:
        errors.append(
            f"{where}: delivery.adapter {entry.adapter!r} is not available in this build "
            f"(adapters: {', '.join(adapters.names)})"
        )
        return None
    try:
        options = adapters.options(entry.adapter, entry.options)
    except ValidationError as exc:
        errors += [render(where, d, ("delivery", "options")) for d in exc.errors()]
        return None
    return Delivery(entry.adapter, options)


def _check_local_roots(systems: list[System], organs: dict[str, Organ], errors: list[str]) -> None:
    """A level-1 tree is local as a whole: its root must be served, or its organs would be
    neither delivered locally nor handed to the national axis."""
    served = {c for s in systems for c in s.serves if c in organs}
    for group in sorted({c[-3:] for c in served}):
        root = f"000.00.00.{group}"
        if root not in served:
            users = sorted(s.id for s in systems if any(c[-3:] == group for c in s.serves))
            errors.append(
                f"systems: level-1 root {root} is served by no system, but {', '.join(users)} "
                f"serve(s) codes under it, which makes the whole {group} tree local"
            )


def _validate(data: Mapping[str, Any], adapters: SinkRegistry) -> tuple[list[Organ], list[System]]:
    errors: list[str] = []
    try:
        DirectoryFile.model_validate(data)
    except ValidationError as exc:  # reported, and the entries are checked all the same
        errors += [render("", d) for d in exc.errors()]

    def entries(key: str) -> list[Any]:
        value = data.get(key)
        return value if isinstance(value, list) else []

    organs, present, index = _read_organs(entries("organs"), errors)
    _check_organ_links(organs, present, index, errors)
    systems, complete = _read_systems(entries("systems"), present, adapters, errors)
    if complete:
        _check_local_roots(systems, organs, errors)
    if errors:
        raise DirectoryError(errors)
    return list(organs.values()), systems
