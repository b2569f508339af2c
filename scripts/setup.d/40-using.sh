# Peers of the "using secrets" tests (tests/using_*.rs):
# - script (bsdutils): runs `keep exec` under a pseudo-terminal for the TTY pass-through test;
# - git: the materialize/inject git guard is tested in a real temporary repository;
# - python3-yaml: a second, YAML 1.1 reader for `keep env --format yaml`;
# - kubectl: reads the `--format k8s` manifest back (`kubectl annotate --local`, no cluster needed).
#   Debian ships it as kubernetes-client; machines that already have a kubectl keep theirs.
apt_install bsdutils git python3-yaml
command -v kubectl >/dev/null 2>&1 || apt_install kubernetes-client
