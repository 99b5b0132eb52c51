#!/usr/bin/env bash
# The ops tools some tests drive for real: headless Chromium (the HTML report), promtool and
# prometheus (alert rules, the real scrape). Installed with apt-get where missing; idempotent,
# quiet when all is there. Never fails the set-up: a test that needs a missing tool skips, naming it.
set -uo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v promtool >/dev/null || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null || { echo "apt-get missing: install ${need[*]} by hand" >&2; exit 0; }
echo "installing ${need[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; } \
  || echo "could not install ${need[*]}: the tests that need them skip" >&2
exit 0
