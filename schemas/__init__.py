"""edXML and status packages (QCVN 102:2016): models, hardened parsing, validation, rendering.

The parser's hot modules (`NATIVE_MODULES`) may also exist compiled by mypyc
(`scripts/build_native.py`, run by scripts/setup.sh): `schemas/<name>.cpython-*.so` beside each
source. The sources stay the truth. The compiled modules are used only while the digests of the
sources they were built from (`schemas/_native.json`) match the sources as they are now; when
they do not (a source edited since the build), when the stamp is missing, or with
`LIENTHONG_NATIVE=0`, every one of them is imported from its `.py` instead: never a mix, never
stale code. The same build compiles `NATIVE_EXTENSIONS` with Cython (C over lxml's nodes, see
schemas/_walk.pyx); schemas.build and schemas.reader use it (`walker()`) under the same condition,
their Python code otherwise.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

NATIVE_MODULES = ("build", "layout", "rules", "wholeread")
NATIVE_EXTENSIONS = ("_walk",)  # Cython sources (`.pyx`) through `walker()`; their Python twins stay in the modules
NATIVE_STAMP = "_native.json"
_HERE = Path(__file__).resolve().parent


def source_digests() -> dict[str, str]:
    """SHA-256 of each compiled module's source, as the stamp records them, and the version of
    lxml whose C API and libxml2 headers the walker was compiled against (`lxml`): an upgraded
    lxml makes the build stale like an edited source."""
    from lxml import etree

    sources = [f"{name}.py" for name in NATIVE_MODULES] + [f"{name}.pyx" for name in NATIVE_EXTENSIONS]
    digests = {name.split(".")[0]: hashlib.sha256((_HERE / name).read_bytes()).hexdigest() for name in sources}
    return {**digests, "lxml": str(etree.__version__)}


def native_current() -> bool:
    """Whether the compiled modules, if any, were built from the sources as they are now."""
    if os.environ.get("LIENTHONG_NATIVE", "1") == "0":
        return False
    try:
        stamp = json.loads((_HERE / NATIVE_STAMP).read_text(encoding="utf-8"))
        return isinstance(stamp, dict) and stamp.get("sources") == source_digests()
    except (OSError, ValueError):
        return False


class _Interpreted(importlib.abc.MetaPathFinder):
    """Imports `schemas.<name>` of `NATIVE_MODULES` from its source, ahead of any `.so`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in NATIVE_MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, _HERE / f"{name}.py")


_NATIVE = native_current()  # decided once per process: every module then agrees
if not _NATIVE:
    sys.meta_path.insert(0, _Interpreted())


def walker() -> ModuleType | None:
    """The compiled walker (schemas/_walk.pyx) under the same rule as the compiled modules, or None:
    its callers then run their Python twins. Any failure to import it (missing, or refused by
    Cython's binary checks) is a None, never an error."""
    if not _NATIVE:
        return None
    try:
        return importlib.import_module("schemas._walk")
    except Exception:  # noqa: BLE001 - see above
        return None


def native_active() -> bool:
    """Whether the compiled modules are the ones imported (for benchmarks and reports)."""
    from schemas import build

    return not (build.__file__ or "").endswith(".py")
