#!/usr/bin/env bash
# Throughput of keep, gitleaks and kingfisher on the same tree, 5 runs each, interleaved, with the
# page cache warm. Prints MiB/s (median of the runs) and keep's ratio to each.
# usage: benches/scan_speed.sh [TREE] [RUNS]   (default TREE: ~/.cargo/registry/src)
source "$(dirname "$0")/scan_tools.sh"
TREE="${1:-$HOME/.cargo/registry/src}"
RUNS="${2:-5}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
BYTES=$(find "$TREE" -type f -size -10M -printf '%s\n' | awk '{s+=$1} END {print s}')
MIB=$(awk -v b="$BYTES" 'BEGIN {printf "%.1f", b/1048576}')
echo "tree: $TREE ($MIB MiB in files under 10 MiB), $(nproc) CPUs, $RUNS runs each" >&2
find "$TREE" -type f -size -10M -print0 | xargs -0 cat >/dev/null # warm the page cache

run() { # name command...
    local name=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b-a}' >>"$OUT/$name"
}
for i in $(seq "$RUNS"); do
    run keep "$KEEP" scan "$TREE" --no-vault --format json
    run gitleaks "$GITLEAKS" dir "$TREE" --no-banner --exit-code 0 -f json -r "$OUT/gl.json" -l error --max-target-megabytes 10
    run kingfisher "$KINGFISHER" scan "$TREE" --no-validate --no-update-check --format json --max-file-size 10
    echo "run $i done" >&2
done
median() { sort -n "$OUT/$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
K=$(median keep); G=$(median gitleaks); F=$(median kingfisher)
echo "| scanner | median time (s) | MiB/s | keep is |"
echo "|---|---|---|---|"
for n in keep gitleaks kingfisher; do
    t=$(median $n)
    awk -v n="$n" -v t="$t" -v m="$MIB" -v k="$K" 'BEGIN {printf "| %s | %.2f | %.1f | %.2fx |\n", n, t, m/t, t/k}'
done
