#!/usr/bin/env bash
# Benchmark: what an unlocked vault adds to `keep scan` (issue 17, item 4; goal: <= 1.3x the plain
# scan with 10,000 vault values).
#
#   ./benches/scan_vault.sh [TREE] [RUNS]   # KEEP_BIN=path/to/keep to measure a given binary,
#                                           # BASE_BIN=path/to/other/keep to time a second one beside it
#
# Three vaults (0, 100 and 10,000 random 32-character values, imported in one command each, every
# one unlocked) and a frozen copy of TREE (hard links, default ~/.cargo/registry/src, so crates a
# build adds meanwhile change nothing). hyperfine runs, for each binary, `keep scan --no-vault TREE`
# (the plain scan) and `keep scan TREE` with each vault, RUNS times each (default 5), and this prints
# median wall seconds, mean CPU seconds (user+sys) and the ratio of each vault-aware scan to the
# same binary's plain scan, plus the load average before and after.
# Everything lives in a temp folder; the sessions are locked again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
TREE="${1:-$HOME/.cargo/registry/src}"
RUNS="${2:-5}"

# shellcheck source=benches/tools.sh
source benches/tools.sh
need hyperfine hyperfine
keep_under_test
BINS=("new=$KEEP")
[ -n "${BASE_BIN:-}" ] && BINS+=("old=$(realpath "$BASE_BIN")")

WORK="$(mktemp -d)"
export HOME="$WORK" XDG_DATA_HOME="$WORK/xdg" XDG_STATE_HOME="$WORK/state"
COUNTS=(0 100 10000)
cleanup() {
    for n in "${COUNTS[@]}"; do KEEP_VAULT="$WORK/v$n/vault.db" "$KEEP" lock >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

cp -al "$(realpath "$TREE")" "$WORK/tree" 2>/dev/null || cp -a "$(realpath "$TREE")" "$WORK/tree"
BYTES=$(find "$WORK/tree" -type f -size -10M -printf '%s\n' | awk '{s+=$1} END {print s}')
find "$WORK/tree" -type f -size -10M -print0 | xargs -0 cat >/dev/null # warm the page cache

echo "bench passphrase" >"$WORK/pass"
for n in "${COUNTS[@]}"; do
    mkdir -p "$WORK/v$n"
    export KEEP_VAULT="$WORK/v$n/vault.db" KEEP_PASSPHRASE_FILE="$WORK/pass"
    "$KEEP" init >/dev/null 2>&1
    if [ "$n" -gt 0 ]; then
        head -c $((n * 24)) /dev/urandom | base64 -w 32 | head -n "$n" |
            awk '{printf "S_%05d=%s\n", NR, $0}' >"$WORK/v$n/in.env"
        "$KEEP" import "$WORK/v$n/in.env" >/dev/null 2>&1
        rm "$WORK/v$n/in.env"
    fi
    "$KEEP" unlock --ttl 2h >/dev/null 2>&1
done
unset KEEP_VAULT KEEP_PASSPHRASE_FILE

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "tree: $TREE ($(awk -v b="$BYTES" 'BEGIN {printf "%.0f", b/1048576}') MiB in files under 10 MiB), $(nproc) CPUs, $RUNS runs each, load before: $LOAD_BEFORE" >&2
ARGS=()
for b in "${BINS[@]}"; do
    label=${b%%=*}; bin=${b#*=}
    ARGS+=(-n "$label plain" "env KEEP_VAULT=$WORK/v0/vault.db $bin scan --no-vault --format json $WORK/tree")
    for n in "${COUNTS[@]}"; do
        ARGS+=(-n "$label vault $n" "env KEEP_VAULT=$WORK/v$n/vault.db $bin scan --format json $WORK/tree")
    done
done
hyperfine -N -i --warmup 1 --runs "$RUNS" --export-json "$WORK/scan.json" "${ARGS[@]}" >/dev/null
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$WORK/scan.json" <<'PY'
import json, statistics, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
print("| binary | vault values | median wall (s) | mean CPU (s) | wall / plain | CPU / plain |")
print("|---|---|---|---|---|---|")
for label in ("old", "new"):
    plain = res.get(f"{label} plain")
    if not plain:
        continue
    pw, pc = statistics.median(plain["times"]), plain["user"] + plain["system"]
    for n in ("plain", "vault 0", "vault 100", "vault 10000"):
        r = res[f"{label} {n}"]
        w, c = statistics.median(r["times"]), r["user"] + r["system"]
        count = "none (--no-vault)" if n == "plain" else f"{int(n.split()[1]):,}"
        print(f"| {label} | {count} | {w:.2f} | {c:.2f} | {w / pw:.2f}x | {c / pc:.2f}x |")
PY
