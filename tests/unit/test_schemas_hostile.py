"""The hostile corpus: every attack on the parser gets its own reason code, no escaping
exception, no network access, and bounded memory and time.

Each package is generated here (never committed) and parsed in a fresh interpreter
(`tests.support.probe`) so its peak RSS is the kernel's figure for that one parse. The time
and memory bounds are generous safety nets, not benchmarks (see tests/perf/bench_schemas.py).
A loopback HTTP listener stands in for an attacker's server: it must never see a connection.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from schemas.findings import Code
from schemas.parse import validate_package
from schemas.payload import inspect_zip
from tests.support.edxml_factory import (
    TODAY,
    edoc_bytes,
    lying_zip,
    pdf_bytes,
    split_at_payload,
    zip_bomb,
)
from tests.support.probe import MiB, Outcome, run_probe

pytestmark = pytest.mark.unit

MAX_RSS_MB = 200
MAX_SECONDS = 30
SAMPLE = edoc_bytes()
DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'
NS = b"http://www.mic.gov.vn/TBT/QCVN_102_2016"


# -- the attacker's server ---------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    hits: list[str]

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.hits.append(f"connection from {client_address}")
        return True


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(f"GET {self.path}")  # type: ignore[attr-defined]
        body = b'<!ENTITY leak "LEAKED">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class Listener:
    url: str
    hits: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.hits = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def listener(server: _Server) -> Iterator[Listener]:
    server.hits.clear()
    lst = Listener(f"http://127.0.0.1:{server.server_address[1]}", server.hits)
    yield lst
    assert server.hits == [], f"the parser reached the network: {server.hits}"


# -- package surgery -----------------------------------------------------------------------------


def with_doctype(doctype: bytes, subject_ref: bytes = b"") -> bytes:
    """The sample with a DOCTYPE after the XML declaration and `subject_ref` inside Subject."""
    body = SAMPLE.split(b"\n", 1)[1]
    if subject_ref:
        body = body.replace(b"<edXML:Subject>", b"<edXML:Subject>" + subject_ref, 1)
    return DECL + doctype + b"\n" + body


def in_subject(text: bytes) -> bytes:
    return SAMPLE.replace(b"<edXML:Subject>", b"<edXML:Subject>" + text, 1)


def vendor_element(xml: bytes) -> bytes:
    """`xml` as an unknown vendor element inside MessageHeader (where real extensions live)."""
    return SAMPLE.replace(b"</edXML:MessageHeader>", xml + b"</edXML:MessageHeader>", 1)


def with_attachment_text(text: bytes) -> bytes:
    before, after = split_at_payload()
    return before + text + after


def billion_laughs() -> bytes:
    ents = [b'<!ENTITY lol0 "lol">'] + [
        b"<!ENTITY lol%d \"%s\">" % (i, b"".join(b"&lol%d;" % (i - 1) for _ in range(10))) for i in range(1, 10)
    ]
    return with_doctype(b"<!DOCTYPE edXML [" + b"".join(ents) + b"]>", b"&lol9;")


def quadratic_blowup() -> bytes:
    blob = b"A" * 50_000
    return with_doctype(b'<!DOCTYPE edXML [<!ENTITY a "' + blob + b'">]>', b"&a;" * 50_000)


def doctype_across_chunk_boundary() -> bytes:
    """`<!DOCTYPE` split by the reader's 1 MiB chunking, after a comment that fills the chunk."""
    pad = 1024 * 1024 - len(DECL) - len(b"<!--") - len(b"-->") - 4
    return DECL + b"<!--" + b"x" * pad + b"-->" + b"<!DOCTYPE edXML [<!ENTITY x 'y'>]>" + SAMPLE.split(b"\n", 1)[1]


def second_document_after_entity() -> bytes:
    """An undeclared entity, then a whole valid package: lxml's feed parser (resolve_entities=False)
    silently dropped the first and validated the second, which no recipient would read."""
    body = SAMPLE.split(b"\n", 1)[1]
    return b"<edXML xmlns='" + NS + b"'><To>999.99.99.X99</To>&xxe;<!---->" + body


