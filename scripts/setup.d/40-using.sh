# Peers of the "using secrets" tests (tests/using_*.rs):
# - script (bsdutils): runs `keep exec` under a pseudo-terminal for the TTY pass-through test;
# - git: the materialize/inject git guard is tested in a real temporary repository;
# - PyYAML: a second, YAML 1.1 reader for `keep env --format yaml`;
# - kubectl: reads the `--format k8s` manifest back (`kubectl annotate --local`, no cluster needed).
#   Debian ships it as kubernetes-client; machines that already have a kubectl keep theirs.
apt_install bsdutils git
# The tests run `python3` from PATH (pyenv here, not Debian's), so PyYAML goes through pip.
python3 -c "import yaml" 2>/dev/null || pip_install pyyaml
command -v kubectl >/dev/null 2>&1 || apt_install kubernetes-client
# keyutils: the isolation tests run `keyctl` inside an exec child and a hook to prove they cannot read
# the session keyring's cached key (tests/it/isolation.rs).
apt_install keyutils
