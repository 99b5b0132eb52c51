"""The top-level names collide with PyPI projects: each must come from this repository."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["router", "adapters", "schemas", "signing", "ops"])
def test_package_imports_from_this_repository(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == ROOT / name


def test_console_script_is_declared() -> None:
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["scripts"]["lienthong"] == "router.cli:main"
    assert sorted(meta["tool"]["setuptools"]["packages"]) == sorted(
        ["router", "router.ledger", "adapters", "schemas", "signing", "ops"]
    )
