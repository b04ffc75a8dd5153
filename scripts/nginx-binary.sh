#!/usr/bin/env bash
# Debian's nginx, unpacked (not installed: no service is started) into ~/.cache/closeloop, so the tests can
# check deploy/nginx.conf with `nginx -t`; prints the binary's path.
set -euo pipefail

CACHE="${CLOSELOOP_CACHE:-$HOME/.cache/closeloop}/nginx-deb"
BIN="$CACHE/root/usr/sbin/nginx"
if [ ! -x "$BIN" ]; then
  echo "nginx-binary.sh: unpacking Debian's nginx into $CACHE" >&2
  mkdir -p "$CACHE/debs"
  cd "$CACHE/debs"
  apt-get download nginx nginx-common >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get download nginx nginx-common >/dev/null; } \
    || { echo "nginx-binary.sh: cannot download Debian's nginx packages (apt-get download nginx)" >&2; exit 1; }
  for deb in ./*.deb; do dpkg -x "$deb" "$CACHE/root"; done
fi
echo "$BIN"
