# Key custody tests (tests/custody_*.rs): SoftHSM2 as the PKCS#11 token, OpenSC's pkcs11-tool to make
# keys outside keep, and the age CLI to check keep's age files both ways. hyperfine is for
# benches/custody_get.sh.
apt_install softhsm2 opensc age hyperfine
# openssh-client: ssh-keygen makes the ssh-ed25519/ssh-rsa recipients `keep export --age` accepts
# (tests/it/custody_age.rs decrypts them with the age CLI).
apt_install openssh-client
