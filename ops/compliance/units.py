"""Names and the tree of the units a report speaks of, given by the caller as plain data (the
directory's organs), with the organ code's own structure as the fallback for unknown codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from schemas.organ import OrganId


@dataclass(frozen=True, slots=True)
class Units:
    names: Mapping[str, str] = field(default_factory=dict)
    parents: Mapping[str, str | None] = field(default_factory=dict)

    def name(self, code: str) -> str:
        return self.names.get(code, code)

    def parent(self, code: str) -> str | None:
        if code in self.parents:
            return self.parents[code]
        if OrganId.is_valid(code):
            parent = OrganId.parse(code).parent
            return None if parent is None else parent.code
        return None

    def level(self, code: str) -> int | None:
        return OrganId.parse(code).level if OrganId.is_valid(code) else None

    def lineage(self, code: str) -> list[str]:
        """`code` then its ancestors up to the root (a cycle in bad data stops the walk)."""
        out, node = [code], self.parent(code)
        while node is not None and node not in out:
            out.append(node)
            node = self.parent(node)
        return out

    def within(self, code: str, root: str) -> bool:
        return root in self.lineage(code)

    def district(self, code: str) -> str:
        """The level-2 unit (a district, town, city or department) `code` belongs to; a level-1
        unit is its own. The bars of the report's chart are these."""
        for node in self.lineage(code):
            if self.level(node) == 2:
                return node
        return code
