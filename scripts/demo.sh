#!/usr/bin/env bash
# The demo command of the README: installs what it needs, then runs `lienthong demo`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec .venv/bin/lienthong --log-level WARNING demo "$@"
