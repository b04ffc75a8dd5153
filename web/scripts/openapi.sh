#!/usr/bin/env bash
# Regenerate the API types: the four OpenAPI documents and the lifecycle from the Python code,
# then TypeScript types with openapi-typescript. Never edit src/api/generated/ by hand.
#   bash web/scripts/openapi.sh            write web/openapi/ and web/src/api/generated/
#   bash web/scripts/openapi.sh OUT        write OUT/openapi/ and OUT/generated/ instead (the drift test compares them)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
if [ $# -gt 0 ]; then
  mkdir -p "$1"
  out="$(cd "$1" && pwd)"
  openapi_dir="$out/openapi" generated_dir="$out/generated"
else
  openapi_dir="$here/openapi" generated_dir="$here/src/api/generated"
fi
"$python" "$here/scripts/export_api.py" --openapi-dir "$openapi_dir" --generated-dir "$generated_dir"
cd "$here"
for service in issues verification scoring notify; do
  npx --no-install openapi-typescript "$openapi_dir/$service.json" -o "$generated_dir/$service.ts" >/dev/null
done
