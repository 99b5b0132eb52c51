"""Two of pyhanko's hot spots done faster, each giving exactly what the original gives.

Why: with the certificate path cached (signing.chaincache), what remained of verifying a signed
1 MB PDF was mostly two loops that redo the same work for every document:

* **hex strings.** A PAdES signature's `/Contents` is a hex string of 8-30 KB, and pyhanko reads
  hex strings one byte at a time through two Python generators (`read_hex_string_from_stream` →
  `read_non_whitespace`): more than half of the remaining time.
* **name preparation.** Finding the signer's certificate and checking the signing-certificate
  attribute compare X.509 names, and asn1crypto prepares every value of both names by RFC 4518
  (stringprep, character by character) each time it meets a new Name object — i.e. for every
  document, for the same few issuer names.  `_ldap_string_prep` is a pure function of its
  string, so its results are memoised by string (bounded).

How the hex reading stays exact:
the fast path reads ahead to the closing `>` and takes the string only when
everything before it is hex digits or PDF whitespace — the case in which pyhanko's reader
returns the same bytes (whitespace dropped, an odd digit count padded with 0) and leaves the
stream just after the `>`.  Anything else (a comment inside the string, a stray character, no
closing `>` before the end) goes back to the start and through pyhanko's own function, so its
errors are pyhanko's errors.  The memo calls asn1crypto's own function for anything that is
not a string and does not keep failures (an exception is raised again each time).
tests/unit/test_speedups.py compares both with the originals.

Scoped, not installed for the process: `speedups()` swaps pyhanko's module function and
asn1crypto's method for the duration of a block (counted, so nested or concurrent blocks
restore the originals only when the last one leaves); direct pyhanko calls elsewhere — the
benchmark's baseline — stay pyhanko's.
"""

from __future__ import annotations

import binascii
import functools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from asn1crypto.x509 import NameTypeAndValue
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

_ORIGINAL = generic.read_hex_string_from_stream
_ORIGINAL_PREP = NameTypeAndValue._ldap_string_prep
_PLAIN_HEX = re.compile(rb"[0-9A-Fa-f \n\r\t\f\x00]*")
_CHUNK = 64 * 1024
_lock = threading.Lock()
_depth = 0


def read_hex_string(stream: IO[bytes]) -> Any:
    """Drop-in for `pyhanko.pdf_utils.generic.read_hex_string_from_stream` (stream at the `<`)."""
    start = stream.tell()
    first = stream.read(_CHUNK)
    chunks, found, before = [first], first.find(b">", 1), 0
    while found < 0:  # read on in chunks, joined once: linear however long the string
        more = stream.read(_CHUNK)
        if not more:
            break
        before += len(chunks[-1])
        chunks.append(more)
        found = more.find(b">")
    buf = b"".join(chunks)
    end = before + found if found >= 0 else -1
    body = buf[1:end] if end > 0 else b""
    if end < 0 or buf[:1] != b"<" or _PLAIN_HEX.fullmatch(body) is None:
        stream.seek(start)
        return _ORIGINAL(stream)
    digits = body.translate(None, PDF_WHITESPACE)
    if len(digits) % 2:
        digits += b"0"
    stream.seek(start + end + 1)
    return generic.pdf_string(binascii.unhexlify(digits))


@functools.lru_cache(maxsize=4096)
def _prepared(string: str) -> str:
    return _ORIGINAL_PREP(None, string)  # type: ignore[no-any-return]  # `self` is not used


def ldap_string_prep(self: NameTypeAndValue, string: object) -> Any:
    """Drop-in for `NameTypeAndValue._ldap_string_prep`, memoised by string."""
    if not isinstance(string, str):
        return _ORIGINAL_PREP(self, string)
    return _prepared(string)


@contextmanager
def speedups() -> Iterator[None]:
    """pyhanko reads hex strings with `read_hex_string` and asn1crypto prepares name values
    with `ldap_string_prep` inside this block."""
    global _depth  # noqa: PLW0603  # one swap of the library functions per process
    with _lock:
        _depth += 1
        generic.read_hex_string_from_stream = read_hex_string
        NameTypeAndValue._ldap_string_prep = ldap_string_prep
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                generic.read_hex_string_from_stream = _ORIGINAL
                NameTypeAndValue._ldap_string_prep = _ORIGINAL_PREP
