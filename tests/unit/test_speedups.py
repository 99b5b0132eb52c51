"""signing.speedups gives what the originals give: every hex string read as pyhanko's own reader
does (same value, same stream position after it, pyhanko's error where pyhanko fails), every
name value prepared as asn1crypto does."""

from __future__ import annotations

import io
import random

import pytest
from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError

from signing.speedups import _CHUNK, _ORIGINAL, _ORIGINAL_PREP, ldap_string_prep, read_hex_string, speedups

pytestmark = pytest.mark.unit

CASES = [
    b"<>",
    b"<00>",
    b"<48656c6c6f>",
    b"<48656C6C6F>",
    b"<4 8 6\n5\r6c\t6c\x0c6f\x00>",
    b"<486>",  # odd: padded with 0
    b"<" + b"ab" * 40_000 + b">",  # longer than one read-ahead chunk
    b"<" + b"0" * 200_000 + b">",  # a zero-padded /Contents placeholder
    b"<" + b"a" * (_CHUNK - 1) + b">",  # the closing > first in the second read-ahead chunk
    b"<" + b"b" * (3 * _CHUNK + 5) + b">",
    b"<fe ff 00 41>",  # a UTF-16 text string
]
BAD = [
    b"<48 % a comment\n65>",  # pyhanko skips comments: handled by pyhanko itself
    b"<48zz>",
    b"<4865",  # never closed
    b"<" + b"ab" * 40_000,
]


def _read(fn: object, data: bytes, trailer: bytes = b" /Next 1") -> tuple[object, int]:
    stream = io.BytesIO(b"xx" + data + trailer)
    stream.seek(2)
    value = fn(stream)  # type: ignore[operator]
    return value, stream.tell()


@pytest.mark.parametrize("data", CASES + BAD[:1])
def test_same_value_and_position_as_pyhanko(data: bytes) -> None:
    fast, slow = _read(read_hex_string, data), _read(_ORIGINAL, data)
    assert fast == slow
    assert type(fast[0]) is type(slow[0])


@pytest.mark.parametrize("data", BAD[1:])
def test_pyhankos_error_where_pyhanko_fails(data: bytes) -> None:
    with pytest.raises(PdfStreamError):
        _read(_ORIGINAL, data, trailer=b"")
    with pytest.raises(PdfStreamError):
        _read(read_hex_string, data, trailer=b"")


def test_random_hex_strings_with_whitespace() -> None:
    rng = random.Random(12)
    for _ in range(300):
        chars = [rng.choice(b"0123456789abcdefABCDEF \n\r\t\x0c\x00") for _ in range(rng.randrange(0, 300))]
        data = b"<" + bytes(chars) + b">"
        assert _read(read_hex_string, data) == _read(_ORIGINAL, data)


NAMES = ["Ủy ban nhân dân tỉnh Nghệ An", "test Trung tâm CTĐT chuyên dùng Chính phủ", "  A\u00adB\tC  ", "", "x" * 300,
         "\u0301e", "ǅ", "ﬁ"]


@pytest.mark.parametrize("value", NAMES)
def test_name_values_prepared_as_asn1crypto_does(value: str) -> None:
    ntv = x509.Name.build({"common_name": value}).chosen[0][0]
    assert ldap_string_prep(ntv, value) == _ORIGINAL_PREP(ntv, value)
    assert ldap_string_prep(ntv, value) == _ORIGINAL_PREP(ntv, value)  # from the memo


def test_a_failure_is_raised_again_not_remembered() -> None:
    ntv = x509.Name.build({"common_name": "a"}).chosen[0][0]
    bad = "\u0627a\u0627"  # RFC 3454 bidi rule: RandALCat and LCat mixed
    with pytest.raises(ValueError):
        _ORIGINAL_PREP(ntv, bad)
    for _ in range(2):
        with pytest.raises(ValueError):
            ldap_string_prep(ntv, bad)


def test_names_compare_alike_inside_and_outside_the_block() -> None:
    a = x509.Name.build({"common_name": "Ủy ban nhân dân  tỉnh Nghệ An", "country_name": "VN"})
    b = x509.Name.build({"common_name": "ủy ban nhân dân tỉnh nghệ an", "country_name": "VN"})
    outside = a == b
    with speedups():
        inside = x509.Name.load(a.dump()) == x509.Name.load(b.dump())
    assert inside == outside


def test_swapped_only_inside_the_block_and_restored_after_nesting() -> None:
    assert generic.read_hex_string_from_stream is _ORIGINAL
    with speedups():
        with speedups():
            assert generic.read_hex_string_from_stream is read_hex_string
            assert x509.NameTypeAndValue._ldap_string_prep is ldap_string_prep
        assert generic.read_hex_string_from_stream is read_hex_string
    assert generic.read_hex_string_from_stream is _ORIGINAL
    assert x509.NameTypeAndValue._ldap_string_prep is _ORIGINAL_PREP
