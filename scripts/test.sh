#!/usr/bin/env bash
# The whole test suite. On a fresh Debian machine it first installs what the tests need (each
# scripts/setup.d/*.sh file installs one peer: SoftHSM2, the age CLI, moto, OpenBao...), then runs
# every unit, integration, doc and benchmark-smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Helpers for the setup files.
APT_UPDATED=0
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$APT_UPDATED" = 0 ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
pip_install() {
    python3 -m pip install --quiet --disable-pip-version-check "$@"
}

for setup in scripts/setup.d/*.sh; do
    [ -e "$setup" ] || continue
    echo "== setup: $setup" >&2
    # shellcheck source=/dev/null
    source "$setup"
done

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets
cargo test --locked --doc
scripts/fuzz-smoke.sh
