# The fuzz smoke (scripts/fuzz-smoke.sh): cargo-fuzz drives libFuzzer, whose C++ runtime needs a C++
# compiler. cargo-fuzz's instrumentation flags are nightly-only; the smoke unlocks them on the stable
# toolchain with RUSTC_BOOTSTRAP=1, so no nightly toolchain is installed.
apt_install g++ make
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2
