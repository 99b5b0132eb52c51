"""The whole-bytes reader: a package already in memory, read in one pass, or not at all.

`schemas/reader.py` streams: it feeds libxml2 piece by piece, decodes every attachment while
reading and handles every construct and every chunking, and it is the authority on what a
package *is*. Most packages reach the hub as one body of bytes with none of the rare
constructs, and for those the streaming machinery cost more than libxml2 itself. This reader
takes such a body, finds each `ContentTransferEncoded` start tag the way the lexer does (the
same token regex, the same search window), hands libxml2 the markup in one piece with the
attachment text replaced by its newlines (so every `sourceline` is the same), and checks the
attachment text completely but without decoding it: alphabet, padding and length, with
`bytes.translate` at C speed, and the size limit by arithmetic. The bytes are decoded, and
hashed, when first used (`schemas.payload.Payload`).

It answers None whenever anything is not plain: a `<!` anywhere (comment, CDATA, DOCTYPE), a
processing instruction other than the XML declaration, an `&` in attachment text, base64 the
strict decoder would have to judge, any limit reached, any error from libxml2. The streaming
reader then reads the same bytes and gives its answer and its finding, so every refusal, path,
line and message stays exactly what it was; what this reader accepts, it reads to the same tree
and the same payload sizes, heads and digests (tests/unit/test_schemas_wholeread.py).
"""

from __future__ import annotations

import binascii
import hashlib
import threading
from collections.abc import Iterable
from typing import IO

from lxml import etree

from schemas.findings import PackageError
from schemas.limits import ParseLimits
from schemas.payload import AttachmentSink, Payload
from schemas.reader import _CTE, _HEAD, _TAG_END, _TOKEN, CHUNK, RawDocument, _Diverter, _too_deep, read_document

_WS = b" \t\r\n"
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BOM = b"\xef\xbb\xbf"
_CTE_NS = "{*}ContentTransferEncoded"


def read(
    source: bytes | IO[bytes] | Iterable[bytes],
    limits: ParseLimits | None = None,
    sink: AttachmentSink | None = None,
    digest: str | None = None,
) -> RawDocument:
    """`read_document`'s contract (raises only `PackageError`), the whole-bytes road first."""
    limits = limits or ParseLimits()
    if isinstance(source, bytes):
        doc = read_whole(source, limits, sink, digest)
        if doc is not None:
            return doc
    return read_document(source, limits, sink, digest)


def read_whole(data: bytes, limits: ParseLimits, sink: AttachmentSink | None, digest: str | None) -> RawDocument | None:
    """The document, or None: the streaming reader must decide (module docstring)."""
    if not data or len(data) > min(CHUNK, limits.max_package_bytes):
        return None
    try:
        _Diverter._check_encoding(data[:_HEAD])
    except PackageError:
        return None
    start = _declaration_end(data)
    if start is None:
        return None
    pieces: list[bytes] = []
    texts: list[tuple[bytes, int]] = []  # (checked base64 without whitespace, decoded size)
    # `lexed`: where the streaming lexer would stand (its search window's lower bound);
    # `pos`: where the next `ContentTransferEncoded` is looked for
    emitted, lexed, pos = 0, start, start
    while (at := data.find(_CTE, pos)) != -1:
        lt = data.rfind(b"<", max(lexed, at - 66), at)
        m = _TOKEN.match(data, lt) if lt != -1 else None
        if m is None or m.end() != at + len(_CTE):
            pos = at + 1  # an end tag, or the word in text or in an attribute
            continue
        tag_end = _TAG_END.match(data, m.end())
        if tag_end is None or len(texts) >= limits.max_attachments:
            return None
        lexed = pos = tag_end.end()
        if tag_end.group(1) == b"/":
            texts.append((b"", 0))
            continue
        close = data.find(b"<", pos)
        if close == -1 or data[close + 1 : close + 2] != b"/":
            return None
        checked = _check_base64(data[pos:close], limits.max_attachment_bytes)
        if checked is None:
            return None
        clean, size, newlines = checked
        texts.append((clean, size))
        pieces += (data[emitted:pos], b"\n" * newlines)
        emitted = lexed = pos = close
    pieces.append(data[emitted:])
    markup = b"".join(pieces)
    # Every `<` is in the markup (attachment text ends at the first one), so `<!` and `<?` are
    # looked for there, not across the attachments. An element takes 4 bytes at least (`<a/>`).
    if (len(markup) > limits.max_markup_bytes or _declaration_in(markup, start)
            or (len(markup) > 4 * limits.max_elements and markup.count(b"<") > limits.max_elements)):
        return None
    root = _parse(markup)
    if root is None or _too_deep(root, limits.max_depth):
        return None
    elements = list(root.iter(_CTE_NS))
    if len(elements) != len(texts):
        return None
    payloads = [_payload(i, clean, size, limits, sink) for i, (clean, size) in enumerate(texts)]
    return RawDocument(root, payloads, elements, digest, len(data), data if digest is None else None)


