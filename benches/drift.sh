#!/usr/bin/env bash
# Benchmark: keep stays as fast after heavy use as when new (issue 17, "no drift").
#
#   ./benches/drift.sh [READS] [RUNS]     # KEEP_BIN=path/to/keep to measure a given binary
#
# A vault with 100 secrets and an unlocked session. It times `keep get S_042` and `keep exec -- true`
# (hyperfine, RUNS each), then performs READS consecutive reads (half `get`, half `exec`, each one a
# process that appends its audit entry), then times both again, and prints the before/after medians,
# their ratio (goal <= 1.1x), and the sizes of vault.db and vault.db-wal at each point (the WAL must
# stay under its documented bound: 512 KiB of pages before a commit checkpoints it, truncated to
# 1 MiB after; see src/store/mod.rs).
# Everything lives in a temp folder; the session is locked again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
READS="${1:-10000}"
RUNS="${2:-200}"

command -v hyperfine >/dev/null 2>&1 || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
}
if [ -z "${KEEP_BIN:-}" ]; then
    cargo build --release --quiet
    KEEP_BIN="${CARGO_TARGET_DIR:-target}/release/keep"
fi
KEEP="$(realpath "$KEEP_BIN")"

WORK="$(mktemp -d)"
export KEEP_VAULT="$WORK/vault.db"
export KEEP_PASSPHRASE_FILE="$WORK/pass"
export HOME="$WORK" XDG_DATA_HOME="$WORK/xdg" XDG_STATE_HOME="$WORK/state"
cleanup() {
    "$KEEP" lock >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "bench passphrase" >"$KEEP_PASSPHRASE_FILE"
"$KEEP" init >/dev/null 2>&1
for i in $(seq -w 0 99); do echo "S_0$i=$(head -c 24 /dev/urandom | base64)"; done >"$WORK/.env"
"$KEEP" import "$WORK/.env" >/dev/null 2>&1
"$KEEP" unlock --ttl 2h >/dev/null 2>&1
unset KEEP_PASSPHRASE_FILE

sizes() { # label
    local wal=0
    [ -e "$KEEP_VAULT-wal" ] && wal=$(stat -c %s "$KEEP_VAULT-wal")
    echo "$1: vault.db $(stat -c %s "$KEEP_VAULT") B, vault.db-wal $wal B" >&2
    echo "$wal" >"$WORK/wal.$1"
}
measure() { # label
    hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/$1.json" \
        -n get "$KEEP get S_042" -n exec "$KEEP exec -- true" >/dev/null 2>&1
}

sizes first
measure first
# The heavy use, timed only as a whole.
start=$(date +%s.%N)
max_wal=0
for i in $(seq "$READS"); do
    if [ $((i % 2)) = 0 ]; then "$KEEP" get S_042 >/dev/null; else "$KEEP" exec -- true; fi
    if [ $((i % 500)) = 0 ] && [ -e "$KEEP_VAULT-wal" ]; then
        w=$(stat -c %s "$KEEP_VAULT-wal"); [ "$w" -gt "$max_wal" ] && max_wal=$w
    fi
done
end=$(date +%s.%N)
echo "$READS reads in $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b-a}') s; largest WAL seen (every 500 reads): $max_wal B" >&2
sizes after
measure after

python3 - "$WORK" "$READS" <<'PY'
import json, sys, os
work, reads = sys.argv[1], sys.argv[2]
def med(label):
    r = json.load(open(os.path.join(work, f"{label}.json")))["results"]
    return {x["command"]: x["median"] * 1000 for x in r}
a, b = med("first"), med("after")
print(f"| command | first (ms) | after {reads} reads (ms) | after / first |")
print("|---|---|---|---|")
for k in ("get", "exec"):
    ratio = b[k] / a[k]
    print(f"| keep {k} | {a[k]:.2f} | {b[k]:.2f} | {ratio:.2f}x {'(goal <= 1.1x: OK)' if ratio <= 1.1 else '(goal <= 1.1x: MISSED)'} |")
PY
