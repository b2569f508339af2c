#!/usr/bin/env bash
# Throughput of keep, gitleaks and kingfisher on the same tree, 5 runs each, interleaved, with the
# page cache warm. Prints wall-clock MiB/s and MiB per CPU-second (user+sys, which a busy shared
# machine distorts less), medians of the runs, and keep's ratio to each.
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

run() { # name command...: appends "wall cpu" seconds to $OUT/name
    local name=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$OUT/$name.t" "$@" >/dev/null 2>&1 || true
    awk '{printf "%.3f %.3f\n", $1, $2+$3}' "$OUT/$name.t" >>"$OUT/$name"
}
for i in $(seq "$RUNS"); do
    run keep "$KEEP" scan "$TREE" --no-vault --format json
    run gitleaks "$GITLEAKS" dir "$TREE" --no-banner --exit-code 0 -f json -r "$OUT/gl.json" -l error --max-target-megabytes 10
    run kingfisher "$KINGFISHER" scan "$TREE" --no-validate --no-update-check --format json --max-file-size 10
    echo "run $i done" >&2
done
median() { # file column
    awk -v c="$2" '{print $c}' "$OUT/$1" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}
K=$(median keep 1); KC=$(median keep 2)
echo "| scanner | median wall (s) | MiB/s | keep is (wall) | median CPU (s) | MiB per CPU-s | keep is (CPU) |"
echo "|---|---|---|---|---|---|---|"
for n in keep gitleaks kingfisher; do
    t=$(median $n 1); c=$(median $n 2)
    awk -v n="$n" -v t="$t" -v c="$c" -v m="$MIB" -v k="$K" -v kc="$KC" \
        'BEGIN {printf "| %s | %.2f | %.1f | %.2fx | %.2f | %.1f | %.2fx |\n", n, t, m/t, t/k, c, m/c, c/kc}'
done
