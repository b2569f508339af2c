# The vault core's tests: PyNaCl for the independent format reader (tests/spec_reader).
python3 -c "import nacl.bindings" 2>/dev/null || pip_install "pynacl>=1.5"
