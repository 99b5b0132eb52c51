"""Every admin action, allowed or refused, as one JSON line: when, who, what, which system,
the outcome. Each line carries the SHA-256 of the previous one, so a line removed or edited
later breaks the chain (`verify` names the first line that does not fit)."""

from __future__ import annotations

import fcntl
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def _digest(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, *, admin: str, action: str, system: str, outcome: str, detail: str = "") -> dict[str, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # two admins at once still make one chain
            f.seek(0)
            lines = f.read().splitlines()
            entry = {"at": datetime.now(UTC).isoformat(), "admin": admin, "action": action, "system": system,
                     "outcome": outcome, "detail": detail, "prev": _digest(lines[-1]) if lines else GENESIS}
            f.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        return entry

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()]

    def verify(self) -> int | None:
        """None when the chain holds, else the 1-based number of the first line that does not fit."""
        prev = GENESIS
        if not self.path.exists():
            return None
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if json.loads(line).get("prev") != prev:
                return n
            prev = _digest(line)
        return None
