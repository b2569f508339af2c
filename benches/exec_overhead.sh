#!/usr/bin/env bash
# Benchmark: what `keep exec` costs on top of the command it runs, side by side with dotenvx.
#
#   ./benches/exec_overhead.sh [RUNS]
#
# With an unlocked session (`keep unlock`) and 100 secrets in the scope, it times in one hyperfine run:
#   true                              (the baseline)
#   keep exec -- true                 (goal: median <= 5 ms above the baseline)
#   dotenvx run -f .env -- true       (npm @dotenvx/dotenvx, same 100 values in a plain .env)
# and prints the medians, keep's overhead over `true`, and the keep/dotenvx ratio.
# It installs what it needs: hyperfine (Debian) and @dotenvx/dotenvx (npm, into a temp prefix).
# Everything lives in a temp folder; the session is locked again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-300}"

command -v hyperfine >/dev/null 2>&1 || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
}
command -v npm >/dev/null 2>&1 || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
}

cargo build --release --quiet
KEEP="${CARGO_TARGET_DIR:-target}/release/keep"
KEEP="$(realpath "$KEEP")"

WORK="$(mktemp -d)"
export KEEP_VAULT="$WORK/vault.db"
export KEEP_PASSPHRASE_FILE="$WORK/pass"
export HOME="$WORK" XDG_DATA_HOME="$WORK/xdg"
cleanup() {
    "$KEEP" lock >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

npm install --silent --no-audit --no-fund --prefix "$WORK/npm" @dotenvx/dotenvx >/dev/null
DOTENVX="$WORK/npm/node_modules/.bin/dotenvx"

echo "bench passphrase" >"$KEEP_PASSPHRASE_FILE"
"$KEEP" init >/dev/null 2>&1
python3 - "$WORK/.env" <<'PY'
import secrets, sys
with open(sys.argv[1], "w") as f:
    for i in range(100):
        f.write(f"SECRET_{i:03d}={secrets.token_urlsafe(32)}\n")
PY
"$KEEP" import "$WORK/.env" >/dev/null 2>&1
"$KEEP" unlock --ttl 10m >/dev/null 2>&1
# From here on only the session cache opens the vault: no passphrase, no KDF.
unset KEEP_PASSPHRASE_FILE
test "$("$KEEP" exec -- sh -c 'echo $SECRET_042' | wc -c)" -gt 40

cd "$WORK"
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/result.json" \
    -n true "true" \
    -n "keep exec" "$KEEP exec -- true" \
    -n "dotenvx run" "$DOTENVX run -q -f .env -- true" >&2

python3 - "$WORK/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
for k in ("true", "keep exec", "dotenvx run"):
    print(f"{k:<12} median {med[k]:8.2f} ms")
over = med["keep exec"] - med["true"]
print(f"keep exec overhead over true: {over:.2f} ms (goal <= 5 ms): {'OK' if over <= 5 else 'MISSED'}")
print(f"dotenvx run / keep exec: {med['dotenvx run'] / med['keep exec']:.1f}x")
# CPU time (user + system, mean) moves less than wall time when the machine is shared.
cpu = {k: (v["user"] + v["system"]) * 1000 for k, v in r.items()}
print(f"cpu (user+sys, mean): true {cpu['true']:.2f} ms, keep exec {cpu['keep exec']:.2f} ms, "
      f"dotenvx run {cpu['dotenvx run']:.2f} ms")
PY
