#!/usr/bin/env bash
# Create a throwaway SoftHSM2 token in DIR, never touching the system token directory.
#
#   softhsm/make-token.sh DIR [LABEL] [USER_PIN] [SO_PIN]
#
# Writes DIR/softhsm2.conf and DIR/tokens/, initialises a token, and prints the lines to export:
#   export SOFTHSM2_CONF=DIR/softhsm2.conf
#   export KEEP_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
set -euo pipefail
dir=${1:?usage: make-token.sh DIR [LABEL] [USER_PIN] [SO_PIN]}
label=${2:-keep-test}
pin=${3:-1234}
so_pin=${4:-12345678}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
sed "s|@TOKENDIR@|$dir/tokens|" "$here/softhsm2.conf.template" > "$dir/softhsm2.conf"
export SOFTHSM2_CONF="$dir/softhsm2.conf"
softhsm2-util --init-token --free --label "$label" --pin "$pin" --so-pin "$so_pin" >&2
module=""
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
         /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
    [ -f "$m" ] && { module=$m; break; }
done
echo "export SOFTHSM2_CONF=$dir/softhsm2.conf"
echo "export KEEP_PKCS11_MODULE=$module"