def truncated(at: Callable[[bytes], int]) -> Callable[[str], bytes]:
    return lambda _url: SAMPLE[: at(SAMPLE)]


def _b64_start(data: bytes) -> int:
    return data.index(b"<ContentTransferEncoded>") + len(b"<ContentTransferEncoded>")


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[str], bytes]
    code: Code
    limits: dict[str, int] | None = None

    def __str__(self) -> str:
        return self.name


C = Case
CASES = [
    # DTDs and entities: refused before libxml2 sees them, never fetched
    C("xxe-file", lambda u: with_doctype(b'<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"&xxe;"),
      Code.XML_FORBIDDEN_CONSTRUCT),
    C("xxe-url", lambda u: with_doctype(b'<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "%s/xxe">]>' % u.encode(), b"&xxe;"),
      Code.XML_FORBIDDEN_CONSTRUCT),
    C("xxe-parameter-entity",
      lambda u: with_doctype(b'<!DOCTYPE edXML [<!ENTITY %% p SYSTEM "%s/p.dtd"> %%p;]>' % u.encode(), b"&leak;"),
      Code.XML_FORBIDDEN_CONSTRUCT),
    C("external-dtd", lambda u: with_doctype(b'<!DOCTYPE edXML SYSTEM "%s/edxml.dtd">' % u.encode()),
      Code.XML_FORBIDDEN_CONSTRUCT),
    C("external-dtd-public",
      lambda u: with_doctype(b'<!DOCTYPE edXML PUBLIC "-//X//EN" "%s/edxml.dtd">' % u.encode()),
      Code.XML_FORBIDDEN_CONSTRUCT),
    C("billion-laughs", lambda u: billion_laughs(), Code.XML_FORBIDDEN_CONSTRUCT),
    C("quadratic-blowup", lambda u: quadratic_blowup(), Code.XML_FORBIDDEN_CONSTRUCT),
    C("doctype-across-chunk-boundary", lambda u: doctype_across_chunk_boundary(), Code.XML_FORBIDDEN_CONSTRUCT),
    C("undeclared-entity", lambda u: in_subject(b"&xxe;"), Code.XML_FORBIDDEN_CONSTRUCT),
    C("second-document-after-undeclared-entity", lambda u: second_document_after_entity(),
      Code.XML_FORBIDDEN_CONSTRUCT),
    C("utf7-hidden-doctype",
      lambda u: b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE edXML +AFs-+ADw-!ENTITY x SYSTEM '
                b'+ACI-' + u.encode() + b'/utf7+ACI-+AD4-+AF0-+AD4-' + SAMPLE.split(b"\n", 1)[1],
      Code.XML_MALFORMED),
    # size, depth, count
    C("nesting-10000-deep", lambda u: vendor_element(b"<v:x xmlns:v='urn:v'>" + b"<v:x>" * 10_000 + b"</v:x>" * 10_001),
      Code.XML_LIMIT_EXCEEDED),
    C("nesting-100-deep", lambda u: vendor_element(b"<v:x xmlns:v='urn:v'>" + b"<v:x>" * 100 + b"</v:x>" * 101),
      Code.XML_LIMIT_EXCEEDED),
    C("text-node-20mb-in-subject", lambda u: in_subject(b"A" * (20 * MiB)), Code.XML_LIMIT_EXCEEDED),
    C("attribute-20mb", lambda u: vendor_element(b"<v:x xmlns:v='urn:v' a='" + b"A" * (20 * MiB) + b"'/>"),
      Code.XML_LIMIT_EXCEEDED),
    C("comment-20mb", lambda u: vendor_element(b"<!--" + b"A" * (20 * MiB) + b"-->"), Code.XML_LIMIT_EXCEEDED),
    C("cdata-20mb", lambda u: in_subject(b"<![CDATA[" + b"A" * (20 * MiB) + b"]]>"), Code.XML_LIMIT_EXCEEDED),
    # unclosed constructs: what the lexer holds back waiting for the closer is markup too
    C("unclosed-comment-80mb", lambda u: vendor_element(b"<!--" + b"A" * (80 * MiB)), Code.XML_LIMIT_EXCEEDED),
    C("unclosed-attachment-start-tag-80mb",
      lambda u: SAMPLE.replace(b"<ContentTransferEncoded>", b'<ContentTransferEncoded a="' + b"A" * (80 * MiB), 1),
      Code.XML_LIMIT_EXCEEDED),
    C("unclosed-processing-instruction-20mb", lambda u: vendor_element(b"<?pi " + b"A" * (20 * MiB)),
      Code.XML_LIMIT_EXCEEDED),
    C("unclosed-cdata-20mb", lambda u: in_subject(b"<![CDATA[" + b"A" * (20 * MiB)), Code.XML_LIMIT_EXCEEDED),
    C("elements-30000", lambda u: vendor_element(b"<v:x xmlns:v='urn:v'>" + b"<v:y/>" * 30_000 + b"</v:x>"),
      Code.XML_LIMIT_EXCEEDED),
    C("attachments-201", lambda u: edoc_bytes({f"cid:a{i}": b"%PDF-" for i in range(201)}), Code.XML_LIMIT_EXCEEDED),
    C("package-over-limit", lambda u: edoc_bytes({"cid:a": pdf_bytes(2 * MiB)}), Code.XML_LIMIT_EXCEEDED,
      {"max_package_bytes": MiB}),
    C("attachment-over-limit", lambda u: edoc_bytes({"cid:a": pdf_bytes(2 * MiB)}), Code.ATTACHMENT_TOO_LARGE,
      {"max_attachment_bytes": MiB}),
    # encoding
    C("invalid-utf8", lambda u: in_subject(b"C\xffng v\xc3n"), Code.XML_MALFORMED),
    C("overlong-utf8-lt", lambda u: in_subject(b"\xc0\xbc!DOCTYPE"), Code.XML_MALFORMED),
    C("utf8-surrogate", lambda u: in_subject(b"\xed\xa0\x80"), Code.XML_MALFORMED),
    C("utf16-bom", lambda u: SAMPLE.decode().replace("UTF-8", "UTF-16").encode("utf-16"), Code.XML_MALFORMED),
    C("declared-latin1", lambda u: SAMPLE.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1),
      Code.XML_MALFORMED),
    # namespaces and shape
    C("undeclared-prefix",
      lambda u: SAMPLE.replace(b"<edXML:Subject>", b"<foo:Subject>", 1).replace(b"</edXML:Subject>", b"</foo:Subject>", 1),
      Code.XML_MALFORMED),
    C("wrong-namespace", lambda u: SAMPLE.replace(NS, b"urn:evil:edxml"), Code.NOT_EDXML),
    C("root-without-namespace", lambda u: SAMPLE.replace(b' xmlns="' + NS + b'"', b"", 1), Code.NOT_EDXML),
    C("envelope-in-other-namespace",
      lambda u: SAMPLE.replace(b'xmlns:edXML="' + NS + b'"', b'xmlns:edXML="urn:other"', 1), Code.NOT_EDXML),
    C("not-edxml-root", lambda u: DECL + b"<html><body>edXML</body></html>", Code.NOT_EDXML),
    C("attachment-prefix-too-long-to-divert",
      lambda u: SAMPLE.replace(b"<ContentTransferEncoded>", b"<%s:ContentTransferEncoded xmlns:%s='%s'>" % (b"p" * 70, b"p" * 70, NS))
      .replace(b"</ContentTransferEncoded>", b"</%s:ContentTransferEncoded>" % (b"p" * 70)), Code.XML_MALFORMED),
    C("second-root-element", lambda u: SAMPLE + b"<edXML/>", Code.XML_MALFORMED),
    C("empty-file", lambda u: b"", Code.XML_MALFORMED),
    # truncated at several cut points
    C("cut-in-declaration", truncated(lambda d: 12), Code.XML_MALFORMED),
    C("cut-in-start-tag", truncated(lambda d: d.index(b"<edXML:Subject>") + 6), Code.XML_MALFORMED),
    C("cut-in-multibyte-char", truncated(lambda d: d.index("ệ".encode()) + 1), Code.XML_MALFORMED),
    C("cut-after-attachment-start", truncated(_b64_start), Code.XML_MALFORMED),
    C("cut-in-base64-aligned", truncated(lambda d: _b64_start(d) + 400), Code.XML_MALFORMED),
    C("cut-in-base64-unaligned", truncated(lambda d: _b64_start(d) + 401), Code.XML_MALFORMED),
    C("cut-in-attachment-end-tag", truncated(lambda d: d.index(b"</ContentTransferEncoded>") + 3), Code.XML_MALFORMED),
    C("cut-before-last-byte", truncated(lambda d: len(d.rstrip()) - 1), Code.XML_MALFORMED),
    # attachment data
    C("base64-alphabet", lambda u: with_attachment_text(b"JVBERi0x!!!*not base64*"), Code.ATTACHMENT_ENCODING),
    C("base64-length", lambda u: with_attachment_text(b"JVBERi0xLjQK" + b"QQ"), Code.ATTACHMENT_ENCODING),
    C("base64-after-padding", lambda u: with_attachment_text(b"QQ==QUJD"), Code.ATTACHMENT_ENCODING),
    C("base64-with-markup", lambda u: with_attachment_text(b"QUJD<b>QUJD</b>"), Code.ATTACHMENT_ENCODING),
    C("base64-with-entity", lambda u: with_attachment_text(b"QUJD&amp;QUJD"), Code.ATTACHMENT_ENCODING),
    C("base64-with-comment", lambda u: with_attachment_text(b"QUJD<!-- x -->QUJD"), Code.ATTACHMENT_ENCODING),
    C("base64-with-cdata", lambda u: with_attachment_text(b"<![CDATA[QUJD]]>"), Code.ATTACHMENT_ENCODING),
    C("base64-invalid-utf8", lambda u: with_attachment_text(b"QUJD\xff\xfeQUJD"), Code.ATTACHMENT_ENCODING),
    C("zip-bomb-1gib", lambda u: edoc_bytes({"cid:bomb": zip_bomb(1024 * MiB)}), Code.ATTACHMENT_TOO_LARGE),
    C("zip-ratio-bomb-64mib", lambda u: edoc_bytes({"cid:bomb": zip_bomb(64 * MiB)}), Code.ATTACHMENT_TOO_LARGE),
    C("zip-corrupt", lambda u: edoc_bytes({"cid:z": b"PK\x03\x04" + b"\x00" * 200}), Code.ATTACHMENT_ENCODING),
]


