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

# Build artifacts live outside the checkout, in a cache that survives between runs on one machine (as
# the target/ caches of hosted CI do): CI checks out main afresh each time, and building the
# dependencies cold (the cloud SDKs above all, and the fuzz targets' instrumented build) was most of
# a run. Cargo's fingerprints rebuild whatever the checkout changed. A fresh machine starts cold;
# KEEP_CI_CACHE= (empty) builds in ./target and fuzz/target instead; a CARGO_TARGET_DIR already set
# wins for the main build.
#
# As root the cache is /var/cache/keep-ci, not under root's home: tests/it/canary_process.rs runs
# the built keep as nobody, who cannot pass through a 0700 /root. A cache another user could write
# to could hand CI a planted binary, so it is used only when it is this user's and no one else's.
if [ "$(id -u)" = 0 ]; then
    default_cache=/var/cache/keep-ci
else
    default_cache="${XDG_CACHE_HOME:-$HOME/.cache}/keep-ci"
fi
cache="${KEEP_CI_CACHE-$default_cache}"
if [ -n "$cache" ]; then
    mkdir -p -m 0755 "$cache"
    if [ "$(stat -c %u "$cache")" != "$(id -u)" ] || [ -n "$(find "$cache" -maxdepth 0 -perm /022)" ]; then
        echo "== test.sh: $cache is not this user's alone; building in the checkout" >&2
    else
        export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
        export KEEP_FUZZ_TARGET_DIR="$cache/fuzz-target"
    fi
fi

# Each step prints its wall time, so a slow CI run says where its time went.
started=$(date +%s)
step() {
    local s
    s=$(date +%s)
    "$@"
    echo "== test.sh: '$*' took $(($(date +%s) - s)) s ($(($(date +%s) - started)) s so far)" >&2
}

for setup in scripts/setup.d/*.sh; do
    [ -e "$setup" ] || continue
    echo "== setup: $setup" >&2
    # shellcheck source=/dev/null
    source "$setup"
done

echo "== test.sh: setup took $(($(date +%s) - started)) s" >&2

step cargo fmt --all -- --check
step cargo clippy --locked --all-targets -- -D warnings
step cargo test --locked --all-targets --no-run
step cargo test --locked --all-targets
step cargo test --locked --doc
step scripts/fuzz-smoke.sh
