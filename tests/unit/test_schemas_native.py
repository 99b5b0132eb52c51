"""The optional mypyc build of schemas/ (scripts/build_native.py, schemas/__init__.py): used whole
or not at all, never stale, and what the compiled code must survive that the interpreter does not
mind (comments' tags, threads)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import schemas
from schemas import NATIVE_MODULES, native_active, native_current
from schemas.parse import validate_package
from tests.support.samples import EDOC_1, sample

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _imported_from(env: dict[str, str]) -> dict[str, str]:
    code = (
        "import json, importlib; mods = " + repr(list(NATIVE_MODULES)) + "; "
        "print(json.dumps({m: importlib.import_module('schemas.' + m).__file__ for m in mods}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return dict(json.loads(out.stdout))


def test_compiled_modules_are_used_whole_and_only_while_current() -> None:
    files = _imported_from(dict(os.environ))
    compiled = {m for m, f in files.items() if not f.endswith(".py")}
    assert compiled in (set(), set(NATIVE_MODULES)), files  # never a mix
    if compiled:
        assert native_current()
    assert native_active() == bool(compiled)


def test_lienthong_native_0_imports_the_sources() -> None:
    files = _imported_from({**os.environ, "LIENTHONG_NATIVE": "0"})
    assert all(f.endswith(".py") for f in files.values()), files


def test_a_stale_stamp_means_the_sources(tmp_path: Path) -> None:
    """A copy of the package whose stamp no longer matches one source: no compiled module loads."""
    copy = tmp_path / "schemas"
    subprocess.run(["cp", "-r", str(Path(schemas.__file__).parent), str(copy)], check=True)
    (copy / "_native.json").write_text(json.dumps({"sources": {m: "0" * 64 for m in NATIVE_MODULES}}))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    code = (
        "import sys; sys.path.insert(0, " + repr(str(tmp_path)) + "); import schemas, schemas.build, "
        "schemas.wholeread; print(schemas.__file__, schemas.build.__file__, schemas.wholeread.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out[0].startswith(str(copy)), out
    assert out[1].endswith("build.py") and out[2].endswith("wholeread.py"), out


def test_comments_and_processing_instructions_among_children() -> None:
    """A comment's tag is a function: the builder must skip it, compiled or not (the streaming reader
    takes these packages; the whole-bytes one declines them)."""
    body = sample(EDOC_1)
    m = re.search(rb"<(?:[A-Za-z]+:)?MessageHeader>", body)
    assert m is not None
    body = body[: m.end()] + b"<!-- vendor note --><?vendor pi?>" + body[m.end() :]
    report = validate_package(body)
    assert report.valid, report.findings


def test_validation_from_many_threads() -> None:
    """One libxml2 parser per thread (schemas.wholeread): from several threads at once, every
    report as from one."""
    body = sample(EDOC_1)
    expected = validate_package(body).document_id
    results: list[str | None] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                results.append(validate_package(body).document_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [expected] * 200
