"""Thresholds, the office day and handling times: the province's rules, from an editable file."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any

import yaml

from schemas.organ import OrganId

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")


class RulesError(ValueError):
    """The rules file is unreadable or holds a value out of range."""


@dataclass(frozen=True, slots=True)
class Rules:
    late_threshold: float = 0.5
    unsigned_threshold: float = 0.2
    office_day_ends: time = time(17, 0)
    default_handling_days: int | None = None
    handling_days: dict[str, int] = field(default_factory=dict)  # organ subtree root → days
    #: document type (DocumentType/TypeName, compared by `type_key`) → days
    type_handling_days: dict[str, int] = field(default_factory=dict)

    def handling_days_for(self, organ: str, document_type: str | None = None) -> int | None:
        """The document type's handling time when one is configured (Decree 30 Art. 24: an
        agency sets it per kind of document — a Giấy mời is answered before the meeting, a Công
        văn within its own rule), else the most specific configured subtree containing `organ`,
        else the default."""
        if document_type is not None and type_key(document_type) in self.type_handling_days:
            return self.type_handling_days[type_key(document_type)]
        if organ in self.handling_days:
            return self.handling_days[organ]
        if OrganId.is_valid(organ):
            for ancestor in OrganId.parse(organ).ancestors():
                if ancestor.code in self.handling_days:
                    return self.handling_days[ancestor.code]
        return self.default_handling_days

    def with_thresholds(self, late: float | None, unsigned: float | None) -> Rules:
        for name, value in (("late", late), ("unsigned", unsigned)):
            if value is not None and not 0 <= value <= 1:
                raise RulesError(f"--{name}-threshold {value}: a share between 0 and 1 (0.5 = 50%)")
        return replace(self, late_threshold=self.late_threshold if late is None else late,
                       unsigned_threshold=self.unsigned_threshold if unsigned is None else unsigned)


def type_key(name: str) -> str:
    """How document type names are compared: NFC, case and spacing folded ("Công  văn",
    "CÔNG VĂN" and "công văn" are one type)."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def load_rules(path: str | Path = DEFAULT_RULES) -> Rules:
    try:
        data: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        thresholds = data.get("thresholds") or {}
        handling = data.get("handling_days") or {}
        hh, mm = str(data.get("office_day_ends", "17:00")).split(":")
        organs = {str(k): int(v) for k, v in (handling.get("organs") or {}).items()}
        types = {type_key(str(k)): int(v) for k, v in (handling.get("types") or {}).items()}
        default = handling.get("default")
        rules = Rules(float(thresholds.get("late_share", 0.5)), float(thresholds.get("unsigned_share", 0.2)),
                      time(int(hh), int(mm)), None if default is None else int(default), organs, types)
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError) as exc:
        raise RulesError(f"rules {path}: cannot read them ({type(exc).__name__}: check the format)") from exc
    for code in organs:
        if not OrganId.is_valid(code):
            raise RulesError(f"rules {path}: handling_days.organs: {code!r} is not an organ code")
    for days in (*organs.values(), *types.values()):
        if days < 0:
            raise RulesError(f"rules {path}: handling_days: {days} is not a number of working days")
    return rules.with_thresholds(None, None)
