#!/usr/bin/env bash
# Build the web app (web/ → web/dist) when its sources or lock file changed since the last build; `make run`
# and the browser tests call it. node_modules stays in web/, npm's cache outside the repo.
# Prints why it did nothing when there is no web app yet.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f web/package.json ]; then
  echo "build-web.sh: no web app yet (web/package.json is missing): nothing to build; the gateway says so at /"
  exit 0
fi
[ -f web/package-lock.json ] || { echo "build-web.sh: web/package-lock.json is missing: the app's dependencies must be pinned (npm install once, commit the lock file)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "build-web.sh: npm is missing: install Node.js 20 (apt-get install nodejs npm)" >&2; exit 1; }

state="var/web-build"
mkdir -p "$state"
# Every file of web/ except what npm and the build write.
sources=$(find web -type f -not -path 'web/node_modules/*' -not -path 'web/dist/*' -not -path 'web/coverage/*' \
            -not -path 'web/.vite/*' -not -name '*.tsbuildinfo' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum \
          | sha256sum | cut -d' ' -f1)
if [ -f web/dist/index.html ] && [ "$(cat "$state/sources.sha256" 2>/dev/null)" = "$sources" ]; then
  echo "build-web.sh: web app unchanged since the last build (web/dist)"
  exit 0
fi

export npm_config_cache="${CLOSELOOP_CACHE:-$HOME/.cache/closeloop}/npm"
lock=$(sha256sum web/package-lock.json | cut -d' ' -f1)
if [ ! -d web/node_modules ] || [ "$(cat "$state/lock.sha256" 2>/dev/null)" != "$lock" ]; then
  echo "build-web.sh: npm ci (web/package-lock.json)"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock" > "$state/lock.sha256"
fi
echo "build-web.sh: npm run build"
(cd web && npm run build)
[ -f web/dist/index.html ] || { echo "build-web.sh: the build wrote no web/dist/index.html" >&2; exit 1; }
echo "$sources" > "$state/sources.sha256"
