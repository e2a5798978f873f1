#!/usr/bin/env bash
# Stops the mock-server that scripts/ci/start-fake.sh started (SIGTERM, then
# SIGKILL after 10 s) and prints the end of its log.
#   scripts/ci/stop-fake.sh
set -euo pipefail

state="${NUMORA_FAKE_STATE_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/numora-fake}"
[ -f "$state/pid" ] || { echo "stop-fake.sh: no $state/pid: nothing to stop" >&2; exit 0; }
pid="$(cat "$state/pid")"
if kill -TERM "$pid" 2>/dev/null; then
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop-fake.sh: mock-server $pid ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$state/pid"
echo "# mock-server $pid stopped; last lines of its log:" >&2
tail -n 5 "$state/server.log" >&2 || true
