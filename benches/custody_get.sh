#!/usr/bin/env bash
# Whole-process `keep get` on an HSM vault (SoftHSM2, no session cache): module load + login +
# AES-GCM unwrap + header check + one value, median of 50 runs with hyperfine. Side by side, the same
# `keep get` on a passphrase vault with the default Argon2id cost (64 MiB, t=3), and the ratio.
#
#   benches/custody_get.sh            # builds target/release/keep first
#   KEEP_BIN=path/to/keep benches/custody_get.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${KEEP_BIN:-}" ]; then
    cargo build --release --bin keep >&2
    KEEP_BIN="${CARGO_TARGET_DIR:-target}/release/keep"
fi
KEEP_BIN=$(realpath "$KEEP_BIN")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
eval "$(softhsm/make-token.sh "$work/token" bench 1234 2>/dev/null)"
printf 1234 > "$work/pin"
printf 'bench passphrase' > "$work/pass"
export KEEP_PKCS11_LOCK="$work/lock" XDG_RUNTIME_DIR="$work"

hsm_env=(env -u KEEP_PASSPHRASE_FILE KEEP_VAULT="$work/hsm.db" KEEP_PKCS11_PIN_FILE="$work/pin")
pass_env=(env -u KEEP_PKCS11_PIN_FILE KEEP_VAULT="$work/pass.db" KEEP_PASSPHRASE_FILE="$work/pass")
"${hsm_env[@]}" "$KEEP_BIN" init --hsm --token bench --key bench --generate --no-recovery 2>/dev/null
printf 'value' | "${hsm_env[@]}" "$KEEP_BIN" set BENCH 2>/dev/null
"${pass_env[@]}" "$KEEP_BIN" init --no-recovery 2>/dev/null
printf 'value' | "${pass_env[@]}" "$KEEP_BIN" set BENCH 2>/dev/null

hyperfine --runs 50 --warmup 3 -N --export-json "$work/h.json" \
    -n hsm "${hsm_env[*]} $KEEP_BIN get BENCH" \
    -n passphrase "${pass_env[*]} $KEEP_BIN get BENCH" >&2
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
h, p = r["hsm"]["median"] * 1000, r["passphrase"]["median"] * 1000
print(f"keep get, HSM slot (SoftHSM2, no cache):   median {h:.1f} ms of 50 runs")
print(f"keep get, passphrase slot (Argon2id 64MiB): median {p:.1f} ms of 50 runs")
print(f"ratio passphrase/hsm: {p / h:.1f}x")
PY
