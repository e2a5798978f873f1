#!/usr/bin/env bash
# Sweeps the two example n8n flows with `conformance sweep`: each flow runs
# headless (`n8n execute --id … --rawOutput`, twice per case, as its
# schedule would) in a fresh workspace of the fake per failure case, and the
# sweep judges what it left behind (the delivery contract, the fake's
# verdicts, and the expectations in dispatch-cases.yaml / executor-cases.yaml).
#
#   examples/n8n/run.sh                        # both flows, the cases below
#   examples/n8n/run.sh dispatch               # one flow
#   N8N_SWEEP_CASES=clean,supplier_miss examples/n8n/run.sh executor
#
# 1. Installs a pinned n8n from the npm registry into a cache folder outside
#    the repository (N8N_CACHE_DIR, default ~/.cache/numora-n8n), once.
# 2. Builds mock-server and conformance and starts the fake on a free port
#    (MOCK_SERVER_BIN and CONFORMANCE_BIN skip the build).
# 3. Imports both flows into a throw-away n8n user folder.
# 4. Runs `conformance sweep` per flow; reports (JUnit) land in
#    $N8N_SWEEP_REPORTS (default: target/n8n-sweep). Exits 0 only if every
#    case passed or was not applicable.
#
# Time: every catalog case that can happen to a flow (the lists below: 12
# dispatch cases, 14 executor cases), 2 runs each (--runs 2: the second run
# is the schedule's next tick, where a recovery is judged), one case at a
# time (--parallel 1: both flows share one n8n SQLite database, and a second
# n8n process would only compete for the cores). One `n8n execute` takes
# 5-15 s on a busy 2-core machine, plus the waits the flows do on wall time
# (the fake's retry-after: 2 s for the outbox, 5 s for Dataverse). Measured
# on a 2-core machine shared with other builds: the whole script in 7 min
# 50 s (load average 7, binaries prebuilt: dispatch 190 s, executor 270 s),
# 10 min 37 s (load 9) and 11 min 24 s (load 12: dispatch 244 s, executor
# 423 s), within the 15-minute budget. N8N_SWEEP_CASES picks fewer.
#
# Needs bash, curl, jq, node >= 20 with npm, and cargo (unless both *_BIN
# are set).
set -uo pipefail

N8N_VERSION="2.8.4"
# n8n 2.8.4 depends on xlsx through a tarball URL outside the npm registry;
# pin it to the registry release instead.
XLSX_VERSION="0.18.5"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

die() {
  echo "run.sh: $*" >&2
  exit 2
}

for tool in curl jq node npm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "node >= 20 is required (found $(node --version))"

# ---------------------------------------------------------------------------
# n8n, installed once into the cache
# ---------------------------------------------------------------------------

cache_dir="${N8N_CACHE_DIR:-$HOME/.cache/numora-n8n}"
prefix="$cache_dir/$N8N_VERSION"
n8n_bin="$prefix/node_modules/.bin/n8n"
stamp="$prefix/.installed"

install_n8n() {
  echo "# installing n8n $N8N_VERSION into $prefix (5 to 10 minutes and 2.3 GB, once)"
  mkdir -p "$prefix" || die "cannot create $prefix"
  cat >"$prefix/package.json" <<EOF
{
  "name": "numora-n8n-runner",
  "private": true,
  "description": "n8n for examples/n8n/run.sh of the Numora fake",
  "dependencies": { "n8n": "$N8N_VERSION" },
  "overrides": { "xlsx": "$XLSX_VERSION" }
}
EOF
  local started=$SECONDS
  # sqlite3 falls back to building from source when its prebuilt binary
  # (hosted outside the npm registry) cannot be fetched; point node-gyp at the
  # local node headers so it does not try to download them.
  local nodedir="${npm_config_nodedir:-}"
  if [ -z "$nodedir" ] && [ -f /usr/include/node/node.h ]; then
    nodedir=/usr
  fi
  if ! (cd "$prefix" && npm_config_nodedir="$nodedir" npm install \
    --no-audit --no-fund --loglevel=error >"$prefix/install.log" 2>&1); then
    tail -n 40 "$prefix/install.log" >&2
    die "npm install of n8n $N8N_VERSION failed (log: $prefix/install.log)"
  fi
  [ -x "$n8n_bin" ] || die "npm install finished but $n8n_bin is missing"
  echo "$N8N_VERSION" >"$stamp"
  echo "# n8n installed in $((SECONDS - started)) s ($(du -sh "$prefix" 2>/dev/null | cut -f1))"
}

