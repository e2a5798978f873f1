#!/usr/bin/env bash
# Runs the two example n8n flows headless against the Numora fake and checks
# what they did through the fake's control API.
#
#   examples/n8n/run.sh                     # every scenario
#   examples/n8n/run.sh external/clean ...  # only the named scenarios
#
# 1. Installs a pinned n8n from the npm registry into a cache folder outside
#    the repository (N8N_CACHE_DIR, default ~/.cache/numora-n8n), once.
# 2. Builds and starts mock-server on a free port (MOCK_SERVER_BIN skips the
#    build).
# 3. Imports dispatch-mode.json and external-executor.json into a throw-away
#    n8n user folder and runs them with `n8n execute --id … --rawOutput`,
#    each scenario in a fresh workspace of the fake: clean, and under a
#    Dataverse 429 on create, a 409 on dispatch and a supplier miss.
# 4. Checks rows in Dataverse, recorded delivery attempts, statuses and the
#    request journal, and ends with the line "N passed, N failed".
#
# Needs bash, curl, jq, node >= 20 with npm, and cargo (unless
# MOCK_SERVER_BIN is set). Exits 0 only if every check passed.
set -uo pipefail

N8N_VERSION="2.8.4"
# n8n 2.8.4 depends on xlsx through a tarball URL outside the npm registry;
# pin it to the registry release instead.
XLSX_VERSION="0.18.5"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

pass=0
fail=0

