#!/usr/bin/env bash
# A PostgreSQL cluster for the benchmarks, with PostgreSQL's durable defaults (fsync, synchronous_commit and
# full_page_writes on): figures are measured on what production would run, not on the test cluster's shortcuts
# (scripts/servers.sh turns them off for speed). Its own port, its own data folder, thrown away by `stop`.
#
#   bench/pg.sh start    start it (reuses a running one), print the URL line `export CLOSELOOP_BENCH_PG=...`
#   bench/pg.sh stop     stop it and delete its data
#
# Settings: CLOSELOOP_BENCH_PG_PORT (default: CLOSELOOP_PG_PORT + 1, else 55433).
set -euo pipefail

PORT="${CLOSELOOP_BENCH_PG_PORT:-$(( ${CLOSELOOP_PG_PORT:-55432} + 1 ))}"
ROOT_DIR="/tmp/closeloop-bench-pg-$PORT"
URL="postgresql+asyncpg://closeloop:closeloop@127.0.0.1:$PORT/closeloop"

die() { printf 'bench/pg.sh: 错误 / error: %s\n' "$*" >&2; exit 1; }
PG_BIN="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1 || true)"
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || die "PostgreSQL is not installed; run scripts/servers.sh start once (it installs it)"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
running() { [ -f "$ROOT_DIR/data/PG_VERSION" ] && (cd / && as_pg "$PG_BIN/pg_ctl" status -D "$ROOT_DIR/data" >/dev/null 2>&1); }

start() {
  if ! running; then
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && die "port $PORT is taken; set CLOSELOOP_BENCH_PG_PORT to a free port"
    rm -rf "$ROOT_DIR"
    mkdir -p "$ROOT_DIR/run"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$ROOT_DIR"
    (cd / && as_pg "$PG_BIN/initdb" -D "$ROOT_DIR/data" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$ROOT_DIR/initdb.log" 2>&1) ||
      { cat "$ROOT_DIR/initdb.log" >&2; die "initdb failed (output above)"; }
    # Only where to listen and how many may connect: fsync, synchronous_commit, full_page_writes keep their
    # defaults (on).
    as_pg tee -a "$ROOT_DIR/data/postgresql.conf" >/dev/null <<CONF

# ---- bench/pg.sh: durable defaults kept ----
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$ROOT_DIR/run'
max_connections = 300
logging_collector = off
CONF
    as_pg tee "$ROOT_DIR/data/pg_hba.conf" >/dev/null <<'HBA'
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
HBA
    (cd / && as_pg "$PG_BIN/pg_ctl" start -w -t 60 -D "$ROOT_DIR/data" -l "$ROOT_DIR/postgres.log" >/dev/null) ||
      { tail -n 20 "$ROOT_DIR/postgres.log" >&2; die "PostgreSQL did not start (log above)"; }
    (cd / && as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$ROOT_DIR/run" -p "$PORT" -U postgres -d postgres) \
      >/dev/null <<'SQL'
CREATE ROLE closeloop LOGIN CREATEDB PASSWORD 'closeloop';
CREATE DATABASE closeloop OWNER closeloop;
SQL
  fi
  echo "export CLOSELOOP_BENCH_PG=$URL"
}

stop() {
  if running; then (cd / && as_pg "$PG_BIN/pg_ctl" stop -w -t 30 -D "$ROOT_DIR/data" -m fast >/dev/null) || true; fi
  rm -rf "$ROOT_DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