def _declaration_end(data: bytes) -> int | None:
    """Where scanning starts: after the XML declaration, if the body opens with one (any other
    `<?` sends the body to the streaming reader, see `read_whole`)."""
    at = 3 if data.startswith(_BOM) else 0
    if data[at : at + 2] != b"<?":
        return 0
    end = data.find(b"?>", at, at + _HEAD)
    return None if end == -1 else end + 2


def _check_base64(text: bytes, max_bytes: int) -> tuple[bytes, int, int] | None:
    """(text without whitespace, decoded size, newlines) when the text is canonical base64 that
    the streaming decoder accepts as it is: alphabet and whitespace only, a length that is a
    multiple of 4, at most two `=` and only at the end, within `max_bytes`. None otherwise."""
    rest = text.translate(None, _ALPHABET)
    clean = text
    pads = 0
    if rest:
        if rest.translate(None, _WS + b"="):
            return None
        pads = rest.count(b"=")
        if len(rest) > pads:
            clean = text.translate(None, _WS)
    n = len(clean)
    if n % 4 or pads > 2 or (pads and not clean.endswith(b"=" * pads)):
        return None
    size = n // 4 * 3 - pads
    if size > max_bytes:
        return None
    return clean, size, rest.count(b"\n")


def _declaration_in(markup: bytes, start: int) -> bool:
    """Whether `<!` or `<?` occurs from `start`: two `bytes.find` (memchr-fast; a regex for `<[!?]`
    took 6 µs of a 4 KB markup, these ~1 µs)."""
    return markup.find(b"<!", start) != -1 or markup.find(b"<?", start) != -1


_LOCAL = threading.local()  # not a subclass: compiled by mypyc, a threading.local subclass crashes


def _parser() -> etree.XMLParser:
    """One parser per thread, made once: a new parser costs a libxml2 parser context on its
    first use (~2.5 µs of a ~20 µs parse). lxml resets its error log on every parse."""
    parser: etree.XMLParser | None = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = etree.XMLParser(  # the streaming reader's options, see there why
            resolve_entities="internal",  # type: ignore[arg-type]  # lxml-stubs predate lxml 5
            encoding="utf-8", no_network=True, load_dtd=False, dtd_validation=False,
            huge_tree=False, collect_ids=False,
        )
    return parser


def _parse(markup: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(markup, _parser())
    except (etree.LxmlError, ValueError, UnicodeError, RecursionError):
        return None


def _payload(index: int, clean: bytes, size: int, limits: ParseLimits, sink: AttachmentSink | None) -> Payload:
    head = binascii.a2b_base64(clean[:24], strict_mode=True)[:16]
    if sink is None:
        return Payload(size, None, head, base64=clean, spool_bytes=limits.memory_spool_bytes)
    raw = binascii.a2b_base64(clean, strict_mode=True)  # a caller's sink gets the bytes now
    writer = sink.open(index)
    if raw:
        writer.write(raw)
    return Payload(size, hashlib.sha256(raw).hexdigest(), head, sink.finish(index, writer))
