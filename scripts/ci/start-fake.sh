#!/usr/bin/env bash
# Starts mock-server in the background on a free port and waits until it
# accepts connections (its --ready-file appears), then prints what tests need:
#
#   eval "$(scripts/ci/start-fake.sh)"                      # exports into this shell
#   scripts/ci/start-fake.sh --env-file "$GITHUB_ENV"      # GitHub Actions: later steps see them
#   scripts/ci/start-fake.sh --env-file fake.env -- --seed 7 --clock frozen   # extra mock-server flags
#
# Variables: NUMORA_FAKE_URL (the pytest plugin and the node helper attach to
# it instead of starting their own), NUMORA_BASE_URL, NUMORA_API_KEY,
# NUMORA_ORGANIZATION_URL, NUMORA_FAKE_PID.
# The binary is $NUMORA_FAKE_BIN, else mock-server on PATH. Its pid, log and
# ready file live in $NUMORA_FAKE_STATE_DIR (default: $RUNNER_TEMP or $TMPDIR,
# /numora-fake); scripts/ci/stop-fake.sh stops it. Waits at most
# $NUMORA_FAKE_START_TIMEOUT seconds (default 60).
set -euo pipefail

env_file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) env_file="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "start-fake.sh: unknown argument '$1' (mock-server flags go after --)" >&2; exit 2 ;;
  esac
done

bin="${NUMORA_FAKE_BIN:-}"
if [ -z "$bin" ]; then
  bin="$(command -v mock-server || true)"
  [ -n "$bin" ] || { echo "start-fake.sh: mock-server is not on PATH and NUMORA_FAKE_BIN is not set (run scripts/install-fake.sh)" >&2; exit 1; }
fi
[ -x "$bin" ] || { echo "start-fake.sh: NUMORA_FAKE_BIN=$bin is not an executable file" >&2; exit 1; }

state="${NUMORA_FAKE_STATE_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/numora-fake}"
mkdir -p "$state"
ready="$state/ready.json"
rm -f "$ready"
# In its own session where setsid exists, so the server outlives this script
# and the CI step that ran it without taking their signals.
launcher=()
if command -v setsid >/dev/null 2>&1; then launcher=(setsid); fi
"${launcher[@]}" "$bin" --port 0 --ready-file "$ready" "$@" </dev/null >"$state/server.log" 2>&1 &
pid=$!
echo "$pid" > "$state/pid"

timeout="${NUMORA_FAKE_START_TIMEOUT:-60}"
waited=0
until [ -s "$ready" ]; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start-fake.sh: mock-server exited before it was ready:" >&2
    cat "$state/server.log" >&2
    exit 1
  fi
  if [ "$waited" -ge $((timeout * 10)) ]; then
    echo "start-fake.sh: mock-server wrote no ready file within ${timeout}s" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
  fi
  sleep 0.1
  waited=$((waited + 1))
done

# The ready file is one line of compact JSON whose values hold no quotes, so
# sed reads it and CI images need no jq.
field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\1/" "$ready"; }
url="$(field url)"
vars="NUMORA_FAKE_URL=$url
NUMORA_BASE_URL=$url
NUMORA_API_KEY=$(field api_key)
NUMORA_ORGANIZATION_URL=$(field organization_url)
NUMORA_FAKE_PID=$pid"
echo "# mock-server $pid ready on $url (log: $state/server.log)" >&2
if [ -n "$env_file" ]; then
  echo "$vars" >> "$env_file"
else
  echo "$vars" | sed 's/^/export /'
fi
