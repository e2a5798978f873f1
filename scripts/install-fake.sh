#!/usr/bin/env bash
# Installs mock-server and conformance from this checkout with
# `cargo install --locked --path …`, then checks that both answer --version.
#
#   scripts/install-fake.sh                          # into cargo's bin dir (~/.cargo/bin)
#   scripts/install-fake.sh --root ~/.numora-fake    # into ~/.numora-fake/bin (cache this folder in CI)
#   scripts/install-fake.sh --root DIR --profile dist   # the size-tuned build (see docs/ci.md)
#   scripts/install-fake.sh --root DIR --debug       # the dev profile: quick, reuses CARGO_TARGET_DIR's debug build
#
# With --root, a stamp file records the checkout's commit and the profile;
# when it matches and both binaries are there, nothing is rebuilt, so a CI
# cache of DIR makes the step instant. Any other argument goes to cargo install.
# Needs cargo (and git for the stamp). Exits non-zero if a binary does not run.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root=""
profile="release"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="$2"; shift 2 ;;
    --profile) profile="$2"; shift 2 ;;
    --debug) profile="dev"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "install-fake.sh: cargo is required (install a Rust toolchain: https://rustup.rs)" >&2
    exit 1
  fi
fi

args=(--locked --profile "$profile")
bindir="${CARGO_HOME:-$HOME/.cargo}/bin"
if [ -n "$root" ]; then
  mkdir -p "$root"
  root="$(cd "$root" && pwd)"
  args+=(--root "$root")
  bindir="$root/bin"
fi

rev=""
if command -v git >/dev/null 2>&1 && git -C "$repo" rev-parse HEAD >/dev/null 2>&1; then
  rev="$(git -C "$repo" rev-parse HEAD)"
  # Uncommitted changes make the commit a poor cache key: always rebuild then.
  if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then rev=""; fi
fi
stamp="${root:+$root/.numora-fake-install}"
want="$rev $profile"
if [ -n "$stamp" ] && [ -n "$rev" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && [ -x "$bindir/mock-server" ] && [ -x "$bindir/conformance" ]; then
  echo "# mock-server and conformance already installed in $bindir from $rev ($profile)"
else
  for crate in mock-server conformance; do
    echo "# cargo install ${args[*]} ${extra[*]:-} --path $crate"
    cargo install "${args[@]}" "${extra[@]}" --path "$repo/$crate"
  done
  if [ -n "$stamp" ]; then
    if [ -n "$rev" ]; then echo "$want" > "$stamp"; else rm -f "$stamp"; fi
  fi
fi

for bin in mock-server conformance; do
  version="$("$bindir/$bin" --version)"
  case "$version" in
    "$bin "[0-9]*) echo "# $bindir/$bin: $version" ;;
    *) echo "install-fake.sh: $bindir/$bin --version answered '$version'" >&2; exit 1 ;;
  esac
done
