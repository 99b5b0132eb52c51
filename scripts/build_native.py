"""Compile the parser's hot modules (`schemas.NATIVE_MODULES`) with mypyc and its C walker
(`schemas.NATIVE_EXTENSIONS`) with Cython, in place.

    .venv/bin/python scripts/build_native.py [--if-stale] [--clean]

Optional: the project runs the same from the sources without the result, and schemas/__init__.py
uses the compiled modules only while they match the sources (see there). Writes
`schemas/<name>.cpython-*.so`, the shared `schemas/_native__mypyc.cpython-*.so` and the stamp
`schemas/_native.json` (the sources' digests) last, so a failed build leaves nothing used; the C
sources and the compiler's output go to build/native/ (log: build/native/build.log).
`--if-stale`: do nothing while the stamp matches the sources and every module is there, or
when the last build of these same sources failed (build/native/failed.json; delete it to retry).
Exit status 1 when the build fails (scripts/setup.sh then warns and goes on, interpreted).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas import NATIVE_EXTENSIONS, NATIVE_MODULES, NATIVE_STAMP, source_digests  # noqa: E402

PACKAGE = ROOT / "schemas"
COMPILED = {*NATIVE_MODULES, *NATIVE_EXTENSIONS, "_native__mypyc"}  # the names of the .so files
WORK = ROOT / "build" / "native"


def built() -> list[Path]:
    return sorted(p for p in PACKAGE.glob("*.so") if p.name.split(".", 1)[0] in COMPILED)


def clean() -> None:
    for path in [*built(), PACKAGE / NATIVE_STAMP]:
        path.unlink(missing_ok=True)


FAILED = WORK / "failed.json"  # the sources' digests of the last failed build: not retried for them


def recorded(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("sources")
    except (OSError, ValueError, AttributeError):
        return None


def current() -> bool:
    names = {p.name.split(".", 1)[0] for p in built()}
    return recorded(PACKAGE / NATIVE_STAMP) == source_digests() and names >= COMPILED


def compile_modules() -> None:
    """mypyc + setuptools' build_ext, without reading pyproject.toml's [project] (an old
    setuptools in the venv would refuse its licence field; only the extensions are built)."""
    import lxml
    from Cython.Build import cythonize
    from mypyc.build import mypycify
    from setuptools import Distribution, Extension

    extensions = mypycify(
        [f"schemas/{name}.py" for name in NATIVE_MODULES],
        opt_level="3",
        group_name="schemas._native",
        target_dir=str(WORK / "c"),
    )
    # lxml's wheel ships its public C API (etreepublic.pxd, etree_api.h) and the libxml2 headers
    # it was built with; the walker reads node fields and calls lxml through that API only, so it
    # links against nothing
    walkers = [Extension(f"schemas.{name}", [f"schemas/{name}.pyx"], include_dirs=lxml.get_include())
               for name in NATIVE_EXTENSIONS]
    extensions += cythonize(walkers, include_path=lxml.get_include(), build_dir=str(WORK / "cython"), quiet=True)
    dist = Distribution({"name": "lienthong-native", "ext_modules": extensions})
    dist.script_args = ["build_ext", "--inplace", "--build-temp", str(WORK / "tmp"), "--build-lib", str(WORK / "lib")]
    dist.parse_command_line()
    dist.run_commands()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--if-stale", action="store_true", help="build only when the sources changed")
    ap.add_argument("--clean", action="store_true", help="remove the compiled modules and stop")
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    if args.clean:
        clean()
        return 0
    if args.if_stale and (current() or recorded(FAILED) == source_digests()):
        return 0
    clean()
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "build.log"
    digests = source_digests()
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            fd_out, fd_err = os.dup(1), os.dup(2)
            os.dup2(out.fileno(), 1)  # the compiler writes to the process's own descriptors
            os.dup2(out.fileno(), 2)
            try:
                compile_modules()
            finally:
                os.dup2(fd_out, 1)
                os.dup2(fd_err, 2)
                os.close(fd_out)
                os.close(fd_err)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure: interpreted, said once
            print(f"native build failed: {exc!r}", file=out)
            clean()
            FAILED.write_text(json.dumps({"sources": digests}) + "\n", encoding="utf-8")
            return 1
    if source_digests() != digests:  # edited while compiling: what was built is not the source
        clean()
        return 1
    FAILED.unlink(missing_ok=True)
    (PACKAGE / NATIVE_STAMP).write_text(json.dumps({"sources": digests}, indent=1) + "\n", encoding="utf-8")
    print(f"schemas: {', '.join(NATIVE_MODULES)} compiled with mypyc, {', '.join(NATIVE_EXTENSIONS)} with Cython "
          f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
