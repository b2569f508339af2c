#!/usr/bin/env bash
# Benchmark: `keep import` of 10,000 and 100,000 dotenv secrets into a fresh vault (issue 17, item 3:
# import must be linear: 100k in <= 10x the time of 10k).
#
#   ./benches/import.sh                               # builds and measures release
#   KEEP_BIN=target/debug/keep ./benches/import.sh    # measure a binary already built
#
# Each size is imported RUNS times (default 3) into a new vault (cheap KDF) and the median wall time
# printed, with the 100k/10k ratio. The 10,000 secrets then go, RUNS times each, through what users
# would pick instead: sops encrypting the dotenv file for an age recipient, and `fnox import` into a
# fresh fnox.toml with an age provider (both fetched by benches/tools.sh); each is printed as a
# multiple of keep's time (goal: keep 10k <= 0.3 s and >= 2x faster than both).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
# shellcheck source=benches/tools.sh
source benches/tools.sh
keep_under_test
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export HOME="$WORK" XDG_DATA_HOME="$WORK/xdg" KEEP_PASSPHRASE="bench passphrase"

python3 - "$WORK" <<'PY'
import secrets, sys
for n in (10_000, 100_000):
    with open(f"{sys.argv[1]}/{n}.env", "w") as f:
        for i in range(n):
            f.write(f'SECRET_{i:06d}="{secrets.token_urlsafe(24)}"\n')
PY

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A result
for n in 10000 100000; do
    for r in $(seq "$RUNS"); do
        export KEEP_VAULT="$WORK/v-$n-$r.db"
        "$KEEP" init --kdf-memory 8MiB --kdf-iterations 1 >/dev/null 2>&1
        start=$(date +%s.%N)
        "$KEEP" import "$WORK/$n.env" >/dev/null 2>&1
        end=$(date +%s.%N)
        echo "$end - $start" | bc -l
        rm -f "$KEEP_VAULT"*
    done | median >"$WORK/m"
    result[$n]=$(cat "$WORK/m")
    printf 'import %6d secrets: %.2f s (median of %d)\n' "$n" "${result[$n]}" "$RUNS"
done
printf '100k / 10k: %.1fx\n' "$(echo "${result[100000]} / ${result[10000]}" | bc -l)"

fetch_sops_fnox "$WORK"
need age-keygen age
age-keygen -o "$WORK/age.key" 2>/dev/null
RECIPIENT="$(grep -o 'age1[0-9a-z]*' "$WORK/age.key")"
export SOPS_AGE_KEY_FILE="$WORK/age.key" FNOX_AGE_KEY_FILE="$WORK/age.key"
timed() { # command...: prints its wall time in seconds
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}
for r in $(seq "$RUNS"); do
    timed "$SOPS" --encrypt --age "$RECIPIENT" --input-type dotenv --output-type dotenv \
        --output "$WORK/sops.env" "$WORK/10000.env"
done | median >"$WORK/m"
sops=$(cat "$WORK/m")
for r in $(seq "$RUNS"); do
    rm -rf "$WORK/fnox" && mkdir -p "$WORK/fnox"
    printf '[providers]\nage = { type = "age", recipients = ["%s"] }\n' "$RECIPIENT" >"$WORK/fnox/fnox.toml"
    (cd "$WORK/fnox" && timed "$FNOX" import --force --provider age -i "$WORK/10000.env" env)
done | median >"$WORK/m"
fnox=$(cat "$WORK/m")
test "$(grep -c '^SECRET_' "$WORK/sops.env")" = 10000
test "$(grep -c '^SECRET_' "$WORK/fnox/fnox.toml")" = 10000
printf '| 10,000 secrets | seconds (median of %d) | x keep |\n|---|---|---|\n' "$RUNS"
for t in "keep import:${result[10000]}" "sops --encrypt (age):$sops" "fnox import (age):$fnox"; do
    printf '| %s | %.2f | %.1fx |\n' "${t%%:*}" "${t##*:}" "$(echo "${t##*:} / ${result[10000]}" | bc -l)"
done
