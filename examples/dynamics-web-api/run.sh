#!/usr/bin/env bash
# Builds the fake, starts it on a free port, installs the pinned
# dynamics-web-api client and runs check.mjs against it.
# Works from any directory; exits with the check's exit code.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in
  /*) ;;
  *) target_dir="$repo/$target_dir" ;;
esac
bin="$target_dir/debug/mock-server"

for tool in cargo node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    if [ "$tool" = cargo ] && [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      echo "run.sh: $tool is required" >&2
      exit 1
    fi
  fi
done

echo "# building mock-server"
(cd "$repo" && CARGO_TARGET_DIR="$target_dir" cargo build --quiet -p mock-server)

echo "# installing npm dependencies"
cd "$here"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi

workdir="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server's stdout goes through a FIFO so its first line can be read as
# soon as it is printed; the rest is drained to a log file.
fifo="$workdir/stdout"
mkfifo "$fifo"
"$bin" --port 0 >"$fifo" 2>"$workdir/stderr" &
server_pid=$!
exec 3<"$fifo"

first_line=""
if ! IFS= read -r -t 60 first_line <&3; then
  echo "run.sh: mock-server printed no first line within 60 s" >&2
  cat "$workdir/stderr" >&2 || true
  exit 1
fi
cat <&3 >"$workdir/server.log" &
exec 3<&-

case "$first_line" in
  "listening on http://127.0.0.1:"*) base_url="${first_line#listening on }" ;;
  *)
    echo "run.sh: unexpected first line from mock-server: $first_line" >&2
    exit 1
    ;;
esac
base_url="${base_url%%[[:space:]]*}"
echo "# mock-server at $base_url (pid $server_pid)"

status=0
NUMORA_BASE_URL="$base_url" \
NUMORA_API_KEY="sk_test_numora_mock_default" \
  node "$here/check.mjs" || status=$?

if [ "$status" -ne 0 ] && [ -s "$workdir/stderr" ]; then
  echo "# mock-server stderr:" >&2
  cat "$workdir/stderr" >&2
fi
exit "$status"
