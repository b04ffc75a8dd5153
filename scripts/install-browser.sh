#!/usr/bin/env bash
# Debian's Chromium and the CJK fonts for the browser tests (CI starts on a fresh machine).
# Playwright drives /usr/bin/chromium directly, so no `playwright install` download is needed.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-noto-cjk 2>/dev/null | grep -q "^Status: install ok installed" || missing+=(fonts-noto-cjk)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-browser.sh: installing ${missing[*]} (browser tests)"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { $SUDO apt-get update -q >/dev/null 2>&1 \
       && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } \
  || { echo "install-browser.sh: cannot install ${missing[*]}; run: apt-get install ${missing[*]}" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "install-browser.sh: /usr/bin/chromium still missing after install" >&2; exit 1; }
