"""Dependencies point one way (design.md §5): schemas ← signing ← router; adapters import
schemas only; nothing imports router but its own CLI. Walks every module's imports."""

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


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package: str) -> None:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for imported in _imports(path) - ALLOWED[package]:
            bad.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not bad, "\n".join(bad)
