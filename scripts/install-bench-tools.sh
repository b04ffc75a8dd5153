#!/usr/bin/env bash
# Debian's wrk, the native HTTP load generator of the API benches (bench/run), so the client is not the
# bottleneck. Installed once; a second run returns at once.
set -euo pipefail

command -v wrk >/dev/null 2>&1 && exit 0

echo "install-bench-tools.sh: installing wrk (the benches' load generator)"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends wrk >/dev/null 2>&1 \
  || { $SUDO apt-get update -q >/dev/null 2>&1 \
       && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends wrk >/dev/null; } \
  || { echo "install-bench-tools.sh: 无法安装 wrk / cannot install wrk; run: apt-get install wrk" >&2; exit 1; }
command -v wrk >/dev/null 2>&1 || { echo "install-bench-tools.sh: wrk still missing after install" >&2; exit 1; }
