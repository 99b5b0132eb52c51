"""Run one schemas entry point on one file in a fresh interpreter; report outcome, peak RSS, time.

Memory can only be measured per process, and a hostile package must not be able to take the
test runner down with it. The child prints one JSON line; any exception other than the ones
the contract allows (a report from `validate_package`, `PackageError` from `parse_package`,
`PayloadProblem` from `unwrap_zip`) escapes, exits non-zero and fails the calling test.
Peak RSS is the kernel's high-water mark of the child's own address space (`VmHWM` in
/proc/self/status, read as the child's last act). Not `ru_maxrss`: Linux carries the parent's
high-water mark across fork/vfork+exec into the child's figure, so after one big test in the
pytest process every later child would report at least that.

    python -m tests.support.probe package FILE [OPTIONS_JSON]   # {"limits": {...}, "today": "2026-01-15"}
    python -m tests.support.probe unwrap_zip FILE CAP
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]
    peak_rss_mb: float
    seconds: float

    @property
    def codes(self) -> list[str]:
        return list(self.result.get("codes", []))


def run_probe(*args: str, timeout: float = 120.0) -> Outcome:
    """Run the probe with `args`; a child still running after `timeout` seconds is a failure."""
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.probe", *args],
        capture_output=True, cwd=ROOT, timeout=timeout, check=False,
    )
    seconds = time.monotonic() - start
    stderr = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise AssertionError(f"probe {args} exited {proc.returncode} after {seconds:.1f}s:\n{stderr[-4000:]}")
    lines = proc.stdout.decode().strip().splitlines()
    assert lines, f"probe {args} printed nothing:\n{stderr[-2000:]}"
    result = json.loads(lines[-1])
    return Outcome(result, result.pop("peak_rss_kb") / 1024, seconds)


def peak_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _package(path: str, options_json: str | None) -> dict[str, Any]:
    from schemas.findings import PackageError
    from schemas.parse import parse_package, validate_package
    from schemas.policy import ValidationOptions

    options = ValidationOptions.model_validate_json(options_json or "{}")
    with open(path, "rb") as fh:
        report = validate_package(fh, options)
    result: dict[str, Any] = {
        "valid": report.valid,
        "kind": report.kind,
        "codes": [f.code.value for f in report.errors],
        "warnings": [f.code.value for f in report.warnings],
        "messages": [f.message for f in report.findings][:5],
        "lines": [f.line for f in report.errors],
    }
    if report.parsed is not None:
        result["attachments"] = [
            {"size": a.meta.size, "sha256": a.meta.sha256, "type": a.meta.detected_type}
            for a in report.parsed.attachments
        ]
    with open(path, "rb") as fh:
        try:
            parse_package(fh, options)
            result["parse"] = "ok"
        except PackageError as exc:
            result["parse"] = "PackageError"
            result["parse_codes"] = [f.code.value for f in exc.findings]
    return result


def _unwrap_zip(path: str, cap: str) -> dict[str, Any]:
    from schemas.payload import PayloadProblem, unwrap_zip

    data = Path(path).read_bytes()
    try:
        entries = unwrap_zip(data, int(cap))
    except PayloadProblem as p:
        return {"outcome": "problem", "codes": [p.code.value], "message": p.en}
    return {"outcome": "ok", "codes": [], "sizes": [len(b) for _, b in entries]}


def main(argv: list[str]) -> None:
    mode, path, *rest = argv
    if mode == "package":
        result = _package(path, rest[0] if rest else None)
    elif mode == "unwrap_zip":
        result = _unwrap_zip(path, rest[0])
    else:
        raise SystemExit(f"unknown probe mode {mode!r}")
    result["peak_rss_kb"] = peak_rss_kb()
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
