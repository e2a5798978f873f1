#!/usr/bin/env bash
# Mutation testing of the fake's core with cargo-mutants: how many small,
# deliberate bugs in these modules the test suite notices.
#
#   scripts/mutants.sh                          # the whole core (hours on two cores)
#   scripts/mutants.sh mock-server/src/world/glob.rs     # one file
#   MUTANTS_TIMEOUT=300 MUTANTS_JOBS=2 scripts/mutants.sh
#   MUTANTS_TESTS="--test api" scripts/mutants.sh FILE  # only some test targets
#   MUTANTS_IN_PLACE=1 scripts/mutants.sh FILE          # reuse the warm target/
#
# Needs `cargo install cargo-mutants --locked`. Results go to
# ${MUTANTS_OUT:-target/mutants}/mutants.out (caught.txt, missed.txt,
# timeout.txt, unviable.txt); the score is caught / (caught + missed +
# timeout). Too slow for CI: every mutant rebuilds mock-server and runs its
# tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
    exit 2
fi

if [ "$#" -gt 0 ]; then
    files=("$@")
else
    files=(
        mock-server/src/world/*.rs
        mock-server/src/numora/delivery.rs
        mock-server/src/numora/documents.rs
        mock-server/src/dataverse/query.rs
        mock-server/src/dataverse/filter.rs
    )
fi

args=(--package mock-server --timeout "${MUTANTS_TIMEOUT:-180}"
      --output "${MUTANTS_OUT:-target/mutants}")
# MUTANTS_IN_PLACE=1 mutates the working tree and reuses its target/ (much
# faster on a warm tree; do not edit files meanwhile; cargo-mutants restores
# each file after its mutant, and on Ctrl-C).
if [ "${MUTANTS_IN_PLACE:-0}" = 1 ]; then
    args+=(--in-place)
else
    args+=(--jobs "${MUTANTS_JOBS:-1}")
fi
for f in "${files[@]}"; do
    if [ ! -f "$f" ]; then
        echo "no such file: $f" >&2
        exit 2
    fi
    args+=(--file "$f")
done

start=$(date +%s)
status=0
# shellcheck disable=SC2086 # MUTANTS_TESTS is a list of cargo test arguments
cargo mutants "${args[@]}" -- ${MUTANTS_TESTS:-} || status=$?
echo "cargo mutants exited $status after $(( $(date +%s) - start )) s" >&2

out="${MUTANTS_OUT:-target/mutants}/mutants.out"
count() {
    if [ -f "$out/$1" ]; then
        grep -c . "$out/$1" || true
    else
        echo 0
    fi
}
caught=$(count caught.txt)
missed=$(count missed.txt)
timeout=$(count timeout.txt)
unviable=$(count unviable.txt)
viable=$(( caught + missed + timeout ))
if [ "$viable" -gt 0 ]; then
    echo "caught $caught of $viable viable mutants ($(( 100 * caught / viable )) %); missed $missed, timeout $timeout, unviable $unviable"
fi
[ "$missed" -eq 0 ] || { echo "missed mutants:"; cat "$out/missed.txt"; }
# cargo-mutants exits 2 when a mutant was missed, 3 on a timeout.
exit "$status"
