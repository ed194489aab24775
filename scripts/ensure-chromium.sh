#!/usr/bin/env bash
# Installs Debian's Chromium for the explorer's browser test (test/integration/
# explorer-browser.test.ts drives /usr/bin/chromium with playwright-core). Does nothing when it is
# already there, so CI can run it on every build. Uses sudo only when not running as root.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

fail() {
  echo "ensure-chromium: $*; install Chromium so that /usr/bin/chromium exists (Debian/Ubuntu: apt-get install -y chromium)" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found (not a Debian-based system)"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  fail "not root and sudo is unavailable or asks for a password"
fi

echo "ensure-chromium: installing Debian's chromium with apt-get (about 125 MB to download)"
started=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() {
  # apt's progress output is long; it is shown only when a step fails.
  if ! ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "'$*' failed"
  fi
}
run apt-get update
run apt-get install -y --no-install-recommends chromium
[ -x /usr/bin/chromium ] || fail "the chromium package did not provide /usr/bin/chromium"
echo "ensure-chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1) installed in $(( $(date +%s) - started ))s"
