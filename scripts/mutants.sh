#!/usr/bin/env bash
# Mutation testing of the fake's core with cargo-mutants: how many small,
# deliberate bugs in these modules the test suite notices.
#
#   scripts/mutants.sh                                   # the whole core (hours on two cores)
#   scripts/mutants.sh mock-server/src/world/glob.rs     # one file
#   MUTANTS_ARGS="--re 'in review_state'" scripts/mutants.sh FILE   # some mutants only
#   MUTANTS_BASELINE=skip scripts/mutants.sh FILE        # once the suite is known green
#   MUTANTS_OUT=target/mutants/f MUTANTS_ARGS=--iterate scripts/mutants.sh FILE
#                          # after new tests: only what the last run missed
#
# Needs `cargo install cargo-mutants --locked`. Results go to
# ${MUTANTS_OUT:-target/mutants}: pass1/ and pass2/ hold each pass's lists
# (caught.txt, missed.txt, timeout.txt, unviable.txt), mutants.out/ the
# last pass's full output. The score printed at the end is caught /
# (caught + missed + timeout), and the timeouts are printed apart: a mutant
# that makes the tests hang is noticed, but only by the timeout. Too slow
# for CI (figures in docs/reliability.md).
#
# What makes one mutant cheap (each measured, see docs/reliability.md):
# - cargo-mutants copies the tree and builds the copy in its own target
#   directory (${MUTANTS_TARGET:-target/mutants-build}), so the working tree
#   stays editable and the mutants never overwrite its binaries;
# - no debug info (CARGO_PROFILE_DEV_DEBUG=0): smaller objects, faster links;
# - the mold linker when it is installed (only here, through RUSTFLAGS);
# - only the test targets that can observe the core: the library's unit
#   tests and the HTTP API suite (`--lib --test=api`). The browser tests
#   (`tests/ui`) need Chromium and only look at the inspector page, and
#   `tests/architecture.rs` reads source files, not behaviour. Running fewer
#   tests can only let more mutants through, never fewer, so the score is
#   not flattered by it. MUTANTS_TESTS overrides the selection (one pass);
# - two passes instead of one (below): every mutant is first built as the
#   unit-test harness alone and tested with the unit tests, and only those
#   they miss are built again with the API suite.
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
        mock-server/src/world/tables/*.rs
        mock-server/src/numora/delivery.rs
        mock-server/src/numora/documents.rs
        mock-server/src/dataverse/query.rs
        mock-server/src/dataverse/filter.rs
    )
fi

# One shared target directory only when one mutant is built at a time:
# parallel jobs would overwrite each other's binaries in it (and test the
# wrong mutant), so with MUTANTS_JOBS > 1 each copy builds in its own.
if [ "${MUTANTS_JOBS:-1}" -le 1 ]; then
    export CARGO_TARGET_DIR="${MUTANTS_TARGET:-$PWD/target/mutants-build}"
else
    unset CARGO_TARGET_DIR
fi
export CARGO_PROFILE_DEV_DEBUG=0
if command -v mold >/dev/null 2>&1; then
    export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
fi

common=(--package mock-server
        --build-timeout "${MUTANTS_BUILD_TIMEOUT:-600}"
        --output "${MUTANTS_OUT:-target/mutants}"
        --jobs "${MUTANTS_JOBS:-1}")
for f in "${files[@]}"; do
    if [ ! -f "$f" ]; then
        echo "no such file: $f" >&2
        exit 2
    fi
    common+=(--file "$f")
done
# shellcheck disable=SC2086 # MUTANTS_ARGS is an argument list
eval "extra=(${MUTANTS_ARGS:-})"

# One cargo-mutants pass: $1 = the test targets, $2 = the timeout, the rest
# is passed on.
pass() {
    local tests=$1 timeout=$2
    shift 2
    local targets=()
    for t in $tests; do
        targets+=(--cargo-arg="$t")
    done
    nice -n "${MUTANTS_NICE:-10}" cargo mutants "${common[@]}" --timeout "$timeout" \
        "${targets[@]}" "${extra[@]}" "$@"
}

mkdir -p "${MUTANTS_OUT:-target/mutants}"
start=$(date +%s)
status=0
out="${MUTANTS_OUT:-target/mutants}"
# Copies a pass's outcome lists to $out/$1 (the next pass renames them).
keep() {
    rm -rf "${out:?}/$1"
    mkdir -p "$out/$1"
    cp "$out"/mutants.out/*.txt "$out/$1/"
}
rm -rf "${out:?}/pass1" "$out/pass2"
if [ -n "${MUTANTS_TESTS:-}" ]; then
    pass "$MUTANTS_TESTS" "${MUTANTS_TIMEOUT:-60}" --baseline "${MUTANTS_BASELINE:-run}" || status=$?
    keep pass1
else
    # Two passes, same result as one pass with `--lib --test=api`, in a
    # fraction of the time. cargo runs the unit tests first and stops at
    # the first failing target, so a mutant the unit tests catch (or that
    # makes them hang) never reaches the API suite anyway; the first pass
    # builds only the unit-test harness (one target instead of four) and
    # tests every mutant with the unit tests (they take well under a
    # second, hence the short timeout). The second pass (`--iterate`) skips
    # what the first caught, found unviable or timed out on, and tests the
    # rest with the API suite (the unit tests already passed on them).
    pass "--lib" "${MUTANTS_LIB_TIMEOUT:-10}" --baseline "${MUTANTS_BASELINE:-run}" || status=$?
    keep pass1
    # cargo-mutants exits 2 when a mutant was missed and 3 when one timed
    # out (3 also when both happened): look at the list instead.
    if [ -s "$out/pass1/missed.txt" ]; then
        echo "unit tests missed some mutants; trying those with the API suite too" >&2
        cat "$out/pass1/timeout.txt" >>"$out/mutants.out/caught.txt"
        status=0
        again=(--iterate)
        [[ " ${extra[*]} " == *" --iterate "* ]] && again=()
        # The unit tests passed on every mutant left, so the API suite
        # alone decides (and only its target is built).
        pass "--test=api" "${MUTANTS_TIMEOUT:-60}" --baseline skip "${again[@]}" || status=$?
        keep pass2
    fi
fi
echo "cargo mutants exited $status after $(( $(date +%s) - start )) s" >&2

count() {
    local n=0 f
    for f in "$@"; do
        if [ -f "$out/$f" ]; then
            n=$(( n + $(grep -c . "$out/$f" || true) ))
        fi
    done
    echo "$n"
}
last=pass1
[ -d "$out/pass2" ] && last=pass2
caught=$(count pass1/caught.txt pass2/caught.txt)
timeout=$(count pass1/timeout.txt pass2/timeout.txt)
unviable=$(count pass1/unviable.txt pass2/unviable.txt)
missed=$(count "$last/missed.txt")
viable=$(( caught + missed + timeout ))
if [ "$viable" -gt 0 ]; then
    echo "caught $caught of $viable viable mutants ($(( 100 * caught / viable )) %), $timeout more made the tests hang (timeout); missed $missed, unviable $unviable"
fi
[ "$missed" -eq 0 ] || { echo "missed mutants:"; cat "$out/$last/missed.txt"; }
# cargo-mutants exits 2 when a mutant was missed, 3 on a timeout.
exit "$status"
