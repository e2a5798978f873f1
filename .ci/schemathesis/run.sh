#!/usr/bin/env bash
# OpenAPI fuzzing of the Numora fake: runs a pinned Schemathesis against the
# fake's own /openapi.json with the default API key and fails on any finding.
#
#   .ci/schemathesis/run.sh                 # the CI run (fixed seed, bounded)
#   .ci/schemathesis/run.sh --max-examples 200 --seed 7   # extra schemathesis options
#
# 1. Creates a Python venv in a cache folder outside the repository
#    (SCHEMATHESIS_VENV, default ~/.cache/numora-schemathesis) and installs the
#    pinned Schemathesis into it, once.
# 2. Builds mock-server (honours CARGO_TARGET_DIR; MOCK_SERVER_BIN skips the
#    build) and starts it on a free loopback port (--port 0) with the
#    embedded default world and a fixed id seed.
# 3. Runs `schemathesis run` on /v1 only (the /_mock control API is not in
#    the document) with the checks below, a fixed seed, one worker and a
#    bounded number of examples, so a run is repeatable and takes about a
#    minute. A JUnit report goes to SCHEMATHESIS_REPORT_DIR (default
#    ${TMPDIR:-/tmp}/numora-schemathesis-report).
# 4. Stops the fake on exit.
#
# Needs bash, python3 (>= 3.10, with venv), curl and cargo (unless
# MOCK_SERVER_BIN is set). Exits 0 only if Schemathesis found nothing.
set -euo pipefail

SCHEMATHESIS_VERSION="4.32.5"
SEED="${SCHEMATHESIS_SEED:-20260324}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
API_KEY="sk_test_numora_mock_default"
CHECKS="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth,negative_data_rejection,positive_data_acceptance,missing_required_header,unsupported_method,allow_header_conformance,use_after_free,ensure_resource_availability"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

log() { echo "# $*" >&2; }
die() {
  echo "schemathesis/run.sh: $*" >&2
  exit 1
}

command -v python3 >/dev/null 2>&1 || die "python3 is required"
command -v curl >/dev/null 2>&1 || die "curl is required"

# ---------------------------------------------------------------------------
# Schemathesis, installed once into the cache
# ---------------------------------------------------------------------------

venv="${SCHEMATHESIS_VENV:-$HOME/.cache/numora-schemathesis}"
st="$venv/bin/schemathesis"
if ! [ -x "$st" ] || [ "$("$st" --version 2>/dev/null || true)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv" || die "cannot create a venv in $venv (python3-venv missing?)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" || die "pip install schemathesis==$SCHEMATHESIS_VERSION failed"
fi
"$st" --version

# ---------------------------------------------------------------------------
# The fake, on a free port
# ---------------------------------------------------------------------------

if [ -n "${MOCK_SERVER_BIN:-}" ]; then
  bin="$MOCK_SERVER_BIN"
else
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo is required (or set MOCK_SERVER_BIN)"
  log "building mock-server"
  (cd "$repo" && cargo build --quiet -p mock-server) || die "cargo build -p mock-server failed"
  target_dir="${CARGO_TARGET_DIR:-$repo/target}"
  case "$target_dir" in
    /*) ;;
    *) target_dir="$repo/$target_dir" ;;
  esac
  bin="$target_dir/debug/mock-server"
fi
[ -x "$bin" ] || die "no mock-server binary at $bin"

work="$(mktemp -d "${TMPDIR:-/tmp}/numora-schemathesis.XXXXXX")"
server_pid=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$bin" --port 0 --host 127.0.0.1 --seed 7 \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

base=""
for _ in $(seq 1 100); do
  line="$(head -n 1 "$work/server.out" 2>/dev/null || true)"
  if [[ "$line" =~ ^listening\ on\ (http://127\.0\.0\.1:[0-9]+)$ ]]; then
    base="${BASH_REMATCH[1]}"
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || {
    cat "$work/server.err" >&2
    die "mock-server exited before listening"
  }
  sleep 0.1
done
[ -n "$base" ] || die "mock-server did not print 'listening on http://127.0.0.1:PORT' within 10 s"
log "mock-server listening on $base (pid $server_pid)"
curl -fsS -o /dev/null "$base/openapi.json" || die "$base/openapi.json is not served"

# ---------------------------------------------------------------------------
# Schemathesis
# ---------------------------------------------------------------------------

report_dir="${SCHEMATHESIS_REPORT_DIR:-${TMPDIR:-/tmp}/numora-schemathesis-report}"
mkdir -p "$report_dir"

# No telemetry, no colour codes in CI logs, no hypothesis database in the repo.
export SCHEMATHESIS_TELEMETRY=false
export NO_COLOR=1
export SCHEMATHESIS_HOOKS="$here/hooks.py"

set +e
(cd "$work" && "$st" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $API_KEY" \
  --include-path-regex '^/v1/' \
  --checks "$CHECKS" \
  --seed "$SEED" \
  --max-examples "$MAX_EXAMPLES" \
  --workers 1 \
  --generation-database none \
  --request-timeout 10 \
  --report junit --report-dir "$report_dir" \
  "$@")
status=$?
set -e

if [ "$status" -ne 0 ]; then
  echo "schemathesis/run.sh: Schemathesis reported findings (exit $status); reports in $report_dir" >&2
  if [ -s "$work/server.err" ]; then
    echo "--- mock-server stderr (last 40 lines)" >&2
    tail -n 40 "$work/server.err" >&2
  fi
fi
exit "$status"