def probe_package(tmp_path: Path, data: bytes, limits: dict[str, int] | None = None) -> Outcome:
    path = tmp_path / "package.edxml"
    path.write_bytes(data)
    options: dict[str, Any] = {"today": TODAY.isoformat()}
    if limits:
        options["limits"] = limits
    return run_probe("package", str(path), json.dumps(options))


def assert_bounded(out: Outcome) -> None:
    assert out.peak_rss_mb < MAX_RSS_MB, f"peak RSS {out.peak_rss_mb:.0f} MB"
    assert out.seconds < MAX_SECONDS, f"took {out.seconds:.1f} s"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_package_gets_its_code(case: Case, tmp_path: Path, listener: Listener) -> None:
    out = probe_package(tmp_path, case.build(listener.url), case.limits)
    assert out.result["valid"] is False
    assert out.codes and set(out.codes) == {case.code.value}, out.result["messages"]
    assert out.result["parse"] == "PackageError"
    assert set(out.result["parse_codes"]) == {case.code.value}
    assert_bounded(out)


def test_sample_itself_is_valid_so_each_case_fails_for_its_own_reason(tmp_path: Path) -> None:
    out = probe_package(tmp_path, SAMPLE)
    assert out.result["valid"] is True, out.result["messages"]
    assert out.result["parse"] == "ok"
    assert_bounded(out)