# A setup failure still ends with the summary line.
die() {
  echo "run.sh: $*" >&2
  echo "$pass passed, $((fail + 1)) failed"
  exit 1
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

if [ -n "${MOCK_SERVER_BIN:-}" ]; then
  bin="$MOCK_SERVER_BIN"
else
  command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || die "cargo is required (or set MOCK_SERVER_BIN)"
  command -v cargo >/dev/null 2>&1 || PATH="$HOME/.cargo/bin:$PATH"
  target_dir="${CARGO_TARGET_DIR:-$repo/target}"
  case "$target_dir" in
    /*) ;;
    *) target_dir="$repo/$target_dir" ;;
  esac
  echo "# building mock-server"
  (cd "$repo" && CARGO_TARGET_DIR="$target_dir" cargo build --quiet -p mock-server) || die "cargo build failed"
  bin="$target_dir/debug/mock-server"
fi
[ -x "$bin" ] || die "no mock-server binary at $bin"

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

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
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
# Checks
# ---------------------------------------------------------------------------

scenario=""

ok() {
  pass=$((pass + 1))
  printf '  ok    %s\n' "$1"
}
bad() {
  fail=$((fail + 1))
  printf '  FAIL  %s\n' "$1"
  [ -n "${2:-}" ] && printf '        %s\n' "$2"
  return 0
}
# expect DESCRIPTION ACTUAL EXPECTED
expect() {
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected '$3', got '$2'"; fi
}
# expect_match DESCRIPTION ACTUAL REGEX
expect_match() {
  if [[ "$2" =~ $3 ]]; then ok "$1"; else bad "$1" "'$2' does not match /$3/"; fi
}

# The default world's invoice_v2 documents in the dynamics365 outbox.
DOC_NORTHWIND=4be38121-3791-4856-80d5-c57dbec2cf78
DOC_CONTOSO=9d0c6f1a-52e4-4b7e-8a31-6f2d0b9c4e17
DOC_ACME=1f7a3c92-8e4d-4b61-9c05-d2e8a7b6f310 # no supplier row: skipped
DOC_OBRIEN=6b2e9f40-1c7d-4a85-b3e6-0f9a2d7c5e81 # apostrophe in vendor_name
DOC_FABRIKAM=c3d8e1b5-7a2f-4e90-8b14-5d6f9a0e2c73 # push_failed, retried
WRITERS=("$DOC_NORTHWIND" "$DOC_CONTOSO" "$DOC_OBRIEN" "$DOC_FABRIKAM")
LINES_TOTAL=6
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
MISS_DOC=n8n-supplier-miss-0001
MISS_VENDOR="D'Arcy Unlisted Supplies"

ws=""
key=""
ws_base=""

new_workspace() {
  local body
  body="$(curl -sS -X POST "$base/_mock/workspaces" -H 'content-type: application/json' -d '{}')" || return 1
  ws="$(jq -r .data.id <<<"$body")"
  key="$(jq -r .data.api_key <<<"$body")"
  ws_base="$(jq -r .data.numora_base_url <<<"$body")"
  [ -n "$ws" ] && [ "$ws" != null ]
}
# ctl METHOD PATH [curl args]: the control API of the current workspace
ctl() {
  local method=$1 path=$2
  shift 2
  curl -sS -X "$method" "$base/_mock/workspaces/$ws$path" -H 'content-type: application/json' "$@"
}
# api PATH: a public GET with the workspace's key (moves the virtual clock)
api() {
  curl -sS "$ws_base$1" -H "Authorization: Bearer $key"
}
add_fault() {
  local answer
  answer="$(ctl POST /faults -d "$1")"
  jq -r '.data.id // empty' <<<"$answer"
}
# fault_count ID matched|hits: calls the rule selected / calls it acted on
fault_count() {
  ctl GET /faults | jq -r --arg id "$1" --arg field "$2" '.data[] | select(.id == $id) | .[$field]'
}
journal_count() {
  ctl GET "/journal/count?$1" | jq -r .data.count
}
status_of() {
  api "/v1/documents/$1" | jq -r .data.status
}
attempts_of() {
  api "/v1/documents/$1/delivery?provider=dynamics365&limit=20" | jq -c .data
}
rows_of() {
  ctl GET "/dataverse/$1" | jq -c .data
}
outbox_ids() {
  api "/v1/delivery/outbox?provider=dynamics365&limit=100" | jq -r '[.data[].document_id] | sort | join(" ")'
}
# docs_with_status STATUS: the outbox documents of the default world in STATUS
docs_with_status() {
  local d
  for d in "${WRITERS[@]}" "$DOC_ACME"; do
    [ "$(status_of "$d")" = "$1" ] && printf '%s\n' "$d"
  done
  return 0
}
seed_supplier_miss() {
  ctl POST /documents -d "$(jq -n --arg id "$MISS_DOC" --arg vendor "$MISS_VENDOR" '{
    id: $id, schema: "invoice_v2", status: "reviewed", finalized: true,
    fields: {invoice_number: "DU-7", invoice_date: "2026-03-22", due_date: "2026-04-21",
             vendor_name: $vendor, subtotal: 10, tax_amount: 2, invoice_total: 12},
    line_items: [{description: "Staples", quantity: 1, unit_price: 10, amount: 10, tax_code: "VAT20"}]}')" >/dev/null
}
# invoice row ids of one document, space separated
invoice_ids_for() {
  jq -r --arg d "$2" '[.[] | select(.otcm_numoradocumentid == $d) | .otcm_inboundinvoiceid] | join(" ")' <<<"$1"
}
# Rows without ids, etags and timestamps; line items keyed by their
# invoice's document id, so the two modes can be compared.
normalized_rows() {
  local invoices lines
  invoices="$(rows_of otcm_inboundinvoices)"
  lines="$(rows_of otcm_inboundinvoicelineitems)"
  jq -n -S --argjson inv "$invoices" --argjson li "$lines" '
    def strip: del(.["@odata.etag"], .createdon, .modifiedon, .versionnumber);
    ($inv | map({key: .otcm_inboundinvoiceid, value: .otcm_numoradocumentid}) | from_entries) as $doc
    | {invoices: ($inv | map(strip | del(.otcm_inboundinvoiceid)) | sort_by(.otcm_numoradocumentid)),
       line_items: ($li | map(.document_id = $doc[._otcm_inboundinvoiceid_value]
                               | strip | del(.otcm_inboundinvoicelineitemid, ._otcm_inboundinvoiceid_value))
                        | sort_by(.document_id, .otcm_linenumber))}'
}

# run_flow WORKFLOW_ID LABEL [VAR=value ...]: one headless execution against
# the current workspace; the execution JSON is left in $work/LABEL.json.
flow_out=""
run_flow() {
  local id=$1 label=$2
  shift 2
  flow_out="$work/$label.json"
  local started=$SECONDS rc=0
  env NUMORA_BASE_URL="$ws_base" NUMORA_API_KEY="$key" "$@" \
    timeout 600 "$n8n_bin" execute --id "$id" --rawOutput >"$work/$label.stdout" 2>"$work/$label.stderr" || rc=$?
  # Keep the JSON document only: n8n prints it pretty (a line "{" to a line
  # "}") through the same console as its log lines, before or after them.
  sed -n '/^{$/,/^}$/p' "$work/$label.stdout" >"$flow_out"
  if [ "$rc" -eq 0 ] && jq -e '.data.resultData.error == null' "$flow_out" >/dev/null 2>&1; then
    ok "n8n execute $label finished without an execution error ($((SECONDS - started)) s)"
    return 0
  fi
  local reason
  reason="$(jq -r '.data.resultData.error | select(. != null)
    | "node \(.node.name // .node // "?"): \(.message // "") \(.description // "")"' "$flow_out" 2>/dev/null)"
  bad "n8n execute $label finished without an execution error" "exit $rc: ${reason:-no execution data}"
  if [ -z "$reason" ]; then
    tail -n 20 "$work/$label.stderr" "$work/$label.stdout" | sed 's/^/        | /'
  fi
  return 1
}
# items NODE: every item a node output (all runs, first output), as a JSON array
items() {
  jq -c --arg n "$1" '[.data.resultData.runData[$n][]?.data.main[0][]?.json]' "$flow_out" 2>/dev/null || echo '[]'
}

wanted() {
  [ "${#selected[@]}" -eq 0 ] && return 0
  local s
  for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}
begin() {
  scenario=$1
  echo
  echo "## $scenario: $2"
  new_workspace || {
    bad "$scenario: create a workspace"
    return 1
  }
}

selected=("$@")

# ---------------------------------------------------------------------------
# Dispatch mode
# ---------------------------------------------------------------------------

dispatch_rows=""

if wanted dispatch/clean && begin dispatch/clean "outbox (3 pages of 2), dispatch each, poll until done"; then
  if run_flow "$DISPATCH_ID" dispatch-clean NUMORA_OUTBOX_LIMIT=2; then
    expect "the flow walked the outbox by cursor (3 pages)" "$(journal_count 'method=GET&path=/v1/delivery/outbox')" 3
    expect "one dispatch per outbox document" "$(journal_count 'method=POST&path=/v1/documents/*/dispatch')" 5
    expect "no delivery callback in dispatch mode" "$(journal_count 'method=POST&path=/v1/documents/*/delivery')" 0
    outcome="$(items 'Delivery outcome')"
    expect "the flow saw 5 runs finish" "$(jq length <<<"$outcome")" 5
    expect "run outcomes: 4 succeeded, 1 skipped" \
      "$(jq -r '[.[].outcome] | sort | join(",")' <<<"$outcome")" "skipped,succeeded,succeeded,succeeded,succeeded"
    expect "the flow kept a run_id per document" "$(jq '[.[] | select(.run_id | startswith("run_"))] | length' <<<"$outcome")" 5
    invoices="$(rows_of otcm_inboundinvoices)"
    expect "4 invoice rows" "$(jq length <<<"$invoices")" 4
    expect "$LINES_TOTAL line item rows" "$(rows_of otcm_inboundinvoicelineitems | jq length)" "$LINES_TOTAL"
    for doc in "${WRITERS[@]}"; do
      expect "$doc push_succeeded" "$(status_of "$doc")" push_succeeded
      latest="$(attempts_of "$doc" | jq -c '.[0]')"
      expect "$doc: latest attempt succeeded from dispatch, record = its invoice row" \
        "$(jq -r '[.status, .source, .external_record_id] | join(" ")' <<<"$latest")" \
        "succeeded dispatch $(invoice_ids_for "$invoices" "$doc")"
    done
    expect "Acme (no supplier) push_succeeded" "$(status_of "$DOC_ACME")" push_succeeded
    expect "Acme: attempt skipped, supplier_not_found" \
      "$(attempts_of "$DOC_ACME" | jq -r '.[0] | [.status, .error_code] | join(" ")')" "skipped supplier_not_found"
    expect "the outbox is empty" "$(outbox_ids)" ""
    dispatch_rows="$(normalized_rows)"
  fi
fi

if wanted dispatch/slow-run && begin dispatch/slow-run "runs start 12 virtual seconds after dispatch: the flow polls until they finish"; then
  ctl PATCH /settings -d '{"run_delay":"12s"}' >/dev/null
  if run_flow "$DISPATCH_ID" dispatch-slow; then
    expect_match "the flow went round its poll loop (polls per document)" \
      "$(items 'Track status' | jq '[.[].polls] | max')" '^([2-9]|10)$'
    expect "the flow saw 5 runs finish" "$(items 'Delivery outcome' | jq '[.[] | select(.run_status == "succeeded")] | length')" 5
    expect "every outbox document is push_succeeded" \
      "$(for d in "${WRITERS[@]}" "$DOC_ACME"; do status_of "$d"; done | sort -u | tr '\n' ' ')" "push_succeeded "
    expect "4 invoice rows" "$(rows_of otcm_inboundinvoices | jq length)" 4
  fi
fi

if wanted dispatch/dataverse-429 && begin dispatch/dataverse-429 "Dataverse answers 429 to one invoice create"; then
  fault="$(add_fault '{"api":"dataverse","method":"POST","entity_set":"otcm_inboundinvoices","times":1,"respond":{"status":429,"retry_after":5}}')"
  if run_flow "$DISPATCH_ID" dispatch-429; then
    expect "the 429 was served once" "$(fault_count "$fault" hits)" 1
    throttled="$(docs_with_status push_failed)"
    expect_match "exactly one document is push_failed" "$throttled" "$UUID_RE"
    expect "its attempt: failed, crm_429" \
      "$(attempts_of "$throttled" | jq -r '.[0] | [.status, .error_code] | join(" ")')" "failed crm_429"
    expect "the flow reported the failed run with crm_429" \
      "$(items 'Delivery outcome' | jq -r --arg d "$throttled" '.[] | select(.document_id == $d) | .outcome + " " + (.error | split(":")[0])')" "failed crm_429"
    expect "the others are push_succeeded" "$(docs_with_status push_succeeded | wc -l | tr -d ' ')" 4
    expect "3 invoice rows (the throttled one missing)" "$(rows_of otcm_inboundinvoices | jq length)" 3
    expect "the outbox offers the failed document again" "$(outbox_ids)" "$throttled"
    if run_flow "$DISPATCH_ID" dispatch-429-retry; then
      expect "the next run dispatches it again: push_succeeded" "$(status_of "$throttled")" push_succeeded
      expect "two attempts: succeeded after failed" \
        "$(attempts_of "$throttled" | jq -r '[.[0:2][].status] | join(" ")')" "succeeded failed"
      expect "4 invoice rows" "$(rows_of otcm_inboundinvoices | jq length)" 4
      expect "the outbox is empty" "$(outbox_ids)" ""
    fi
  fi
fi

if wanted dispatch/dispatch-409 && begin dispatch/dispatch-409 "one dispatch answers 409"; then
  # The state before the run: status and attempt count per document.
  declare -A before=()
  for d in "${WRITERS[@]}" "$DOC_ACME"; do
    before[$d]="$(status_of "$d") $(attempts_of "$d" | jq length)"
  done
  fault="$(add_fault '{"api":"numora","method":"POST","path":"/v1/documents/*/dispatch","times":1,"respond":{"status":409}}')"
  if run_flow "$DISPATCH_ID" dispatch-409; then
    expect "the 409 was served once" "$(fault_count "$fault" hits)" 1
    expect "no blind retry: 5 dispatch calls" "$(journal_count 'method=POST&path=/v1/documents/*/dispatch')" 5
    refused_items="$(items 'Not dispatched')"
    refused="$(jq -r '.[0].document_id // "none"' <<<"$refused_items")"
    was="${before[$refused]:-none}"
    expect "the flow reported one refused dispatch (409) and refetched the document" \
      "$(jq -r '[.[] | (.dispatch_status | tostring) + " " + .status] | join(",")' <<<"$refused_items")" \
      "409 ${was%% *}"
    expect "the other 4 runs finished" "$(items 'Delivery outcome' | jq length)" 4
    expect "the refused document is untouched (status, attempts)" \
      "$(status_of "$refused") $(attempts_of "$refused" | jq length)" "$was"
    expect "the refused document stays in the outbox" "$(outbox_ids)" "$refused"
    if [ "$refused" = "$DOC_ACME" ]; then want_rows=4; else want_rows=3; fi
    expect "$want_rows invoice rows" "$(rows_of otcm_inboundinvoices | jq length)" "$want_rows"
  fi
fi

if wanted dispatch/supplier-miss && begin dispatch/supplier-miss "a document whose vendor ($MISS_VENDOR) has no supplier"; then
  seed_supplier_miss
  if run_flow "$DISPATCH_ID" dispatch-miss; then
    expect "the document is push_succeeded (a completed no-write outcome)" "$(status_of "$MISS_DOC")" push_succeeded
    expect "its attempt: skipped, supplier_not_found, the vendor named" \
      "$(attempts_of "$MISS_DOC" | jq -r '.[0] | [.status, .error_code, .error_message] | join(" | ")')" \
      "skipped | supplier_not_found | No supplier matched vendor_name \"$MISS_VENDOR\"."
    expect "the flow reported the run as skipped" \
      "$(items 'Delivery outcome' | jq -r --arg d "$MISS_DOC" '.[] | select(.document_id == $d) | .outcome')" skipped
    expect "no invoice row for it" "$(invoice_ids_for "$(rows_of otcm_inboundinvoices)" "$MISS_DOC")" ""
    expect "4 invoice rows for the others" "$(rows_of otcm_inboundinvoices | jq length)" 4
    expect "the outbox is empty" "$(outbox_ids)" ""
  fi
fi

# ---------------------------------------------------------------------------
# External executor mode
# ---------------------------------------------------------------------------

# check_callback_attempt DOC STATUS: the latest attempt came from this flow
check_callback_attempt() {
  local doc=$1 want=$2 latest
  latest="$(attempts_of "$doc" | jq -c '.[0]')"
  expect "$doc: latest attempt $want, recorded by callback" \
    "$(jq -r '[.status, .source] | join(" ")' <<<"$latest")" "$want callback"
  expect_match "$doc: execution_id is unique per attempt (n8n-<document_id>-<execution>)" \
    "$(jq -r .execution_id <<<"$latest")" "^n8n-$doc-[0-9]+\$"
}

if wanted external/clean && begin external/clean "outbox (3 pages of 2), result, session, team, supplier, writes, callback"; then
  if run_flow "$EXECUTOR_ID" external-clean NUMORA_OUTBOX_LIMIT=2; then
    expect "the flow walked the outbox by cursor (3 pages)" "$(journal_count 'method=GET&path=/v1/delivery/outbox')" 3
    expect "dispatch is never called in this mode" "$(journal_count 'method=POST&path=/v1/documents/*/dispatch')" 0
    expect "one result read per document" "$(journal_count 'method=GET&path=/v1/documents/*/result')" 5
    expect "one Dynamics session per document" "$(journal_count 'method=POST&path=/v1/dynamics/session')" 5
    expect "one callback per document" "$(journal_count 'method=POST&path=/v1/documents/*/delivery')" 5
    expect "Dataverse writes from n8n: 4 invoices + $LINES_TOTAL line items" \
      "$(journal_count 'api=dataverse&method=POST&internal=false')" $((4 + LINES_TOTAL))
    expect "no Dataverse call was refused" \
      "$(ctl GET '/journal?api=dataverse&internal=false' | jq '[.data[] | select(.status >= 300)] | length')" 0
    invoices="$(rows_of otcm_inboundinvoices)"
    expect "4 invoice rows" "$(jq length <<<"$invoices")" 4
    expect "$LINES_TOTAL line item rows" "$(rows_of otcm_inboundinvoicelineitems | jq length)" "$LINES_TOTAL"
    for doc in "${WRITERS[@]}"; do
      expect "$doc push_succeeded" "$(status_of "$doc")" push_succeeded
      check_callback_attempt "$doc" succeeded
      expect "$doc: external_record_id is its invoice row" \
        "$(attempts_of "$doc" | jq -r '.[0].external_record_id')" "$(invoice_ids_for "$invoices" "$doc")"
    done
    expect "Acme (no supplier) push_succeeded" "$(status_of "$DOC_ACME")" push_succeeded
    check_callback_attempt "$DOC_ACME" skipped
    expect "Acme: supplier_not_found with the vendor named" \
      "$(attempts_of "$DOC_ACME" | jq -r '.[0] | [.error_code, .error_message] | join(" | ")')" \
      "supplier_not_found | No supplier matched vendor_name \"Acme Supplies Ltd\"."
    expect "the flow recorded 5 callbacks" "$(items Recorded | jq -r '[.[].delivery_status] | sort | join(",")')" \
      "skipped,succeeded,succeeded,succeeded,succeeded"
    expect "the outbox is empty" "$(outbox_ids)" ""
    external_rows="$(normalized_rows)"
    if [ -n "$dispatch_rows" ]; then
      if [ "$external_rows" = "$dispatch_rows" ]; then
        ok "the rows equal what the internal workflow writes in dispatch mode"
      else
        bad "the rows equal what the internal workflow writes in dispatch mode" \
          "$(diff <(echo "$dispatch_rows") <(echo "$external_rows") | head -n 20 | tr '\n' ' ')"
      fi
    fi
    if run_flow "$EXECUTOR_ID" external-clean-again; then
      expect "a second run finds the outbox empty and stops after the split" \
        "$(jq -r '.data.resultData.lastNodeExecuted' "$flow_out")" "Split documents"
      expect "no new rows, no new callbacks" \
        "$(rows_of otcm_inboundinvoices | jq length) $(journal_count 'method=POST&path=/v1/documents/*/delivery')" "4 5"
    fi
  fi
fi

if wanted external/dataverse-429 && begin external/dataverse-429 "Dataverse answers 429 to one invoice create"; then
  fault="$(add_fault '{"api":"dataverse","method":"POST","entity_set":"otcm_inboundinvoices","times":1,"respond":{"status":429,"retry_after":5}}')"
  if run_flow "$EXECUTOR_ID" external-429; then
    expect "the 429 was served once" "$(fault_count "$fault" hits)" 1
    throttled="$(docs_with_status push_failed)"
    expect_match "exactly one document is push_failed" "$throttled" "$UUID_RE"
    check_callback_attempt "$throttled" failed
    expect "its attempt: crm_429 at invoice_create" \
      "$(attempts_of "$throttled" | jq -r '.[0] | (.error_code // "") + " " + ((.error_message // "") | split(":")[0])')" "crm_429 invoice_create"
    expect "the others are push_succeeded" "$(docs_with_status push_succeeded | wc -l | tr -d ' ')" 4
    expect "3 invoice rows (the throttled one missing)" "$(rows_of otcm_inboundinvoices | jq length)" 3
    expect "the outbox offers the failed document again" "$(outbox_ids)" "$throttled"
    first_exec="$(attempts_of "$throttled" | jq -r '.[0].execution_id')"
    if run_flow "$EXECUTOR_ID" external-429-retry; then
      expect "the retry is push_succeeded" "$(status_of "$throttled")" push_succeeded
      check_callback_attempt "$throttled" succeeded
      attempts="$(attempts_of "$throttled" | jq -c '.[0:2]')"
      expect "the two latest attempts: succeeded after failed" "$(jq -r '[.[].status] | join(" ")' <<<"$attempts")" "succeeded failed"
      expect "the retry used a new execution_id (no 409)" \
        "$(jq -r --arg first "$first_exec" '.[0].execution_id != $first and .[1].execution_id == $first' <<<"$attempts")" true
      expect "4 invoice rows" "$(rows_of otcm_inboundinvoices | jq length)" 4
      expect "the outbox is empty" "$(outbox_ids)" ""
    fi
  fi
fi

if wanted external/line-item-429 && begin external/line-item-429 "Dataverse answers 429 to one line item create"; then
  fault="$(add_fault '{"api":"dataverse","method":"POST","entity_set":"otcm_inboundinvoicelineitems","times":1,"respond":{"status":429,"retry_after":5}}')"
  if run_flow "$EXECUTOR_ID" external-line-429; then
    expect "the 429 was served once" "$(fault_count "$fault" hits)" 1
    throttled="$(docs_with_status push_failed)"
    expect_match "exactly one document is push_failed" "$throttled" "$UUID_RE"
    check_callback_attempt "$throttled" failed
    expect_match "its attempt: crm_429 at line_item_create_<n>" \
      "$(attempts_of "$throttled" | jq -r '.[0] | (.error_code // "") + " " + (.error_message // "")')" '^crm_429 line_item_create_[0-9]+: '
    expect "the flow created the other $((LINES_TOTAL - 1)) line items" \
      "$(rows_of otcm_inboundinvoicelineitems | jq length)" $((LINES_TOTAL - 1))
    expect "the outbox offers the failed document again" "$(outbox_ids)" "$throttled"
  fi
fi

if wanted external/dispatch-409 && begin external/dispatch-409 "dispatch answers 409 (this mode must not call it)"; then
  fault="$(add_fault '{"api":"numora","method":"POST","path":"/v1/documents/*/dispatch","respond":{"status":409}}')"
  if run_flow "$EXECUTOR_ID" external-409; then
    expect "the fault never matched: dispatch is not called" "$(fault_count "$fault" matched)" 0
    expect "no dispatch call in the journal" "$(journal_count 'method=POST&path=/v1/documents/*/dispatch')" 0
    expect "4 invoice rows" "$(rows_of otcm_inboundinvoices | jq length)" 4
    expect "every outbox document is push_succeeded" \
      "$(for d in "${WRITERS[@]}" "$DOC_ACME"; do status_of "$d"; done | sort -u | tr '\n' ' ')" "push_succeeded "
    expect "the outbox is empty" "$(outbox_ids)" ""
  fi
fi

if wanted external/supplier-miss && begin external/supplier-miss "a document whose vendor ($MISS_VENDOR) has no supplier"; then
  seed_supplier_miss
  if run_flow "$EXECUTOR_ID" external-miss; then
    expect "the lookup quoted the vendor for OData ('' for ')" \
      "$(ctl GET '/journal?api=dataverse&method=GET' | jq -r '[.data[] | select(.internal == false) | .query // "" | select(test("D%27%27Arcy|D'"''"'Arcy"))] | length')" 1
    expect "the document is push_succeeded (a completed no-write outcome)" "$(status_of "$MISS_DOC")" push_succeeded
    check_callback_attempt "$MISS_DOC" skipped
    expect "its attempt: supplier_not_found, the vendor named" \
      "$(attempts_of "$MISS_DOC" | jq -r '.[0] | [.error_code, .error_message] | join(" | ")')" \
      "supplier_not_found | No supplier matched vendor_name \"$MISS_VENDOR\"."
    expect "no invoice row for it" "$(invoice_ids_for "$(rows_of otcm_inboundinvoices)" "$MISS_DOC")" ""
    expect "4 invoice rows for the others" "$(rows_of otcm_inboundinvoices | jq length)" 4
    expect "the outbox is empty" "$(outbox_ids)" ""
  fi
fi

echo
if [ $((pass + fail)) -eq 0 ]; then
  echo "run.sh: no scenario matched: $*" >&2
  fail=1
fi
if [ "$fail" -ne 0 ] && [ -s "$work/server.err" ]; then
  echo "# mock-server stderr (last lines):"
  tail -n 20 "$work/server.err"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
