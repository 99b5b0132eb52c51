"""Big attachments on real files: a 50 MB attachment parses (streamed, no `huge_tree`) with peak
RSS far under 200 MB, in the layouts real senders use, into the default spool or a caller's
sink; one over the attachment limit is refused early with bounded memory.

Packages are streamed to disk by the test (never held whole in memory, never committed), and
each parse runs in its own interpreter so the peak RSS is the kernel's figure for it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from schemas.findings import Code
from schemas.parse import parse_package
from schemas.payload import PayloadWriter
from tests.support.edxml_factory import (
    TODAY,
    VALIDATION,
    edoc_bytes,
    pdf_bytes,
    random_chunks,
    write_package_with_stream,
)
from tests.support.probe import MiB, Outcome, run_probe

pytestmark = pytest.mark.integration

MAX_RSS_MB = 200
MAX_SECONDS = 30
BIG = 50 * MiB


def digest_of(chunks: Iterator[bytes]) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.hexdigest()


def probe(path: Path) -> Outcome:
    out = run_probe("package", str(path), json.dumps({"today": TODAY.isoformat()}))
    assert out.peak_rss_mb < MAX_RSS_MB, f"peak RSS {out.peak_rss_mb:.0f} MB"
    assert out.seconds < MAX_SECONDS, f"took {out.seconds:.1f} s"
    return out


def wrapped(chunks: Iterator[bytes], width: int, eol: bytes) -> Iterator[bytes]:
    """Base64 text wrapped the way MIME encoders and .NET XmlWriter write it."""
    for chunk in chunks:  # each chunk is a multiple of 3 bytes but the last, so lines stay aligned
        text = base64.b64encode(chunk)
        yield b"".join(text[i : i + width] + eol for i in range(0, len(text), width))


@pytest.fixture(scope="module")
def big_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "50mb.edxml"
    write_package_with_stream(path, random_chunks(BIG))
    return path


def test_50_mb_attachment_passes_with_bounded_memory(big_package: Path) -> None:
    out = probe(big_package)
    assert out.result["valid"] is True, out.result["messages"]
    assert out.result["parse"] == "ok"
    assert out.result["attachments"] == [
        {"size": BIG, "sha256": digest_of(random_chunks(BIG)), "type": "unknown"}
    ]


@pytest.mark.parametrize(
    ("width", "eol"), [(76, b"\r\n"), (64, b"\n"), (76, b"&#xD;\n"), (76, b"&#13;&#10;")], ids=["crlf76", "lf64", "xD76", "refs76"]
)
def test_50_mb_attachment_in_line_wrapped_layouts(tmp_path: Path, width: int, eol: bytes) -> None:
    path = tmp_path / "wrapped.edxml"
    write_package_with_stream(path, wrapped(random_chunks(BIG), width, eol), raw_base64=True)
    out = probe(path)
    assert out.result["valid"] is True, out.result["messages"]
    assert out.result["attachments"][0]["sha256"] == digest_of(random_chunks(BIG))


def test_three_20_mb_attachments(tmp_path: Path) -> None:
    payloads = {f"cid:part-{i}": pdf_bytes(20 * MiB, seed=i) for i in range(3)}
    path = tmp_path / "three.edxml"
    path.write_bytes(edoc_bytes(payloads))
    del payloads
    out = probe(path)
    assert out.result["valid"] is True, out.result["messages"]
    assert [a["size"] for a in out.result["attachments"]] == [20 * MiB] * 3
    assert {a["type"] for a in out.result["attachments"]} == {"pdf"}


def test_attachment_over_the_limit_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "over.edxml"
    write_package_with_stream(path, random_chunks(120 * MiB))  # limit: 100 MiB decoded
    out = probe(path)
    assert out.result["valid"] is False
    assert out.codes == [Code.ATTACHMENT_TOO_LARGE.value]
    assert out.result["parse_codes"] == [Code.ATTACHMENT_TOO_LARGE.value]


class FileSink:
    """A claim-check style sink: each attachment goes straight to its own file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files: list[Path] = []

    def open(self, index: int) -> PayloadWriter:
        path = self.directory / f"attachment-{index}.bin"
        self.files.append(path)
        return path.open("wb")

    def finish(self, index: int, writer: PayloadWriter) -> IO[bytes] | None:
        writer.close()  # type: ignore[attr-defined]
        return None


def test_caller_sink_receives_the_decoded_bytes(big_package: Path, tmp_path: Path) -> None:
    sink = FileSink(tmp_path)
    with big_package.open("rb") as fh:
        parsed = parse_package(fh, VALIDATION, sink)
    assert [f.stat().st_size for f in sink.files] == [BIG]
    assert hashlib.sha256(sink.files[0].read_bytes()).hexdigest() == parsed.attachments[0].meta.sha256
    assert parsed.attachments[0].meta.sha256 == digest_of(random_chunks(BIG))
    assert parsed.size == big_package.stat().st_size


def test_odd_sized_chunks_give_the_same_result(big_package: Path) -> None:
    """The lexer's chunk-boundary carry: 65,537-byte chunks split every token somewhere."""

    def chunks() -> Iterator[bytes]:
        with big_package.open("rb") as fh:
            while block := fh.read(65_537):
                yield block

    parsed = parse_package(chunks(), VALIDATION)
    assert parsed.attachments[0].meta.sha256 == digest_of(random_chunks(BIG))
