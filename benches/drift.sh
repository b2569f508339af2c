#!/usr/bin/env bash
# Benchmark: keep stays as fast after heavy use as when new (issue 17, "no drift").
#
#   ./benches/drift.sh [READS] [RUNS]     # KEEP_BIN=path/to/keep to measure a given binary
#
# A vault with 100 secrets and an unlocked session. A copy of the new vault (its file and its
# records outside the file) is put aside; then READS consecutive reads (half `get`, half `exec`, each
# one a process that appends its audit entry) go to the vault in use. Finally one hyperfine run times
# `keep get S_042` and `keep exec -- true` on both, side by side (RUNS each; both arms go through
# `env` to pick their vault), and prints the medians, used / new (goal <= 1.1x), and the sizes of
# vault.db and vault.db-wal (the WAL must stay under its documented bound: src/store/mod.rs truncates
# it after a commit that leaves it over 256 KiB).
# Everything lives in a temp folder; the session is locked again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
READS="${1:-10000}"
RUNS="${2:-200}"

# shellcheck source=benches/tools.sh
source benches/tools.sh
need hyperfine hyperfine
keep_under_test

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
# Both vaults share the vault id, so the one session key opens both; each has its own state folder
# (audit witness and write-generation record).
measure() {
    local new="env KEEP_VAULT=$WORK/new/vault.db XDG_STATE_HOME=$WORK/new/state $KEEP"
    local used="env KEEP_VAULT=$KEEP_VAULT XDG_STATE_HOME=$XDG_STATE_HOME $KEEP"
    hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/times.json" \
        -n "new get" "$new get S_042" -n "used get" "$used get S_042" \
        -n "new exec" "$new exec -- true" -n "used exec" "$used exec -- true" >/dev/null 2>&1
}

sizes first
mkdir -p "$WORK/new"
cp -a "$KEEP_VAULT" "$WORK/new/"
[ -e "$KEEP_VAULT-wal" ] && cp -a "$KEEP_VAULT-wal" "$WORK/new/"
cp -a "$XDG_STATE_HOME" "$WORK/new/state"
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
measure

python3 - "$WORK" "$READS" <<'PY'
import json, sys, os
work, reads = sys.argv[1], sys.argv[2]
r = json.load(open(os.path.join(work, "times.json")))["results"]
t = {x["command"]: x["median"] * 1000 for x in r}
print(f"| command | new vault (ms) | after {reads} reads (ms) | used / new |")
print("|---|---|---|---|")
for k in ("get", "exec"):
    ratio = t[f"used {k}"] / t[f"new {k}"]
    verdict = "goal <= 1.1x: OK" if ratio <= 1.1 else "goal <= 1.1x: MISSED"
    print(f"| keep {k} | {t[f'new {k}']:.2f} | {t[f'used {k}']:.2f} | {ratio:.2f}x ({verdict}) |")
PY
