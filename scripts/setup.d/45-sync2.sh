# Sync peers (issue 7): gcplocal (GCP Secret Manager, completed by tests/peers/gcp_secretmanager.py)
# and kmock (a Kubernetes API emulator, with resourceVersion conflicts added by tests/peers/k8s_secrets.py),
# both from PyPI; kubectl (Debian/Google apt package) checks `keep env --format k8s` offline when present.
# Sourced by scripts/test.sh.
if ! python3 -c "import gcplocal, cryptography" >/dev/null 2>&1; then
    pip_install "gcplocal==0.1.0"
fi
if ! python3 -c "import kmock" >/dev/null 2>&1; then
    pip_install "kmock==0.8"
fi
# Fail here, not in the middle of the tests, if either peer cannot be imported.
python3 -c "import gcplocal.server, gcplocal.services.secretmanager, kmock"