def test_xinclude_and_schema_location_are_never_fetched(tmp_path: Path, listener: Listener) -> None:
    """Vendor extensions pass through, but nothing in them makes the hub reach the network."""
    data = vendor_element(
        b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="%s/xi.xml" parse="xml"/>' % listener.url.encode()
    ).replace(
        b' xmlns="' + NS + b'"',
        b' xmlns="' + NS + b'" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        b' xsi:schemaLocation="' + NS + b" " + listener.url.encode() + b'/edxml.xsd"',
        1,
    )
    out = probe_package(tmp_path, data)
    assert out.result["valid"] is True, out.result["messages"]
    assert_bounded(out)


def test_attachment_with_a_vietnamese_prefix_is_diverted_and_valid(tmp_path: Path) -> None:
    """Any XML name may prefix ContentTransferEncoded, including non-ASCII ones."""
    data = SAMPLE.replace(
        b"<ContentTransferEncoded>", f"<đ:ContentTransferEncoded xmlns:đ='{NS.decode()}'>".encode()
    ).replace(b"</ContentTransferEncoded>", "</đ:ContentTransferEncoded>".encode())
    out = probe_package(tmp_path, data)
    assert out.result["valid"] is True, out.result["messages"]
    assert_bounded(out)


def test_error_lines_point_into_the_package(tmp_path: Path) -> None:
    """The first error is reported, not what libxml2 said after it gave up (it used to say line 1)."""
    data = in_subject(b"&xxe;")
    line = data[: data.index(b"&xxe;")].count(b"\n") + 1
    report = validate_package(data)
    assert [f.line for f in report.errors] == [line]
    assert "xxe" in report.errors[0].message


