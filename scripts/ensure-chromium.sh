#!/usr/bin/env bash
# Installs Debian's Chromium (about 125 MB to download) for the explorer's browser test
# (test/integration/explorer-browser.test.ts drives /usr/bin/chromium with playwright-core). Does
# nothing when it is already there.
set -euo pipefail
exec bash "$(dirname "$0")/ensure-debian-package.sh" /usr/bin/chromium chromium "the explorer's browser test"
