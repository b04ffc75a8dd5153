#!/usr/bin/env bash
# Build the example OpenID provider of github.com/zitadel/oidc/v3 (Apache-2.0) once, outside the repo,
# for the sign-in tests; print the binary's path. Usage: scripts/oidc-provider.sh [--print-path]
set -euo pipefail

VERSION="v3.52.0"
CACHE="${CLOSELOOP_CACHE:-$HOME/.cache/closeloop}"
BIN="$CACHE/zitadel-oidc-$VERSION/op"

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null 2>&1 || { echo "oidc-provider.sh: Go is needed to build the OIDC provider (install golang)" >&2; exit 1; }
  echo "oidc-provider.sh: building the zitadel/oidc $VERSION example provider into $BIN" >&2
  dir=$(go mod download -json "github.com/zitadel/oidc/v3@$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  # The module cache is read-only: build from a writable copy.
  cp -r "$dir"/. "$work/"
  chmod -R u+w "$work"
  mkdir -p "$(dirname "$BIN")"
  (cd "$work" && go build -o "$BIN.tmp" ./example/server)
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