# -- ZIPs whose declared sizes lie: the second guard is unwrap_zip's cap ---------------------------


def test_lying_zip_passes_the_declared_size_check(tmp_path: Path) -> None:
    """Why unwrap_zip must not trust the directory: this one claims 1000 bytes."""
    entries = inspect_zip(io.BytesIO(lying_zip(256 * MiB, declared=1000)), 200 * MiB, 200)
    assert [e.size for e in entries] == [1000]


def _probe_zip(tmp_path: Path, data: bytes, cap: int) -> Outcome:
    path = tmp_path / "payload.zip"
    path.write_bytes(data)
    return run_probe("unwrap_zip", str(path), str(cap))


def test_unwrap_zip_refuses_a_lying_directory_without_inflating(tmp_path: Path) -> None:
    out = _probe_zip(tmp_path, lying_zip(256 * MiB, declared=1000), 200 * MiB)
    assert out.result["outcome"] == "problem"
    assert out.codes == [Code.ATTACHMENT_ENCODING.value]  # size/CRC disagree with the directory
    assert_bounded(out)


def test_unwrap_zip_stops_at_its_cap(tmp_path: Path) -> None:
    out = _probe_zip(tmp_path, zip_bomb(1024 * MiB), 64 * MiB)
    assert out.result["outcome"] == "problem"
    assert out.codes == [Code.ATTACHMENT_TOO_LARGE.value]
    assert_bounded(out)


def test_unwrap_zip_under_its_cap_holds_one_copy(tmp_path: Path) -> None:
    """96 MiB inflated under a 100 MiB cap: one copy in memory, not a buffer plus its copy."""
    out = _probe_zip(tmp_path, zip_bomb(96 * MiB), 100 * MiB)
    assert out.result == {"outcome": "ok", "codes": [], "sizes": [96 * MiB]}
    assert_bounded(out)


def test_base64_of_a_zip_bomb_is_small(tmp_path: Path) -> None:
    """Sanity of the corpus itself: the 1 GiB bomb travels in about a megabyte and a half."""
    assert len(base64.b64encode(zip_bomb(1024 * MiB))) < 2 * MiB
