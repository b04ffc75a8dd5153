#!/usr/bin/env bash
# Regenerate the API types: the four OpenAPI documents and the lifecycle from the Python code,
# then TypeScript types with openapi-typescript. Never edit src/api/generated/ by hand.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
"$python" "$here/scripts/export_api.py"
cd "$here"
for service in issues verification scoring notify; do
  npx --no-install openapi-typescript "openapi/$service.json" -o "src/api/generated/$service.ts"
done
