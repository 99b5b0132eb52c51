"""The whole-bytes reader (schemas/wholeread.py) against the streaming reader it stands in for.

Whatever bytes it is given, the whole-bytes reader either declines (None: the streaming reader
decides, with its findings) or reads exactly what the streaming reader reads: the same tree,
the same line of every element, the same payload sizes, heads, digests and bytes. Checked on
the shared samples, the real-world corpus, generated packages, mutated packages, packages with
every construct it declines, and a table of attachment texts at the edges of base64.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.findings import PackageError
from schemas.limits import ParseLimits
from schemas.reader import RawDocument, read_document
from schemas.render import render_edoc
from schemas.wholeread import read, read_whole
from tests.support.edxml_factory import INTERESTING, edoc_bytes, edoc_packages, mutated, pdf_bytes, status_bytes
from tests.support.samples import ALL, REALWORLD, sample

pytestmark = pytest.mark.unit

LIMITS = ParseLimits()


def _facts(doc: RawDocument) -> tuple[Any, ...]:
    from lxml import etree

    return (
        etree.tostring(doc.root),
        [el.sourceline for el in doc.root.iter()],
        [(p.size, p.head, p.sha256, p.read()) for p in doc.payloads],
        [el.sourceline for el in doc.payload_elements],
        doc.size,
    )


def same_or_declined(data: bytes) -> bool:
    """True when the whole-bytes reader read `data` (and then exactly as the streaming one)."""
    fast = read_whole(data, LIMITS, None, None)
    if fast is None:
        return False
    slow = read_document(data, LIMITS)  # must not raise: what the fast road reads is readable
    assert _facts(fast) == _facts(slow)
    assert fast.digest == slow.digest
    return True


def test_the_samples_and_the_real_world_corpus_are_read_the_same() -> None:
    taken = [same_or_declined(sample(name)) for name in ALL]
    taken += [same_or_declined(p.read_bytes()) for p in sorted(REALWORLD.glob("*.edxml"))]
    assert sum(taken) >= len(ALL)  # the plain ones do take the whole-bytes road


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(edoc_packages())
def test_generated_packages_take_the_whole_bytes_road(case: Any) -> None:
    pkg, payloads = case
    assert same_or_declined(render_edoc(pkg, payloads))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_mutated_packages_are_declined_or_read_the_same(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from([edoc_bytes(), status_bytes(), sample(ALL[0])]))
    raw = data.draw(mutated(base))
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + data.draw(st.sampled_from(INTERESTING)) + raw[at:]
    try:
        same_or_declined(raw)
    except PackageError:
        pytest.fail("the whole-bytes reader read bytes the streaming reader refuses")


def _with_text(text: bytes) -> bytes:
    data = edoc_bytes({"cid:van-ban-1": b"%PDF-1.4 x"})
    encoded = base64.b64encode(b"%PDF-1.4 x")
    assert encoded in data
    return data.replace(encoded, text, 1)


@pytest.mark.parametrize("text", [
    b"", b"QQ==", b"QUI=", b"QUJD", b"QR==", b"QQ=", b"Q===", b"====", b"QQ==QUJD", b"QU JD", b"QU\nJD",
    b"QU\r\n JD\n", b"QUJ", b"=QUJ", b"QQ=\n=", b"QUJD&#13;", b"QU!D", b"QUJD\n" * 1000, b"\xc3\xa9QUJ",
])
def test_attachment_text_at_the_edges_of_base64(text: bytes) -> None:
    data = _with_text(text)
    fast = read_whole(data, LIMITS, None, None)
    try:
        slow = read_document(data, LIMITS)
    except PackageError:
        assert fast is None
        return
    if fast is not None:
        assert _facts(fast) == _facts(slow)


@pytest.mark.parametrize("extra", [
    b"<!-- a comment -->", b"<![CDATA[x]]>", b"<?pi data?>", b"<!-- <ContentTransferEncoded> -->",
])
def test_constructs_it_leaves_to_the_streaming_reader(extra: bytes) -> None:
    data = edoc_bytes().replace(b"</edXML>", extra + b"</edXML>", 1)
    assert read_whole(data, LIMITS, None, None) is None
    assert read(data, LIMITS).root is not None  # and the streaming reader still reads it


def test_a_body_over_one_chunk_streams() -> None:
    data = edoc_bytes({"cid:van-ban-1": pdf_bytes(900 * 1024)})
    assert len(data) > 1024 * 1024
    assert read_whole(data, LIMITS, None, None) is None
    assert read(data, LIMITS).payloads[0].size == 900 * 1024


def test_limits_send_the_body_to_the_streaming_reader_for_its_finding() -> None:
    data = edoc_bytes({"cid:van-ban-1": pdf_bytes(4096), "cid:van-ban-2": pdf_bytes(10)})
    for limits in (ParseLimits(max_attachment_bytes=100), ParseLimits(max_attachments=1),
                   ParseLimits(max_markup_bytes=1000), ParseLimits(max_depth=3)):
        assert read_whole(data, limits, None, None) is None
        with pytest.raises(PackageError):
            read(data, limits)


def test_decoding_waits_for_the_first_use() -> None:
    data = edoc_bytes({"cid:van-ban-1": pdf_bytes(4096)})
    doc = read_whole(data, LIMITS, None, None)
    assert doc is not None
    payload = doc.payloads[0]
    assert payload.size == 4096 and payload.head.startswith(b"%PDF-")
    assert payload._base64 is not None  # nothing decoded yet
    assert payload.read() == pdf_bytes(4096)
    assert payload._base64 is None
