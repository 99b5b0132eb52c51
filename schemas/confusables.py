"""Text folded for policy matching: what a reader sees, not how it was spelled.

A secrecy marker written with a Cyrillic М, a zero-width space inside it, or full-width letters
looks like "MẬT" to a clerk and must be treated as one. Folding: NFKC (full-width and other
compatibility forms to their plain letters), invisible characters removed (format characters
such as zero-width spaces and joiners, the soft hyphen, the BOM), then Cyrillic and Greek letters
that look like Latin ones mapped to the Latin letter of the same case, then NFC so the
Vietnamese diacritics compose again. Case is kept: the marker rule is case-sensitive on purpose.
"""

from __future__ import annotations

import re
import unicodedata

#: Cyrillic and Greek letters whose glyphs are those of a Latin letter (same case).
_LOOKALIKES = str.maketrans({
    # Cyrillic capitals and small letters
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i", "ј": "j", "ѕ": "s",
    # Greek capitals and small letters
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ν": "v",
})


def _visible(ch: str) -> bool:
    return unicodedata.category(ch) != "Cf" and ch != "\u00ad"


#: Text made only of these needs no folding beyond NFKC: no format character (U+0000–U+036F
#: holds one, the soft hyphen U+00AD, excluded), no letter that is or decomposes to a Cyrillic or
#: Greek look-alike, and NFKC output is already composed. Vietnamese — Latin letters, combining
#: marks, Latin Extended Additional, common punctuation — always is; the rest takes the full fold.
_PLAIN = re.compile("[\x00-\u00ac\u00ae-\u036f\u1e00-\u1eff\u2010-\u2027\u2030-\u205f]*")


def fold(text: str) -> str:
    """`text` as a reader would read it, for matching policy patterns (never for forwarding)."""
    compat = unicodedata.normalize("NFKC", text)
    if _PLAIN.fullmatch(compat):
        return compat
    visible = "".join(ch for ch in compat if _visible(ch))
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", visible).translate(_LOOKALIKES))
