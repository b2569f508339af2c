# keep scan's tests drive a real git (index, history, pre-commit hook).
apt_install git
