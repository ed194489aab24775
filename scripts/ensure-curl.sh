#!/usr/bin/env bash
# Installs Debian's curl for the README's Quick tour test, which runs the README's curl commands as
# written. Does nothing when it is already there.
set -euo pipefail
exec bash "$(dirname "$0")/ensure-debian-package.sh" /usr/bin/curl curl "the README's Quick tour test"
