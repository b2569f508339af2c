#!/usr/bin/env bash
# Benchmark: what `keep exec --redact` costs with a large value (issue 14, "Redaction is linear").
#
#   ./benches/redact.sh [SIZE_KIB]            # default 64 (a kubeconfig-sized value)
#   KEEP_BIN=target/debug/keep ./benches/redact.sh   # measure a binary already built
#
# One vault holds one multiline value of SIZE_KIB KiB (kubeconfig-like: YAML keys and base64 rows);
# another holds one 32-byte value, the baseline. For each it runs, with /usr/bin/time:
#   keep exec --redact -- true              (building the patterns)
#   keep exec --redact -- cat OUT           (OUT: 8 MiB of text holding the value 16 times)
# and prints wall time and peak RSS; "extra" is the large value's peak RSS minus the baseline's.
# It checks that no copy of the value's first line reaches the output. Goal: under 0.5 s and
# under 50 MiB extra for 64 KiB.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_KIB="${1:-64}"
if [ -z "${KEEP_BIN:-}" ]; then
    cargo build --release --quiet
    KEEP_BIN="${CARGO_TARGET_DIR:-target}/release/keep"
fi
KEEP="$(realpath "$KEEP_BIN")"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export HOME="$WORK" XDG_DATA_HOME="$WORK/xdg" KEEP_PASSPHRASE="bench passphrase"


python3 - "$WORK" "$SIZE_KIB" <<'PY'
import base64, os, sys
work, kib = sys.argv[1], int(sys.argv[2])
lines = ["apiVersion: v1", "kind: Config", "clusters:"]
while sum(len(l) + 1 for l in lines) < kib * 1024:
    lines.append("- cluster:")
    lines.append("    certificate-authority-data: " + base64.b64encode(os.urandom(600)).decode())
    lines.append("    server: https://10.0.%d.1:6443" % (len(lines) % 250))
value = "\n".join(lines)[: kib * 1024]
open(f"{work}/big.value", "w").write(value)
open(f"{work}/small.value", "w").write(base64.b64encode(os.urandom(24)).decode())
filler = "".join("log line %d: request ok in %d ms\n" % (i, i % 97) for i in range(20000))
with open(f"{work}/out.txt", "w") as f:
    while f.tell() < 8 * 1024 * 1024:
        f.write(filler[: 512 * 1024])
        f.write(value)
        f.write("\n")
PY

run() { # label vault args...
    local label="$1" vault="$2"
    shift 2
    /usr/bin/time -f "%e %M" -o "$WORK/time" env KEEP_VAULT="$vault" "$KEEP" exec --redact -- "$@" >"$WORK/stdout"
    read -r secs kib <"$WORK/time"
    printf '%-40s %8.2f s %8.1f MiB\n' "$label" "$secs" "$(echo "$kib / 1024" | bc -l)"
    echo "$kib" >"$WORK/rss.$label"
}

for which in small big; do
    KEEP_VAULT="$WORK/$which.db" "$KEEP" init --kdf-memory 8MiB --kdf-iterations 1 >/dev/null 2>&1
    KEEP_VAULT="$WORK/$which.db" "$KEEP" set --raw VALUE <"$WORK/$which.value" >/dev/null 2>&1
done
echo "value: $(wc -c <"$WORK/big.value") bytes, output: $(wc -c <"$WORK/out.txt") bytes"
run small-true "$WORK/small.db" true
run big-true "$WORK/big.db" true
run small-cat "$WORK/small.db" cat "$WORK/out.txt"
run big-cat "$WORK/big.db" cat "$WORK/out.txt"
if grep -qF "$(sed -n 5p "$WORK/big.value")" "$WORK/stdout"; then
    echo "FAIL: a line of the value reached the output" >&2
    exit 1
fi
echo "redacted: $(grep -c 'REDACTED:VALUE' "$WORK/stdout") marker(s)"
printf 'extra peak RSS for the large value: %.1f MiB (true), %.1f MiB (cat)\n' \
    "$(echo "($(cat "$WORK/rss.big-true") - $(cat "$WORK/rss.small-true")) / 1024" | bc -l)" \
    "$(echo "($(cat "$WORK/rss.big-cat") - $(cat "$WORK/rss.small-cat")) / 1024" | bc -l)"
