#!/usr/bin/env bash
# Start the real servers, run every test against them, stop them. Used by `make test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

started_at=$(date +%s)
# Lint first (ruff's rule set and mypy strict, see pyproject.toml): an error fails the run before any server starts.
make --no-print-directory lint
# docker-compose (Debian's 1.29) only validates docker-compose.yml in a test; no engine is needed.
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "test.sh: installing docker-compose (to validate docker-compose.yml)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose >/dev/null; } \
    || { echo "test.sh: cannot install docker-compose; install it (apt-get install docker-compose) and rerun"; exit 1; }
fi
# The browser tests drive Debian's Chromium (with CJK fonts for the screenshots); they fail without it.
scripts/install-browser.sh
# The document tests embed Noto CJK in PDFs and read them back with poppler (pdftotext, pdftoppm).
scripts/install-documents.sh
# The web app, when web/ has one and it changed (tests/web builds it too; this shows the build's output once).
scripts/build-web.sh
scripts/servers.sh start
trap 'scripts/servers.sh stop >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
source "${CLOSELOOP_SERVERS_DIR:-$PWD/var/test-servers}/env"
export CLOSELOOP_TEST_PG CLOSELOOP_TEST_KAFKA
# A test that needs Kafka or PostgreSQL fails (never skips) when they are not there.
export CLOSELOOP_REQUIRE_SERVERS=1

status=0
.venv/bin/pytest -p no:cacheprovider -q -ra "$@" tests || status=$?
echo "make test: ${status} (0 = all passed) in $(( $(date +%s) - started_at )) s"
exit "$status"
