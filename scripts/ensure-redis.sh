#!/usr/bin/env bash
# Installs Debian's redis-server for the tests of state shared by replicas (budgets, APQ
# documents): test/helpers/redis-server.ts starts a private one per test file. Does nothing when it
# is already there.
set -euo pipefail
exec bash "$(dirname "$0")/ensure-debian-package.sh" /usr/bin/redis-server redis-server "the shared-state (Redis) tests"
