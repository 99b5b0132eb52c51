#!/usr/bin/env bash
# Creates .venv and installs lienthong with its dev tools; makes sure RabbitMQ and
# PostgreSQL answer on loopback (installs them with apt-get where missing).
# Sourced by scripts/demo.sh and scripts/test.sh so each Quick start command stands alone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "lienthong needs Python >= 3.11 (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || { apt-get update -qq && apt-get install -y -qq python3-venv && "$PY" -m venv .venv; }
fi
stamp=.venv/.lienthong-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
# The parser's hot modules compiled with mypyc (optional: without them, or while they are older
# than their sources, schemas/ runs interpreted, see schemas/__init__.py); rebuilt when a source
# changed, a no-op otherwise.
.venv/bin/python scripts/build_native.py --if-stale \
  || echo "warning: native build of schemas/ failed (build/native/build.log): running interpreted" >&2
bash "$ROOT/scripts/services.sh"
