"""What the hub does with a package's validation warnings (schemas/profiles.py): keeps them in
the ledger with the package, tells the recipient in `lt-warnings`, and hands their codes to the
outcome (`for_metrics`), from which the runtime's observer counts them per submitting system
(`lienthong_validation_warnings_total{system,code}`, a conformance figure ops can watch: both
labels are closed sets, the directory's systems and the reason codes).

Bounded everywhere: at most `MAX_WARNINGS` stored per package (messages are already clipped by
schemas.findings), and the header is cut at `envelope.WARNINGS_CHARS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.findings import Finding

MAX_WARNINGS = 20


def for_ledger(warnings: Sequence[Finding]) -> tuple[tuple[str, str, int | None, str], ...] | None:
    """(code, path, line, "vi / en") of the first `MAX_WARNINGS`; None when there are none."""
    return tuple((w.code.value, w.path, w.line, w.message) for w in warnings[:MAX_WARNINGS]) or None


def for_recipient(warnings: Sequence[Finding]) -> tuple[str, ...]:
    """`CODE path:line` each (`CODE path` without a line), for the `lt-warnings` header."""
    return tuple(f"{w.code.value} {w.path}" + (f":{w.line}" if w.line else "") for w in warnings)


def for_metrics(warnings: Sequence[Finding]) -> tuple[str, ...]:
    """The code of every warning (one per finding: two findings of a code count two)."""
    return tuple(w.code.value for w in warnings)
