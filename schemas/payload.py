"""Attachment payloads: decoded incrementally from base64 into a sink, never held as one string.

A caller (e.g. the router's claim-check store) may supply its own sink; the default spools to
memory up to a threshold and then to a temporary file.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import re
import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO, Protocol

from schemas.findings import Code

_WS = b" \t\r\n"
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_CHAR_REFS = re.compile(rb"&#(?:13|10|9|x[dDaA9]);")


class PayloadProblem(Exception):
    """Raised inside the reader; converted to a finding with the element's path."""

    def __init__(self, code: Code, vi: str, en: str) -> None:
        super().__init__(en)
        self.code, self.vi, self.en = code, vi, en


class PayloadWriter(Protocol):
    def write(self, data: bytes) -> object: ...


class AttachmentSink(Protocol):
    """Where decoded attachment bytes go. `open` is called once per attachment, in order."""

    def open(self, index: int) -> PayloadWriter: ...

    def finish(self, index: int, writer: PayloadWriter) -> IO[bytes] | None:
        """Return a readable handle positioned anywhere (or None if the sink keeps the bytes)."""
        ...


class SpoolSink:
    """Memory up to `spool_bytes`, then a temporary file: bounded RSS for 50 MB attachments."""

    def __init__(self, spool_bytes: int) -> None:
        self.spool_bytes = spool_bytes

    def open(self, index: int) -> PayloadWriter:
        return tempfile.SpooledTemporaryFile(max_size=self.spool_bytes, mode="w+b")

    def finish(self, index: int, writer: PayloadWriter) -> IO[bytes] | None:
        return writer  # type: ignore[return-value]


class Payload:
    """Decoded bytes of one attachment: `size` and `head` (its first 16 bytes) are known when
    reading ends, whichever reader produced it.

    The streaming reader decodes while it reads, measuring the digest on the way, into a spool
    or a caller's sink (`handle` None then: the sink keeps the bytes). The whole-bytes reader
    (schemas/wholeread.py) checks the base64 text completely (alphabet, padding, length, limit)
    but decodes it, and hashes the result, only when `read`, `open` or `sha256` first asks:
    validation needs neither, and decoding cost more than parsing the whole package."""

    __slots__ = ("_base64", "_handle", "_sha256", "_spool", "head", "size")

    def __init__(
        self, size: int, sha256: str | None, head: bytes, handle: IO[bytes] | None = None,
        *, base64: bytes | None = None, spool_bytes: int = 0,
    ) -> None:
        self.size = size
        self.head = head
        self._sha256 = sha256
        self._handle = handle
        #: checked base64 text (no whitespace) still to decode; None once decoded, or if streamed
        self._base64 = base64
        self._spool = spool_bytes

    def __repr__(self) -> str:
        return f"Payload(size={self.size}, head={self.head!r})"

    @property
    def stored(self) -> bool:
        """Whether the bytes can be read here (False: they went to a caller's sink)."""
        return self._handle is not None or self._base64 is not None

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._decode()
        assert self._sha256 is not None
        return self._sha256

    @property
    def handle(self) -> IO[bytes] | None:
        if self._base64 is not None:
            self._decode()
        return self._handle

    def _decode(self) -> None:
        """Decode the checked base64 (wholeread: strict decoding cannot fail here), spooled like
        the streaming reader's default sink would have."""
        assert self._base64 is not None
        raw = binascii.a2b_base64(self._base64, strict_mode=True)
        self._base64 = None
        self._sha256 = hashlib.sha256(raw).hexdigest()
        if len(raw) > self._spool:
            sink = SpoolSink(self._spool)
            writer = sink.open(0)
            writer.write(raw)
            self._handle = sink.finish(0, writer)
        else:
            self._handle = io.BytesIO(raw)

    def read(self) -> bytes:
        handle = self.handle
        if handle is None:
            raise RuntimeError("this payload was written to a caller-supplied sink")
        handle.seek(0)
        return handle.read()

    def open(self) -> IO[bytes]:
        handle = self.handle
        if handle is None:
            raise RuntimeError("this payload was written to a caller-supplied sink")
        handle.seek(0)
        return handle

    def close(self) -> None:
        """Release the spool (a temporary file for a big attachment). A payload not decoded yet
        holds no file: it keeps its text, so its digest can still be asked for."""
        if self._handle is not None:
            self._handle.close()

    @property
    def is_zip(self) -> bool:
        return self.head.startswith(b"PK\x03\x04")


