"""Hardened reading of an edXML file into a small lxml tree plus streamed attachment payloads.

A byte-level pass in front of libxml2 diverts the text of every `ContentTransferEncoded` into an
incremental base64 decoder, so a 50 MB attachment never becomes a text node (no `huge_tree`),
while the newlines it contained are kept so every other element's `sourceline` stays true.
The same pass refuses DOCTYPE/ENTITY declarations outright and counts markup bytes, so a
20 MB header field is refused before libxml2 builds it. libxml2 itself runs with DTDs, entity
expansion and network access off, and its own depth/size limits on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

from lxml import etree

from schemas import walker
from schemas.findings import Code, Finding, PackageError, finding
from schemas.limits import ParseLimits
from schemas.payload import AttachmentSink, Base64Stream, Payload, PayloadProblem, SpoolSink

# A prefix is any XML name (UTF-8 bytes ≥ 0x80 included) up to 64 bytes; a longer one is not
# diverted, and the element/payload count check below refuses the package.
_TOKEN = re.compile(
    rb"<!--|<!\[CDATA\[|<\?|<!|<(?:[A-Za-z_\x80-\xff][\w.\-\x80-\xff]{0,63}:)?ContentTransferEncoded(?=[\s/>])"
)
_CTE = b"ContentTransferEncoded"


class _Tokens:
    """`_TOKEN.search(buf, pos)`, found with `bytes.find`: every token starts with `<!`, `<?` or
    is `<`, an optional prefix of at most 64 bytes, `ContentTransferEncoded`. The regex engine
    stopping at every `<` of the markup cost more than libxml2's parse of it. Where each literal
    next occurs is remembered, so a literal that does not occur again is not searched for again
    across the attachment text on every token (`pos` only moves forward within one buffer)."""

    __slots__ = ("buf", "next")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        #: literal → (searched from, found at or -1)
        self.next: dict[bytes, tuple[int, int]] = {}

    def _find(self, lit: bytes, pos: int) -> int:
        known = self.next.get(lit)
        if known is not None and known[0] <= pos and (known[1] == -1 or known[1] >= pos):
            return known[1]
        at = self.buf.find(lit, pos)
        self.next[lit] = (pos, at)
        return at

    def search(self, pos: int) -> re.Match[bytes] | None:
        buf = self.buf
        best = len(buf)
        for lit in (b"<!", b"<?"):
            at = self._find(lit, pos)
            if at != -1 and at < best:
                best = at
        at = self._find(_CTE, pos)
        while at != -1 and at - 1 < best:
            lt = buf.rfind(b"<", max(pos, at - 66), at)
            if lt != -1 and lt < best:
                m = _TOKEN.match(buf, lt)
                if m is not None and m.end() == at + len(_CTE):
                    best = lt
                    break
            at = self._find(_CTE, at + 1)
        return _TOKEN.match(buf, best) if best < len(buf) else None


_TAG_END = re.compile(rb"""(?:[^>"']|"[^"]*"|'[^']*')*?(/?)>""")
_CLOSERS = {b"<!--": b"-->", b"<![CDATA[": b"]]>", b"<?": b"?>"}
_CARRY = 128  # longest token we may see split across two chunks
CHUNK = 1024 * 1024
_HEAD = 256  # enough for the BOM and the XML declaration
_DECLARED_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml\s[^>]*?encoding\s*=\s*["']([^"']*)["']""")

ATTACHMENT_PATH = "/edXML/AttachmentEncoded/Attachment[{n}]/ContentTransferEncoded"


@dataclass
class RawDocument:
    """What the reader hands on: the tree (attachments removed), their payloads, the digest.

    The body's SHA-256 is computed while streaming a file or chunks; for bytes already in
    memory only when asked (`digest`): validation does not need it, and the hub has it already."""

    root: etree._Element
    payloads: list[Payload]
    payload_elements: list[etree._Element]
    known_digest: str | None
    size: int
    body: bytes | None = None

    @property
    def digest(self) -> str:
        if self.known_digest is None:
            assert self.body is not None
            self.known_digest = hashlib.sha256(self.body).hexdigest()
            self.body = None
        return self.known_digest

    def payload_of(self, element: etree._Element) -> Payload | None:
        for el, payload in zip(self.payload_elements, self.payloads, strict=True):
            if el is element:
                return payload
        return None


def _fail(code: Code, vi: str, en: str, *, path: str = "/", line: int | None = None) -> PackageError:
    return PackageError([finding(code, path, vi, en, line=line)])


class _Diverter:
    """Streams bytes to libxml2, diverting ContentTransferEncoded text to base64 decoders."""

    def __init__(self, limits: ParseLimits, sink: AttachmentSink, *, hash_body: bool = True) -> None:
        self.limits = limits
        self.sink = sink
        self.parser = etree.XMLParser(
            # "internal": no DTD can reach libxml2 (the lexer refuses every declaration), so only
            # the five predefined entities exist. With False, lxml's feed parser ignores an
            # undeclared `&x;` and silently restarts on the next chunk: a second document
            # appended after it would be validated instead of the bytes the recipients read.
            resolve_entities="internal",  # type: ignore[arg-type]  # lxml-stubs predate lxml 5
            # The lexer reads bytes as UTF-8; libxml2 must too, whatever the declaration says
            # (UTF-7 `+ADw-!DOCTYPE` would otherwise slip past the lexer).
            encoding="utf-8",
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            collect_ids=False,
        )
        self.buf = b""
        self.total = 0
        self.markup = 0
        #: None when the caller already knows the body's digest (hashed once, by whoever read it first)
        self.digest: Any = hashlib.sha256() if hash_body else None
        self.decoder: Base64Stream | None = None
        self.writer: object = None
        self.payloads: list[Payload] = []
        self.first = True
        self.head = b""
        self.line = 1  # line of the current position in the emitted stream, for messages

    # -- input side -------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        if self.first and chunk:
            self.head += chunk[: _HEAD - len(self.head)]
            if len(self.head) >= _HEAD or b">" in self.head:
                self._check_encoding(self.head)
                self.first = False
        self.total += len(chunk)
        if self.total > self.limits.max_package_bytes:
            raise _fail(
                Code.XML_LIMIT_EXCEEDED,
                f"Gói tin vượt quá {self.limits.max_package_bytes} byte",
                f"package exceeds {self.limits.max_package_bytes} bytes",
            )
        if self.digest is not None:
            self.digest.update(chunk)
        self.buf += chunk
        self._pump(final=False)

    def close(self) -> etree._Element:
        if self.first and self.head:
            self._check_encoding(self.head)
        self._pump(final=True)
        if self.decoder is not None:
            raise _fail(
                Code.XML_MALFORMED,
                "Tệp kết thúc giữa phần dữ liệu đính kèm (tệp bị cắt cụt)",
                "file ends inside attachment data (truncated file)",
                line=self.line,
            )
        try:
            root = self.parser.close()
        except etree.XMLSyntaxError as exc:
            raise _syntax_error(exc) from None
        return root

    @staticmethod
    def _check_encoding(head: bytes) -> None:
        """Refuse what is not UTF-8 with a clear message; a declared legacy encoding too, since a
        recipient honouring it would read other characters than the hub validated."""
        if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:4]:
            raise _fail(
                Code.XML_MALFORMED,
                "Gói tin phải mã hóa UTF-8 (phát hiện UTF-16/UTF-32)",
                "package must be UTF-8 encoded (UTF-16/UTF-32 detected)",
            )
        m = _DECLARED_ENCODING.match(head)
        if m is not None and m[1].lower() not in (b"utf-8", b"utf8"):
            declared = m[1].decode("ascii", "replace")
            raise _fail(
                Code.XML_MALFORMED,
                f"Gói tin phải mã hóa UTF-8 (khai báo encoding=\"{declared}\")",
                f"package must be UTF-8 encoded (declares encoding=\"{declared}\")",
                line=1,
            )

    # -- the state machine --------------------------------------------------------------------
    def _pump(self, *, final: bool) -> None:
        buf = self.buf
        pos = 0
        tokens = _Tokens(buf)
        while True:
            if self.decoder is not None:
                lt = buf.find(b"<", pos)
                end = lt if lt != -1 else len(buf)
                if end > pos:
                    self._divert(buf[pos:end])
                    pos = end
                if lt == -1:
                    break
                if buf[lt + 1 : lt + 2] == b"/":
                    self._end_divert()
                    continue
                if lt + 1 >= len(buf) and not final:
                    break
                raise _fail(
                    Code.ATTACHMENT_ENCODING,
                    "Trường ContentTransferEncoded chứa thẻ XML thay vì dữ liệu base64",
                    "ContentTransferEncoded contains markup instead of base64 text",
                    path=ATTACHMENT_PATH.format(n=len(self.payloads) + 1),
                    line=self.line,
                )
            m = tokens.search(pos)
            if m is None or (not final and m.start() > len(buf) - _CARRY and m.end() >= len(buf) - 1):
                safe = len(buf) if final else max(pos, len(buf) - _CARRY)
                if m is not None:
                    safe = min(safe, m.start())
                self._emit(buf[pos:safe])
                pos = safe
                break
            token = m.group()
            closer = _CLOSERS.get(token)
            if closer is not None:
                close = buf.find(closer, m.end())
                if close == -1:
                    self._emit(buf[pos : m.start()])
                    pos = m.start()
                    if final:
                        self._emit(buf[pos:])
                        pos = len(buf)
                    break
                self._emit(buf[pos : close + len(closer)])
                pos = close + len(closer)
                continue
            if token == b"<!":
                # libxml2 sees what precedes the declaration first, however the bytes were
                # chunked: an earlier syntax error wins the same way in every case.
                self._emit(buf[pos : m.start()])
                pos = m.start()
                if not final and len(buf) - m.start() < 16:
                    break
                word = buf[m.start() : m.start() + 10].split(b" ")[0].decode("ascii", "replace")
                raise _fail(
                    Code.XML_FORBIDDEN_CONSTRUCT,
                    f"Gói tin chứa khai báo {word} (DTD/thực thể) bị cấm",
                    f"package contains a forbidden {word} declaration (DTD/entities are refused)",
                    line=self.line,
                )
            # a ContentTransferEncoded start tag
            tag_end = _TAG_END.match(buf, m.end())
            if tag_end is None:
                if final:
                    self._emit(buf[pos:])
                    pos = len(buf)
                else:
                    self._emit(buf[pos : m.start()])
                    pos = m.start()
                break
            self._emit(buf[pos : tag_end.end()])
            pos = tag_end.end()
            self._start_divert()
            if tag_end.group(1) == b"/":
                self._end_divert()
        self.buf = buf[pos:]
        if final and self.buf:
            self._emit(self.buf)
            self.buf = b""
        elif self.decoder is None:
            # Held back while waiting for `-->`, `?>`, `]]>` or a start tag's `>`: markup all the
            # same. Unbounded, an unclosed comment grew the buffer (and its re-scans) to the
            # package limit before the markup limit was ever checked.
            self._check_markup(self.markup + len(self.buf))

    def _check_markup(self, size: int) -> None:
        if size > self.limits.max_markup_bytes:
            raise _fail(
                Code.XML_LIMIT_EXCEEDED,
                f"Phần XML (ngoài dữ liệu đính kèm) vượt quá {self.limits.max_markup_bytes} byte",
                f"XML markup outside attachment data exceeds {self.limits.max_markup_bytes} bytes",
                line=self.line,
            )

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        self.markup += len(data)
        self._check_markup(self.markup)
        self.line += data.count(b"\n")
        try:
            self.parser.feed(data)
        except etree.XMLSyntaxError as exc:
            raise _syntax_error(exc) from None

    def _start_divert(self) -> None:
        index = len(self.payloads)
        if index >= self.limits.max_attachments:
            raise _fail(
                Code.XML_LIMIT_EXCEEDED,
                f"Gói tin có quá {self.limits.max_attachments} tệp đính kèm",
                f"package has more than {self.limits.max_attachments} attachments",
            )
        self.writer = self.sink.open(index)
        self.decoder = Base64Stream(self.writer, self.limits.max_attachment_bytes)

    def _divert(self, data: bytes) -> None:
        assert self.decoder is not None
        try:
            self.decoder.feed(data)
        except PayloadProblem as p:
            raise self._payload_error(p) from None
        newlines = data.count(b"\n")
        if newlines:
            self._emit(b"\n" * newlines)

    def _end_divert(self) -> None:
        assert self.decoder is not None
        dec = self.decoder
        try:
            dec.close()
        except PayloadProblem as p:
            raise self._payload_error(p) from None
        handle = self.sink.finish(len(self.payloads), self.writer)  # type: ignore[arg-type]
        self.payloads.append(Payload(dec.size, dec.digest.hexdigest(), dec.head, handle))
        self.decoder = None
        self.writer = None

    def _payload_error(self, p: PayloadProblem) -> PackageError:
        return _fail(p.code, p.vi, p.en, path=ATTACHMENT_PATH.format(n=len(self.payloads) + 1), line=self.line)


def _syntax_error(exc: etree.XMLSyntaxError) -> PackageError:
    msg = str(exc.msg or exc)
    line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
    low = msg.lower()
    if "excessive depth" in low or "huge" in low or "limit" in low:
        return _fail(
            Code.XML_LIMIT_EXCEEDED,
            f"Vượt giới hạn của bộ phân tích XML: {msg}",
            f"XML parser limit exceeded: {msg}",
            line=line,
        )
    if "entity" in low and ("not defined" in low or "declared" in low):
        return _fail(
            Code.XML_FORBIDDEN_CONSTRUCT,
            f"Tham chiếu thực thể không được phép: {msg}",
            f"entity reference refused: {msg}",
            line=line,
        )
    return _fail(Code.XML_MALFORMED, f"XML không hợp lệ: {msg}", f"malformed XML: {msg}", line=line)


_DEPTH_CACHE: dict[int, etree.XPath] = {}
_COUNT = etree.XPath("count(//*)")


def _xpath_too_deep(root: etree._Element, max_depth: int) -> bool:
    """Whether an element lies deeper than `max_depth` (the root element at depth 1), by XPath."""
    xp = _DEPTH_CACHE.get(max_depth)
    if xp is None:
        xp = _DEPTH_CACHE[max_depth] = etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")
    return bool(xp(root))


_WALK = walker()
#: both readers' depth check: the C walk over libxml2's nodes (schemas/_walk.pyx, no proxy per
#: element) when the native build is current, the XPath otherwise
_too_deep: Callable[[etree._Element, int], bool] = _WALK.too_deep if _WALK else _xpath_too_deep


def read_document(
    source: bytes | IO[bytes] | Iterable[bytes],
    limits: ParseLimits | None = None,
    sink: AttachmentSink | None = None,
    digest: str | None = None,
) -> RawDocument:
    """Read bytes, a binary file or an iterable of chunks. Raises only `PackageError`.

    `digest`: the body's SHA-256 when the caller already computed it (the hub's runtime does,
    on arrival); the reader then does not hash the body a second time."""
    limits = limits or ParseLimits()
    whole = bytes(source) if isinstance(source, bytes | bytearray | memoryview) else None
    diverter = _Diverter(limits, sink or SpoolSink(limits.memory_spool_bytes),
                         hash_body=digest is None and whole is None)
    try:
        for chunk in _chunks(whole if whole is not None else source):
            diverter.feed(chunk)
        if diverter.total == 0:
            raise _fail(Code.XML_MALFORMED, "Tệp rỗng", "empty file")
        root = diverter.close()
    except PackageError:
        raise
    except RecursionError:
        raise _fail(Code.XML_LIMIT_EXCEEDED, "Lồng nhau quá sâu", "nesting too deep") from None
    except (etree.LxmlError, ValueError, UnicodeError) as exc:
        raise _fail(Code.XML_MALFORMED, f"XML không hợp lệ: {exc}", f"malformed XML: {exc}") from None
    if root is None:
        raise _fail(Code.XML_MALFORMED, "Không có phần tử gốc", "no root element")
    if root.getroottree().docinfo.doctype:  # type: ignore[attr-defined]
        raise _fail(Code.XML_FORBIDDEN_CONSTRUCT, "Gói tin chứa DOCTYPE", "package contains a DOCTYPE")
    if float(_COUNT(root)) > limits.max_elements:  # type: ignore[arg-type]
        raise _fail(
            Code.XML_LIMIT_EXCEEDED,
            f"Gói tin có hơn {limits.max_elements} phần tử",
            f"package has more than {limits.max_elements} elements",
        )
    if _too_deep(root, limits.max_depth):
        raise _fail(
            Code.XML_LIMIT_EXCEEDED,
            f"Cấu trúc XML lồng sâu hơn {limits.max_depth} cấp",
            f"XML nesting deeper than {limits.max_depth} levels",
        )
    elements = list(root.iter("{*}ContentTransferEncoded"))
    if len(elements) != len(diverter.payloads):  # the lexer and libxml2 disagree (a 65-byte prefix)
        raise _fail(
            Code.XML_MALFORMED,
            "Không xác định được vị trí dữ liệu đính kèm",
            "could not align attachment data with ContentTransferEncoded elements",
        )
    if digest is None and whole is None:
        digest = diverter.digest.hexdigest()
    return RawDocument(root, diverter.payloads, elements, digest, diverter.total,
                       whole if digest is None else None)


def _chunks(source: bytes | IO[bytes] | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        for i in range(0, len(data), CHUNK):
            yield data[i : i + CHUNK]
        return
    read = getattr(source, "read", None)
    if read is not None:
        while chunk := read(CHUNK):
            yield chunk
        return
    yield from source


__all__ = ["Finding", "RawDocument", "read_document"]
