#!/usr/bin/env bash
# Debian's CJK fonts (embedded in the PDFs notify renders) and poppler-utils (pdftotext/pdftoppm read them back in
# the document tests). CI starts on a fresh machine.
set -euo pipefail

missing=()
dpkg -s fonts-noto-cjk 2>/dev/null | grep -q "^Status: install ok installed" || missing+=(fonts-noto-cjk)
command -v pdftotext >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-documents.sh: installing ${missing[*]} (document tests)"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { $SUDO apt-get update -q >/dev/null 2>&1 \
       && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } \
  || { echo "install-documents.sh: cannot install ${missing[*]}; run: apt-get install ${missing[*]}" >&2; exit 1; }
command -v pdftotext >/dev/null 2>&1 || { echo "install-documents.sh: pdftotext still missing after install" >&2; exit 1; }
