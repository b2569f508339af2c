#!/usr/bin/env bash
# Benchmark: how much the vault file and its audit log grow per `keep exec -- true` of 100 secrets.
#
#   ./benches/audit_growth.sh [KEEP] [RUNS] [NAMES]
#   SECRETS=10000 COMMAND="env --format dotenv" ./benches/audit_growth.sh [KEEP] 1
#
# KEEP defaults to this tree's release build; pass an older binary to compare before/after.
# SECRETS (default 100) sets how many secrets, COMMAND (default `exec -- true`) the command measured.
# NAMES: `numbered` (SECRET_000..SECRET_099, the exec benchmark's names; default) or `varied`
# (100 distinct names like STRIPE_WEBHOOK_SECRET that share little beyond their scope).
# With an unlocked session (so the exec logs no unlock entry), it runs RUNS (default 50) execs and
# prints, after a WAL checkpoint, the file's growth (page_count x page_size), the audit rows added and
# their body + MAC bytes, each per exec. Everything lives in a temp folder.
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP="${1:-}"
RUNS="${2:-50}"
NAMES="${3:-numbered}"
SECRETS="${SECRETS:-100}"
COMMAND="${COMMAND:-exec -- true}"
if [ -z "$KEEP" ]; then
    cargo build --release --quiet
    KEEP="${CARGO_TARGET_DIR:-target}/release/keep"
fi
KEEP="$(realpath "$KEEP")"

WORK="$(mktemp -d)"
export KEEP_VAULT="$WORK/vault.db" KEEP_PASSPHRASE_FILE="$WORK/pass"
export HOME="$WORK" XDG_DATA_HOME="$WORK/xdg" XDG_STATE_HOME="$WORK/state"
cleanup() {
    "$KEEP" lock >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "bench passphrase" >"$KEEP_PASSPHRASE_FILE"
"$KEEP" init --kdf-memory 1MiB --kdf-iterations 1 >/dev/null 2>&1
python3 - "$WORK/.env" "$NAMES" "$SECRETS" <<'PY'
import random, secrets, sys
path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "numbered":
    names = [f"SECRET_{i:0{len(str(count - 1))}d}" for i in range(count)]
else:
    random.seed(17)
    a = ["STRIPE", "GITHUB", "AWS", "DATABASE", "REDIS", "SENTRY", "SMTP", "OAUTH", "JWT", "SLACK",
         "TWILIO", "POSTGRES", "S3", "OPENAI", "DATADOG", "ALGOLIA", "MAILGUN", "AUTH0", "GCP", "KAFKA"]
    b = ["API", "WEBHOOK", "CLIENT", "ACCESS", "SIGNING", "ADMIN", "READ", "WRITE", "BACKUP", "PUBLIC"]
    c = ["KEY", "SECRET", "TOKEN", "PASSWORD", "URL", "ID"]
    names = sorted({f"{random.choice(a)}_{random.choice(b)}_{random.choice(c)}" for _ in range(400)})
    names = random.sample(names, min(count, len(names)))
with open(path, "w") as f:
    for n in names:
        f.write(f"{n}={secrets.token_urlsafe(32)}\n")
PY
"$KEEP" import "$WORK/.env" >/dev/null 2>&1
"$KEEP" unlock --ttl 10m >/dev/null 2>&1
unset KEEP_PASSPHRASE_FILE

measure() {
    python3 - "$KEEP_VAULT" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
size = c.execute("PRAGMA page_count").fetchone()[0] * c.execute("PRAGMA page_size").fetchone()[0]
rows, body = c.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(body) + LENGTH(mac)), 0) FROM audit").fetchone()
print(size, rows, body)
PY
}
read -r size0 rows0 bytes0 < <(measure)
# shellcheck disable=SC2086 # COMMAND is words on purpose
for _ in $(seq "$RUNS"); do "$KEEP" $COMMAND >/dev/null; done
read -r size1 rows1 bytes1 < <(measure)
echo "keep $COMMAND, $SECRETS $NAMES names, runs=$RUNS; per run: file +$(((size1 - size0) / RUNS)) bytes," \
    "audit rows +$(((rows1 - rows0) / RUNS)), audit body+mac +$(((bytes1 - bytes0) / RUNS)) bytes"
