#!/usr/bin/env bash
# The test command of the README. Installs what it needs, then runs lint, types and tests.
#   scripts/test.sh            everything but the slow suites (what CI runs)
#   scripts/test.sh --slow     only the slow suites (crash/restart batches, big files)
#   scripts/test.sh -- ARGS    pass ARGS to pytest
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/ops-tools.sh"  # chromium, promtool and prometheus for the ops tests
cd "$ROOT"
marker="not slow"
if [ "${1:-}" = "--slow" ]; then marker="slow"; shift; fi
[ "${1:-}" = "--" ] && shift
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== pytest -m '$marker'"
set +e
.venv/bin/python -m pytest -m "$marker" "$@"
rc=$?
set -e
# pytest exits 5 when a marker selects nothing: not a failure of the code.
[ "$rc" -eq 5 ] && rc=0
exit "$rc"
