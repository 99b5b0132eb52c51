"""A faster reading of PDF hex strings for pyhanko, giving exactly what pyhanko's own gives.

Why: a PAdES signature's `/Contents` is a hex string of 8-30 KB, and pyhanko reads hex strings
one byte at a time through two Python generators (`read_hex_string_from_stream` →
`read_non_whitespace`).  With the certificate path cached, that loop was more than half of the
remaining verification time of a signed 1 MB PDF.

How it stays exact: the fast path reads ahead to the closing `>` and takes the string only when
everything before it is hex digits or PDF whitespace — the case in which pyhanko's reader
returns the same bytes (whitespace dropped, an odd digit count padded with 0) and leaves the
stream just after the `>`.  Anything else (a comment inside the string, a stray character, no
closing `>` before the end) goes back to the start and through pyhanko's own function, so its
errors are pyhanko's errors.  tests/unit/test_pdfread.py compares both on such inputs.

Scoped, not installed for the process: `fast_hex_strings()` swaps pyhanko's module function for
the duration of a block (counted, so nested or concurrent blocks restore the original only when
the last one leaves); direct pyhanko calls elsewhere — the benchmark's baseline — stay pyhanko's.
"""

from __future__ import annotations

import binascii
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

_ORIGINAL = generic.read_hex_string_from_stream
_PLAIN_HEX = re.compile(rb"[0-9A-Fa-f \n\r\t\f\x00]*")
_CHUNK = 64 * 1024
_lock = threading.Lock()
_depth = 0


def read_hex_string(stream: IO[bytes]) -> Any:
    """Drop-in for `pyhanko.pdf_utils.generic.read_hex_string_from_stream` (stream at the `<`)."""
    start = stream.tell()
    buf = stream.read(_CHUNK)
    end = buf.find(b">", 1)
    while end < 0:
        more = stream.read(_CHUNK)
        if not more:
            break
        searched = len(buf)
        buf += more
        end = buf.find(b">", searched)
    body = buf[1:end] if end > 0 else b""
    if end < 0 or buf[:1] != b"<" or _PLAIN_HEX.fullmatch(body) is None:
        stream.seek(start)
        return _ORIGINAL(stream)
    digits = body.translate(None, PDF_WHITESPACE)
    if len(digits) % 2:
        digits += b"0"
    stream.seek(start + end + 1)
    return generic.pdf_string(binascii.unhexlify(digits))


@contextmanager
def fast_hex_strings() -> Iterator[None]:
    """pyhanko reads hex strings with `read_hex_string` inside this block."""
    global _depth  # noqa: PLW0603  # one swap of pyhanko's module function per process
    with _lock:
        _depth += 1
        generic.read_hex_string_from_stream = read_hex_string
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                generic.read_hex_string_from_stream = _ORIGINAL
