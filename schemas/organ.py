"""Organ identifiers (mã định danh) `LLL.KK.JJ.XNN`, level 1 on the right.

The code tells the level and a fallback parent; the directory is the authority for the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# ASCII digits and capitals only, to the very end (`\Z`, not `$`, which admits a final newline):
# `\d` would admit full-width and Arabic-Indic digits, look-alikes of a real organ's code.
STRICT = re.compile(r"^(?P<l4>[0-9]{3})\.(?P<l3>[0-9]{2})\.(?P<l2>[0-9]{2})\.(?P<l1>[A-Z][0-9]{2})\Z")
TOLERANT = re.compile(r"^(?P<l4>[0-9A-Z]{3})\.(?P<l3>[0-9A-Z]{2})\.(?P<l2>[0-9A-Z]{2})\.(?P<l1>[A-Z][0-9A-Z]{2})\Z")

#: Identifiers real traffic carries that are not codes of Decision 20 (domain.md §7.3): codes of
#: the pre-2020 three-group scheme (`01.02.G22`, level-1 group last, as today), and the ids the
#: national axis gives shared SaaS connectors (`vxp.saas.03`: lower-case ASCII words). Neither
#: tells a level or a parent; the directory routes them as codes it does not know.
LEGACY = re.compile(r"^(?P<l3>[0-9]{2})\.(?P<l2>[0-9]{2})\.(?P<l1>[A-Z][0-9]{2})\Z")
CONNECTOR = re.compile(r"^[a-z][a-z0-9]{1,15}(?:\.[a-z0-9]{1,16}){1,3}\Z")

Shape = Literal["strict", "tolerant"]
#: every shape an identifier can be recognised as; None: not an organ identifier at all
KnownShape = Literal["strict", "tolerant", "legacy", "connector"]
_ZERO = ("000", "00", "00")


class OrganIdError(ValueError):
    pass


def shape_of(text: str) -> KnownShape | None:
    """Which identifier shape `text` has (strict first), or None when it is none of them."""
    if STRICT.match(text):
        return "strict"
    if TOLERANT.match(text):
        return "tolerant"
    if LEGACY.match(text):
        return "legacy"
    if CONNECTOR.match(text):
        return "connector"
    return None


def level1_group(text: str) -> str | None:
    """The level-1 group (`H41`) of a code that has one (every shape but a connector id)."""
    shape = shape_of(text)
    return text[-3:] if shape is not None and shape != "connector" else None


@dataclass(frozen=True, slots=True)
class OrganId:
    """A parsed organ code. `groups` are (l4, l3, l2, l1) exactly as written."""

    code: str
    shape: Shape

    @classmethod
    def parse(cls, text: str, *, tolerant: bool = True) -> OrganId:
        if STRICT.match(text):
            return cls(text, "strict")
        if tolerant and TOLERANT.match(text):
            return cls(text, "tolerant")
        raise OrganIdError(f"{text!r} is not an organ code of the shape LLL.KK.JJ.XNN")

    @classmethod
    def is_valid(cls, text: str, *, tolerant: bool = True) -> bool:
        return bool(STRICT.match(text) or (tolerant and TOLERANT.match(text)))

    @property
    def groups(self) -> tuple[str, str, str, str]:
        l4, l3, l2, l1 = self.code.split(".")
        return l4, l3, l2, l1

    @property
    def level(self) -> int:
        """1 = ministry/province … 4 = unit: one plus the number of non-zero lower groups."""
        l4, l3, l2, _ = self.groups
        if l4 != "000":
            return 4
        if l3 != "00":
            return 3
        if l2 != "00":
            return 2
        return 1

    @property
    def parent(self) -> OrganId | None:
        """Zero the left-most non-zero group; a level-1 code is a root."""
        groups = list(self.groups)
        for i in range(3):
            if groups[i] != _ZERO[i]:
                groups[i] = _ZERO[i]
                return OrganId(".".join(groups), self.shape)
        return None

    @property
    def routing_key(self) -> str:
        """Level-1 first: `000.46.24.H44` → `H44.24.46.000`.

        With level 1 leading, "this organ and everything below it" is one topic pattern
        (`subtree_pattern`), which is what lets a system bind the subtrees it serves.
        """
        l4, l3, l2, l1 = self.groups
        return f"{l1}.{l2}.{l3}.{l4}"

    @property
    def subtree_pattern(self) -> str:
        """Topic pattern matching this organ and all its descendants (`H41.12.#`).

        The first `level` words of the routing key, then `#`; a level-4 code has no
        descendants, so its pattern is its key. Cutting at `level` (not at the first zero
        group) keeps level-skipping codes such as `001.00.99.H44` (level 4) from claiming
        their code-parent's whole subtree (`H44.99.#`).
        """
        words = self.routing_key.split(".")
        if self.level == 4:
            return self.routing_key
        return ".".join(words[: self.level]) + ".#"

    def ancestors(self) -> list[OrganId]:
        out: list[OrganId] = []
        node = self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out

    def __str__(self) -> str:
        return self.code
