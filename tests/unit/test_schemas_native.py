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
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

import schemas
from schemas import NATIVE_MODULES, build, native_active, native_current
from schemas.layout import EDOC, STATUS, Node
from schemas.parse import validate_package
from tests.support.samples import ALL, EDOC_1, REALWORLD, sample

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


@pytest.mark.parametrize("stale", ["sources", "lxml"])
def test_a_stale_stamp_means_the_sources(tmp_path: Path, stale: str) -> None:
    """A copy of the package whose stamp no longer matches its sources, or names another lxml than
    the one installed (the walker is compiled against lxml's C API): no compiled module loads."""
    copy = tmp_path / "schemas"
    subprocess.run(["cp", "-r", str(Path(schemas.__file__).parent), str(copy)], check=True)
    digests = schemas.source_digests()
    assert digests["lxml"] == etree.__version__
    stamp = {m: "0" * 64 for m in NATIVE_MODULES} if stale == "sources" else {**digests, "lxml": "0.0.1"}
    (copy / "_native.json").write_text(json.dumps({"sources": stamp}))
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


def _layout_nodes(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _layout_nodes(child)


_TRICKY = (  # what the grouping must read as lxml does: namespaces, aliases, text split by nodes
    '<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016" xmlns:e="http://www.mic.gov.vn/TBT/QCVN_102_2016"'
    ' xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:v="urn:vendor">'
    "<MessageHeader><e:From><OrganId>\u00a0 000.00.00.H41 \n</OrganId><OrganName>Tỉnh <![CDATA[Hà]]> Giang"
    "</OrganName><OrganName>twice</OrganName><Email/><Fax><!--c-->late</Fax><Website>a<?pi x?>b</Website>"
    "<Telephone>early<!--c-->late</Telephone><OrganAdd><v:x/>tail</OrganAdd><OrganizationInCharge> \t\r\n"
    "</OrganizationInCharge>"
    "</e:From><To xmlns=\"\"><OrganId>no namespace</OrganId></To><v:To>vendor</v:To><To><OrganId>x</OrganId>"
    "</To><To><OrganId>Đà Nẵng　</OrganId><OrganName> x </OrganName><Email>&#x1F600; ok</Email></To>"
    "<To/><DocumentId>&#65;&amp;B</DocumentId><v:Extra><OrganId>deep</OrganId></v:Extra></MessageHeader>"
    "<TraceHeaderList><Business><BusinessDocType>1</BusinessDocType><BussinessDocType>2</BussinessDocType>"
    "</Business><Bussiness/></TraceHeaderList><ds:Signature>s</ds:Signature><Signature>t</Signature>"
    "<v:Signature>u</v:Signature></edXML>"
).encode("utf-8")


def _trees() -> Iterator[etree._Element]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    for name in ALL:
        yield etree.fromstring(sample(name), parser)
    for path in sorted(REALWORLD.glob("*.edxml")) + sorted(REALWORLD.glob("*.xml")):
        try:
            yield etree.fromstring(path.read_bytes(), parser)
        except etree.XMLSyntaxError:
            continue  # a refused entry that is not XML at all: nothing to group
    yield etree.fromstring(_TRICKY, parser)


@pytest.mark.skipif(schemas.walker() is None, reason="the native build is absent or stale: only the Python grouping runs")
def test_the_c_grouping_is_the_python_grouping() -> None:
    """schemas/_walk.pyx against `schemas.build.group` for every element of every sample, real-world
    package and a tree of the awkward cases, under every layout node's names: the same groups, the
    same element objects, the same texts."""
    from schemas._walk import group as c_group

    nodes = {id(n): n for layout in (EDOC, STATUS) for n in _layout_nodes(layout) if not n.leaf}
    compared = 0
    for root in _trees():
        for el in root.iter():
            for node in nodes.values():
                by_tag, any_ns, _, leaves, ns_bytes, any_bytes = build._index(node)
                py = build.group(el, by_tag, any_ns, leaves)
                c = c_group(el, ns_bytes, any_bytes, leaves)
                assert c[1] == py[1], (el.tag, node.name)
                for got, want in ((c[0], py[0]), (c[2] or {}, py[2] or {})):
                    assert got.keys() == want.keys(), (el.tag, node.name)
                    assert all(_same(got[k], want[k]) for k in want), (el.tag, node.name)
                assert _same(c[3] or [], py[3] or []), (el.tag, node.name)
                compared += 1
    assert compared > 10_000


def _same(a: object, b: object) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))
    return a is b


def _shaped(depth: int, at: int) -> bytes:
    """A root with three branches; the middle one `depth` elements deep, the `at`-th sibling of
    its level, with comments, PIs and text around every element."""
    inner = "<leaf/>"
    for i in range(depth - 2):
        inner = f"<!--c-->t<a{i}>{'<s/>' * at}{inner}<?p q?></a{i}>tail"
    return f"<r><b1><c/></b1><b2>{inner}</b2><b3/></r>".encode()


@pytest.mark.skipif(schemas.walker() is None, reason="the native build is absent or stale: only the XPath runs")
def test_the_c_depth_walk_is_the_xpath() -> None:
    """schemas/_walk.pyx's too_deep against the reader's XPath, for every depth bound, over the
    samples, the real-world corpus and trees whose deepest branch is not the first."""
    from schemas._walk import too_deep
    from schemas.reader import _xpath_too_deep

    trees = list(_trees()) + [etree.fromstring(_shaped(d, at)) for d in (2, 3, 7, 20) for at in (0, 1, 3)]
    trees.append(etree.fromstring(b"<r/>"))
    for root in trees:
        deepest = max(len(list(el.iterancestors())) + 1 for el in root.iter() if isinstance(el.tag, str))
        for bound in range(0, deepest + 3):
            assert too_deep(root, bound) == _xpath_too_deep(root, bound) == (deepest > bound), (root.tag, bound)
