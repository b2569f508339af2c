#!/usr/bin/env bash
# CI's fuzz smoke: build every cargo-fuzz target once (libFuzzer + AddressSanitizer), then run each for
# a fixed number of inputs, starting from its committed seed corpus (fuzz/corpus/TARGET). Any crash,
# failed assertion, leak, timeout or out-of-memory makes libFuzzer exit non-zero, and so this script.
# The long runs (10 minutes and more per target) are in fuzz/README.md; this only proves that every
# target builds and that the seeds and their first mutations still pass.
#
# KEEP_FUZZ_RUNS (default 10000) sets the inputs per target. New units go to a scratch corpus, never
# into the committed one; a crashing input is written to fuzz/artifacts/TARGET/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
# cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses=sancov-module); the stable toolchain
# accepts them with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
# Instrumented builds live apart from the main build (other flags, so sharing a target dir would only
# make the two rebuild each other): in KEEP_FUZZ_TARGET_DIR (scripts/test.sh points it at its cache),
# else fuzz/target.
unset CARGO_TARGET_DIR
target_dir=("--target-dir" "${KEEP_FUZZ_TARGET_DIR:-target}")
runs="${KEEP_FUZZ_RUNS:-10000}"

t0=$(date +%s)
cargo fuzz build "${target_dir[@]}"
t1=$(date +%s)
echo "== fuzz smoke: built all targets in $((t1 - t0)) s" >&2

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo fuzz list); do
    mkdir -p "$scratch/$target"
    s=$(date +%s)
    # -seed fixes the mutations, so a CI failure replays; -runs counts the seeds too.
    if ! cargo fuzz run "${target_dir[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -runs="$runs" -seed=1 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$scratch/$target.log" 2>&1; then
        tail -n 60 "$scratch/$target.log" >&2
        echo "== fuzz smoke: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$target.log" | grep -o '[0-9]*$')
    echo "== fuzz smoke: $target ok, $execs inputs in $(($(date +%s) - s)) s" >&2
done
echo "== fuzz smoke: runs took $(($(date +%s) - t1)) s (build $((t1 - t0)) s)" >&2