class Base64Stream:
    """Incremental, strict base64 decoder writing to a sink, with size and digest."""

    def __init__(self, writer: PayloadWriter, max_bytes: int) -> None:
        self.writer = writer
        self.max_bytes = max_bytes
        self.carry = b""
        self.amp_carry = b""
        self.size = 0
        self.padded = False
        self.digest = hashlib.sha256()
        self.head = b""

    def feed(self, chunk: bytes) -> None:
        if self.amp_carry:
            chunk = self.amp_carry + chunk
            self.amp_carry = b""
        if b"&" in chunk:
            chunk = _CHAR_REFS.sub(b"", chunk)
            amp = chunk.rfind(b"&")
            if amp != -1:
                if len(chunk) - amp < 6 and b";" not in chunk[amp:]:
                    self.amp_carry = chunk[amp:]
                    chunk = chunk[:amp]
                if b"&" in chunk:
                    raise PayloadProblem(
                        Code.ATTACHMENT_ENCODING,
                        "Dữ liệu đính kèm chứa tham chiếu thực thể không hợp lệ",
                        "attachment data contains an entity reference that is not whitespace",
                    )
        clean = chunk.translate(None, _WS)
        if not clean:
            return
        if clean.translate(None, _B64 + b"="):
            raise PayloadProblem(
                Code.ATTACHMENT_ENCODING,
                "Dữ liệu đính kèm không phải base64 hợp lệ",
                "attachment data is not valid base64 (characters outside the alphabet)",
            )
        if self.padded:
            raise PayloadProblem(
                Code.ATTACHMENT_ENCODING,
                "Dữ liệu base64 tiếp tục sau ký tự đệm '='",
                "base64 data continues after '=' padding",
            )
        data = self.carry + clean
        if b"=" in data:
            self.padded = True
            cut = len(data)
        else:
            cut = len(data) - len(data) % 4
        self.carry = data[cut:]
        if cut:
            self._decode(data[:cut])

    def _decode(self, data: bytes) -> None:
        try:
            raw = binascii.a2b_base64(data, strict_mode=True)
        except binascii.Error as exc:
            raise PayloadProblem(
                Code.ATTACHMENT_ENCODING,
                "Dữ liệu base64 bị lỗi (độ dài hoặc ký tự đệm)",
                f"base64 data is corrupt ({exc})",
            ) from None
        self.size += len(raw)
        if self.size > self.max_bytes:
            raise PayloadProblem(
                Code.ATTACHMENT_TOO_LARGE,
                f"Tệp đính kèm vượt quá giới hạn {self.max_bytes} byte",
                f"attachment exceeds the limit of {self.max_bytes} bytes",
            )
        if len(self.head) < 16:
            self.head = (self.head + raw[:16])[:16]
        self.digest.update(raw)
        self.writer.write(raw)

    def close(self) -> None:
        if self.amp_carry:
            raise PayloadProblem(
                Code.ATTACHMENT_ENCODING, "Tham chiếu thực thể bị cắt cụt", "truncated entity reference"
            )
        if self.carry:
            if len(self.carry) % 4:
                raise PayloadProblem(
                    Code.ATTACHMENT_ENCODING,
                    "Độ dài dữ liệu base64 không phải bội số của 4",
                    "base64 data length is not a multiple of 4",
                )
            self._decode(self.carry)
            self.carry = b""


@dataclass(frozen=True)
class ZipEntry:
    name: str
    size: int
    compressed_size: int


def inspect_zip(handle: IO[bytes], max_unzipped: int, max_ratio: int) -> tuple[ZipEntry, ...]:
    """Read a ZIP's central directory and refuse bombs by declared size and ratio.

    Declared sizes can lie; `unwrap_zip` enforces the cap again while actually inflating.
    """
    try:
        with zipfile.ZipFile(handle) as zf:
            entries = tuple(ZipEntry(i.filename, i.file_size, i.compress_size) for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise PayloadProblem(
            Code.ATTACHMENT_ENCODING,
            "Tệp nén ZIP đính kèm bị hỏng",
            f"the attached ZIP archive is corrupt ({exc})",
        ) from None
    total = sum(e.size for e in entries)
    packed = sum(e.compressed_size for e in entries) or 1
    if total > max_unzipped or (total > 1024 * 1024 and total / packed > max_ratio):
        raise PayloadProblem(
            Code.ATTACHMENT_TOO_LARGE,
            f"Tệp ZIP đính kèm giải nén ra {total} byte (tỷ lệ {total // packed}:1), vượt giới hạn",
            f"attached ZIP expands to {total} bytes (ratio {total // packed}:1), over the limit",
        )
    return entries


def unwrap_zip(data: bytes, max_unzipped: int) -> list[tuple[str, bytes]]:
    """Inflate every entry with a hard cap on the bytes actually produced (bomb-safe)."""
    out: list[tuple[str, bytes]] = []
    produced = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                # BytesIO.getvalue() hands over its buffer; bytes(bytearray) would copy it, so an
                # entry just under the cap would briefly cost twice the cap.
                buf = io.BytesIO()
                with zf.open(info) as fh:
                    while chunk := fh.read(64 * 1024):
                        produced += len(chunk)
                        if produced > max_unzipped:
                            raise PayloadProblem(
                                Code.ATTACHMENT_TOO_LARGE,
                                "Tệp ZIP giải nén vượt giới hạn",
                                f"ZIP content exceeds {max_unzipped} bytes when inflated",
                            )
                        buf.write(chunk)
                out.append((info.filename, buf.getvalue()))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise PayloadProblem(
            Code.ATTACHMENT_ENCODING, "Tệp nén ZIP bị hỏng", f"corrupt ZIP archive ({exc})"
        ) from None
    return out


def detect_type(head: bytes) -> str:
    """A short, honest name for what the bytes are, whatever the declared ContentType says."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole2 (doc/xls)"
    if head[:5] in (b"<?xml", b"\xef\xbb\xbf<?x"):
        return "xml"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head.startswith(b"\x89PNG"):
        return "png"
    if not head:
        return "empty"
    return "unknown"
