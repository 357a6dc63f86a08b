#!/usr/bin/env bash
# Installs Debian's chromium for the browser check when /usr/bin/chromium is missing (CI runs as root).
# Exits non-zero with a clear message when it cannot.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "chromium present: $CHROMIUM"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium.sh: $CHROMIUM is missing and apt-get is not available; install Debian's chromium package" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium.sh: $CHROMIUM is missing and this is not root (uid $(id -u)); run: apt-get install chromium" >&2
  exit 3
fi
echo "installing Debian's chromium ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
if [ ! -x "$CHROMIUM" ]; then
  echo "install-chromium.sh: apt-get finished but $CHROMIUM is still missing" >&2
  exit 4
fi
echo "chromium installed: $CHROMIUM"