if [ -x "$n8n_bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$N8N_VERSION" ]; then
  echo "# n8n $N8N_VERSION from $prefix"
else
  install_n8n
fi

# ---------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------

work="$(mktemp -d "${TMPDIR:-/tmp}/numora-n8n.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [ -z "${KEEP_WORKDIR:-}" ]; then
    rm -rf "$work"
  else
    echo "# work folder kept: $work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${MOCK_SERVER_BIN:-}" ] && [ -n "${CONFORMANCE_BIN:-}" ]; then
  bin="$MOCK_SERVER_BIN"
  conformance_bin="$CONFORMANCE_BIN"
else
  command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || die "cargo is required (or set MOCK_SERVER_BIN)"
  command -v cargo >/dev/null 2>&1 || PATH="$HOME/.cargo/bin:$PATH"
  target_dir="${CARGO_TARGET_DIR:-$repo/target}"
  case "$target_dir" in
    /*) ;;
    *) target_dir="$repo/$target_dir" ;;
  esac
  echo "# building mock-server and conformance"
  (cd "$repo" && CARGO_TARGET_DIR="$target_dir" cargo build --quiet -p mock-server -p conformance) || die "cargo build failed"
  bin="${MOCK_SERVER_BIN:-$target_dir/debug/mock-server}"
  conformance_bin="${CONFORMANCE_BIN:-$target_dir/debug/conformance}"
fi
[ -x "$bin" ] || die "no mock-server binary at $bin"
[ -x "$conformance_bin" ] || die "no conformance binary at $conformance_bin"

"$bin" --port 0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
first_line=""
for _ in $(seq 1 600); do
  first_line="$(head -n 1 "$work/server.out" 2>/dev/null)"
  case "$first_line" in
    "listening on "*) break ;;
  esac
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
case "$first_line" in
  "listening on http://127.0.0.1:"*) base="${first_line#listening on }" ;;
  *)
    cat "$work/server.err" >&2
    die "mock-server did not print 'listening on http://127.0.0.1:PORT' (got: $first_line)"
    ;;
esac
base="${base%%[[:space:]]*}"
echo "# mock-server at $base (pid $server_pid)"

# ---------------------------------------------------------------------------
# n8n: its own user folder, no telemetry or update checks (nothing leaves the
# machine but calls to the fake), flows imported once
# ---------------------------------------------------------------------------

# Every `n8n execute` listens on the task broker's port. A port the kernel
# hands out for outgoing connections (the ephemeral range, 32768 and up on
# Linux) can be taken by any client's connection in the minutes a sweep
# lasts, and n8n then exits at start ("port … is already in use"); so the
# ports come from below that range, free when picked.
free_port() {
  node -e '
    const net = require("net");
    const pick = () => {
      const port = 20000 + Math.floor(Math.random() * 12000);
      const s = net.createServer();
      s.once("error", pick);
      s.listen(port, "127.0.0.1", () => { console.log(port); s.close(); });
    };
    pick();'
}

export N8N_USER_FOLDER="$work/n8n"
export N8N_PORT="$(free_port)"
export N8N_RUNNERS_BROKER_PORT="$(free_port)"
export N8N_DIAGNOSTICS_ENABLED=false
export N8N_VERSION_NOTIFICATIONS_ENABLED=false
export N8N_TEMPLATES_ENABLED=false
export N8N_COMMUNITY_PACKAGES_ENABLED=false
export N8N_PERSONALIZATION_ENABLED=false
export N8N_HIRING_BANNER_ENABLED=false
export N8N_DYNAMIC_BANNERS_ENABLED=false
export N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED=false
export N8N_LICENSE_AUTO_RENEW_ENABLED=false
export N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=false
export N8N_BLOCK_ENV_ACCESS_IN_NODE=false
# `n8n execute` prints its result through the logger at level info.
export N8N_LOG_LEVEL=info
export N8N_LOG_OUTPUT=console
export N8N_NO_COLOR=true
export NO_COLOR=1
mkdir -p "$N8N_USER_FOLDER"

DISPATCH_ID="$(jq -r .id "$here/dispatch-mode.json")"
EXECUTOR_ID="$(jq -r .id "$here/external-executor.json")"

for flow in dispatch-mode external-executor; do
  if ! "$n8n_bin" import:workflow --input="$here/$flow.json" >"$work/import-$flow.log" 2>&1; then
    cat "$work/import-$flow.log" >&2
    die "n8n import:workflow failed for $flow.json"
  fi
done
echo "# imported $DISPATCH_ID (dispatch-mode.json) and $EXECUTOR_ID (external-executor.json)"

# ---------------------------------------------------------------------------
# The sweeps
# ---------------------------------------------------------------------------

# Every case pages through the outbox (2 documents a page).
export NUMORA_OUTBOX_LIMIT="${NUMORA_OUTBOX_LIMIT:-2}"
reports="${N8N_SWEEP_REPORTS:-$repo/target/n8n-sweep}"
mkdir -p "$reports"

# Every catalog case that can happen to the flow's mode (`conformance sweep
# --list`). Left out: the webhook cases (neither flow consumes webhooks, so
# they are not applicable) and, per flow, the other mode's cases (--mode
# skips them anyway). numora_5xx_result stays in the dispatch list although
# that flow never reads a result: it is reported not applicable.
DISPATCH_CASES="clean,numora_429_outbox,numora_5xx_result,dispatch_409,dataverse_429_invoice_create,dataverse_429_line_item,dataverse_500_line_item,supplier_miss,owner_team_missing,outbox_two_pages,slow_outbox,inactive_connection"
EXECUTOR_CASES="clean,numora_429_outbox,numora_5xx_result,dataverse_429_invoice_create,dataverse_429_line_item,dataverse_500_line_item,dataverse_token_expired_mid_run,supplier_miss,owner_team_missing,callback_response_lost,callback_connection_dropped,outbox_two_pages,slow_outbox,inactive_connection"

# sweep_flow MODE WORKFLOW_ID CASES_FILE CASES
sweep_flow() {
  local mode=$1 id=$2 cases_file=$3 only=$4
  echo
  echo "## $mode mode: $id"
  "$conformance_bin" sweep --target "$base" --mode "$mode" --cases "$here/$cases_file" \
    --only "${N8N_SWEEP_CASES:-$only}" --runs 2 --parallel 1 --timeout 10m \
    --format junit --report "$reports/sweep-$mode.xml" \
    -- "$n8n_bin" execute --id "$id" --rawOutput
}

selected=("$@")
[ "${#selected[@]}" -eq 0 ] && selected=(dispatch executor)
status=0
for flow in "${selected[@]}"; do
  case "$flow" in
    dispatch) sweep_flow dispatch "$DISPATCH_ID" dispatch-cases.yaml "$DISPATCH_CASES" || status=1 ;;
    executor) sweep_flow executor "$EXECUTOR_ID" executor-cases.yaml "$EXECUTOR_CASES" || status=1 ;;
    *) die "unknown flow \`$flow\` (dispatch or executor)" ;;
  esac
done
if [ "$status" -ne 0 ] && [ -s "$work/server.err" ]; then
  echo "# mock-server stderr (last lines):"
  tail -n 20 "$work/server.err"
fi
echo "# JUnit reports: $reports/sweep-*.xml"
exit "$status"
