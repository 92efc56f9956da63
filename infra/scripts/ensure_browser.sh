#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (/usr/bin/chromium) through Playwright; Playwright's
# own browser downloads are never used. Install Chromium (and a font, so screenshots have text)
# when it is missing (Debian, as root, or with sudo).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "[browser] installing chromium (Debian package)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# apt's lock may be held by another install for a moment: wait for it rather than fail.
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends chromium fonts-dejavu-core
command -v chromium >/dev/null 2>&1
