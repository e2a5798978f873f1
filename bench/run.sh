#!/usr/bin/env bash
# The fake's benchmark, in one command: bash bench/run.sh [--duration SECONDS] [--strict]
#
# Installs wrk from Debian if it is missing, builds mock-server, conformance and
# the bench crate in release, then runs the orchestrator (bench/src/main.rs),
# which prints every figure and a PASS/FAIL line per target. Set
# CARGO_TARGET_DIR to build elsewhere than ./target. Takes about two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

if ! command -v wrk >/dev/null 2>&1; then
  echo "== installing wrk (Debian package)" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -q && apt-get install -y -q wrk
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -q && sudo apt-get install -y -q wrk
  else
    echo "wrk is required: install it with 'apt-get install -y wrk'" >&2
    exit 2
  fi
fi

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== building in release ($target_dir)" >&2
# mock-server on its own, as users build it (`cargo run --release -p
# mock-server`): built together with the others, its dependencies would get the
# union of everyone's features, and the binary measured would be a larger one
# than users run.
cargo build --release --quiet -p mock-server
cargo build --release --quiet -p conformance -p bench

exec "$target_dir/release/bench" --bin-dir "$target_dir/release" --repo "$PWD" "$@"
