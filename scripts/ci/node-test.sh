#!/usr/bin/env bash
# Runs node's built-in test runner on the given files or folders:
#
#   scripts/ci/node-test.sh test/               # your tests (import clients/node/index.mjs)
#
# Tests that call useFake()/startFake() start mock-server ($NUMORA_FAKE_BIN or
# PATH), or attach to $NUMORA_FAKE_URL (set by scripts/ci/start-fake.sh).
# Needs node 20 or newer. Exits with node --test's status.
set -euo pipefail

command -v node >/dev/null 2>&1 || { echo "node-test.sh: node 20+ is required" >&2; exit 1; }
major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || { echo "node-test.sh: node $(node --version) is too old: the helper needs node 20+" >&2; exit 1; }
[ $# -gt 0 ] || { echo "node-test.sh: name the test files or folders to run" >&2; exit 2; }
exec node --test "$@"
