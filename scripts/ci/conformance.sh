#!/usr/bin/env bash
# Runs a conformance command against the fake that scripts/ci/start-fake.sh
# started ($NUMORA_FAKE_URL) and writes a JUnit report for the CI to show:
#
#   scripts/ci/conformance.sh run               # the scenario library -> $NUMORA_REPORT_DIR/conformance.xml
#   scripts/ci/conformance.sh run --tag delivery
#   scripts/ci/conformance.sh audit             # verdicts on the default workspace -> audit.xml (exit 1 on an error finding)
#   scripts/ci/conformance.sh sweep -- python -m my_flow   # your client under every failure case -> sweep.xml
#
# The report folder is $NUMORA_REPORT_DIR (default: reports, created). The
# binary is $NUMORA_CONFORMANCE_BIN, else conformance on PATH. Exits with
# conformance's status (0 all passed, 1 a failure, 2 a usage error).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command="${1:-}"
[ -n "$command" ] || { echo "conformance.sh: name a command, e.g. run" >&2; exit 2; }
shift
[ -n "${NUMORA_FAKE_URL:-}" ] || { echo "conformance.sh: NUMORA_FAKE_URL is not set (run scripts/ci/start-fake.sh first)" >&2; exit 2; }
bin="${NUMORA_CONFORMANCE_BIN:-$(command -v conformance || true)}"
[ -n "$bin" ] && [ -x "$bin" ] || { echo "conformance.sh: conformance is not on PATH (run scripts/install-fake.sh)" >&2; exit 1; }
reports="${NUMORA_REPORT_DIR:-reports}"
mkdir -p "$reports"

case "$command" in
  run)
    exec "$bin" run --target "$NUMORA_FAKE_URL" --format junit --report "$reports/conformance.xml" "$@" "$repo/scenarios"
    ;;
  audit)
    exec "$bin" audit --target "$NUMORA_FAKE_URL" --fail-on error --format junit --report "$reports/audit.xml" "$@"
    ;;
  sweep)
    exec "$bin" sweep --target "$NUMORA_FAKE_URL" --format junit --report "$reports/sweep.xml" "$@"
    ;;
  *)
    echo "conformance.sh: unknown command '$command' (this script knows: run, audit, sweep)" >&2
    exit 2
    ;;
esac
