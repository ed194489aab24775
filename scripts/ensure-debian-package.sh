#!/usr/bin/env bash
# ensure-debian-package.sh FILE PACKAGE WHY: installs Debian's PACKAGE with apt-get unless FILE
# (the program a test needs) is already there, so CI can run it on every build. Uses sudo only
# when not running as root. WHY names what needs it, for the messages.
set -euo pipefail

file=$1
package=$2
why=$3

if [ -x "$file" ]; then
  exit 0
fi

fail() {
  echo "ensure-debian-package: $*; install $package so that $file exists (Debian/Ubuntu: apt-get install -y $package)" >&2
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

echo "ensure-debian-package: installing Debian's $package with apt-get, for $why"
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
run apt-get install -y --no-install-recommends "$package"
[ -x "$file" ] || fail "the $package package did not provide $file"
echo "ensure-debian-package: $package installed in $(( $(date +%s) - started ))s"
