# Rotation/lint tests: `keep lint` asks git which .env files are tracked or ignored (tests/lint_*.rs).
apt_install git
