# Fault-injection tests (tests/faults_*.rs): `mount` for the tmpfs cases (full disk, read-only
# mount), a C compiler for the PKCS#11 lost-session shim, pkcs11-tool/softhsm2 (20-custody.sh) and
# OpenBao (40-sync.sh). Usually all present already; this only makes them explicit.
apt_install mount gcc libc6-dev
