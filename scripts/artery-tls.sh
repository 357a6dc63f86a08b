#!/usr/bin/env bash
# Makes the key store that cluster nodes use for Artery over TLS (COLLAB_ARTERY_TRANSPORT=tls-tcp):
# one RSA key pair with a self-signed certificate, in PKCS12, used by every node as its key store and
# as its trust store, so that a node joins only if it holds this key. Needs a JDK's keytool.
#   scripts/artery-tls.sh DIR      writes DIR/artery.p12 and DIR/password (a random password), once
set -euo pipefail
dir="${1:?usage: scripts/artery-tls.sh DIR}"
mkdir -p "$dir"
if [[ -f "$dir/artery.p12" && -f "$dir/password" ]]; then
  echo "$dir/artery.p12 exists; delete it to make a new one" >&2
  exit 0
fi
keytool="${JAVA_HOME:+$JAVA_HOME/bin/}keytool"
umask 077
password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)"
"$keytool" -genkeypair -alias ripple-artery -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=ripple-artery" \
  -storetype PKCS12 -keystore "$dir/artery.p12" -storepass "$password" -keypass "$password" >/dev/null 2>&1
printf '%s' "$password" > "$dir/password"
# the key store is encrypted with the password; containers run the server as uid 10001 and must read it
chmod 644 "$dir/artery.p12"
echo "wrote $dir/artery.p12 and $dir/password"
