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
    packages = meta["tool"]["setuptools"]["packages"]
    assert {p.split(".")[0] for p in packages} == {"router", "adapters", "schemas", "signing", "ops"}
    on_disk = {
        str(d.relative_to(ROOT)).replace("/", ".")
        for top in ("router", "adapters", "schemas", "signing", "ops")
        for d in [ROOT / top, *(ROOT / top).rglob("*")]
        if d.is_dir() and d.name != "__pycache__" and any(f.suffix in (".py", ".xsd", ".yaml") for f in d.iterdir())
    }
    assert on_disk <= set(packages), f"folders missing from [tool.setuptools] packages: {on_disk - set(packages)}"


def test_wheel_carries_code_and_data(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    [wheel] = list(tmp_path.glob("lienthong-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("router/ledger/store.py", "router/data/nghe_an.yaml", "schemas/xsd/edoc.xsd",
                   "schemas/xsd/common.xsd", "signing/pades.py", "adapters/folder.py", "ops/metrics.py"):
        assert needed in names, needed
