"""Dependencies point one way (design.md §5): schemas ← signing ← router; adapters import
schemas only; nothing imports router but its own CLI. Inside router/, each room imports only the
rooms below it, and pika is the business of the rooms that talk to the broker. Walks every
module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit

ALLOWED: dict[str, set[str]] = {
    "schemas": {"schemas", "ops"},
    "signing": {"signing", "schemas", "ops"},
    "adapters": {"adapters", "schemas", "ops"},
    "ops": {"ops", "schemas"},
    "router": {"router", "schemas", "signing", "adapters", "ops"},
}

#: router's rooms, bottom up: each may import itself and what is listed (plus the top-level
#: packages ALLOWED gives router). `hub` is the composition root; only `cli` sits above it.
ROOMS: dict[str, set[str]] = {
    "router.ledger": set(),
    "router.directory": set(),
    "router.topology": {"router.directory"},
    "router.settings": {"router.topology"},
    "router.pipeline": {"router.ledger", "router.directory", "router.topology", "router.settings"},
    "router.amqp": {"router.pipeline", "router.ledger", "router.topology", "router.settings"},
    "router.hub": {"router.amqp", "router.pipeline", "router.ledger", "router.directory", "router.topology",
                   "router.settings"},
    "router.cli": {"router.hub", "router.amqp", "router.pipeline", "router.ledger", "router.directory",
                   "router.topology", "router.settings"},
}

#: Only these may import pika: the consuming runtime, the declarer and the operator's commands
#: that talk to the broker, and the direct-AMQP adapter. The pipeline decides; it never talks.
PIKA_ALLOWED = ("router/amqp/", "router/topology/declare.py", "router/cli/", "adapters/amqp.py")


def _modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "router" or len(parts) < 2:
        return None
    return ".".join(parts[:2])


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package: str) -> None:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for imported in {m.split(".")[0] for m in _modules(path)} & set(ALLOWED) - ALLOWED[package]:
            bad.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not bad, "\n".join(bad)


def test_every_router_module_belongs_to_a_room() -> None:
    loose = [
        str(p.relative_to(ROOT)) for p in sorted((ROOT / "router").rglob("*.py"))
        if p.name != "__init__.py" or p.parent != ROOT / "router"
        if _room(".".join(p.relative_to(ROOT).with_suffix("").parts)) not in ROOMS
    ]
    assert not loose, f"modules outside the rooms of ROOMS: {loose}"


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_rooms_import_only_rooms_below(room: str) -> None:
    base = ROOT / Path(*room.split("."))
    paths = sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
    bad = []
    for path in paths:
        for imported in _modules(path):
            target = _room(imported)
            if target is not None and target != room and target not in ROOMS[room]:
                bad.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not bad, "\n".join(bad)


def test_pika_only_where_the_broker_is_talked_to() -> None:
    bad = []
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if any(m.split(".")[0] == "pika" for m in _modules(path)) and not rel.startswith(PIKA_ALLOWED):
                bad.append(rel)
    assert not bad, f"pika imported outside the broker rooms: {bad}"
