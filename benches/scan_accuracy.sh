#!/usr/bin/env bash
# Recall and precision of keep, gitleaks and kingfisher on the labeled corpus from scan_corpus.py.
# usage: benches/scan_accuracy.sh [WORK_DIR]
source "$(dirname "$0")/scan_tools.sh"
WORK="${1:-${TMPDIR:-/tmp}/keep-scan-accuracy}"
rm -rf "$WORK" && mkdir -p "$WORK"
python3 "$ROOT/benches/scan_corpus.py" "$WORK"
cd "$WORK/tree"
"$KEEP" scan . --no-vault --format json > "$WORK/keep.json" || true
"$GITLEAKS" dir . --no-banner --exit-code 0 -f json -r "$WORK/gitleaks.json" -l error || true
"$KINGFISHER" scan . --no-validate --no-update-check --format json > "$WORK/kingfisher.json" 2>/dev/null || true
python3 "$ROOT/benches/scan_score.py" "$WORK"
