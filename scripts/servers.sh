#!/usr/bin/env bash
# Real servers for the Kafka and PostgreSQL tests: a single-node Kafka 3.9.1 broker
# (KRaft, run from its Maven jars) and a throwaway PostgreSQL cluster.
#
#   scripts/servers.sh start    start both (reuses what is already running), write $STATE/env; a server that is
#                               not running starts from EMPTY data (a clean start for the tests), so after a
#                               crash `start` wipes what the crashed server held: use `restart` to keep it
#   scripts/servers.sh restart  stop both (if running) and start them again on the data they have: topics,
#                               consumer offsets, databases and tables are kept (after a crash, or to test
#                               recovery); a server with no data yet starts empty, as with `start`
#   scripts/servers.sh restart kafka|postgresql   the same for one of them; the other is left alone
#   scripts/servers.sh kill kafka|postgresql      crash one, keeping its data: SIGKILL to the broker, an immediate
#                               shutdown of PostgreSQL (no checkpoint: it recovers from its WAL at the next start);
#                               `restart NAME` brings it back (fault tests)
#   scripts/servers.sh stop     stop both and delete their data (the jar cache is kept)
#   scripts/servers.sh status   tell what runs; exit 0 only when both run
#
# Settings (environment):
#   CLOSELOOP_SERVERS_DIR             state dir (default: ./var/test-servers, from the current dir)
#   CLOSELOOP_CACHE                   jar cache (default: ~/.cache/closeloop)
#   CLOSELOOP_KAFKA_PORT              broker port (default 39092)
#   CLOSELOOP_KAFKA_CONTROLLER_PORT   KRaft controller port (default 39093)
#   CLOSELOOP_PG_PORT                 PostgreSQL port (default 55432)
#
# After `start`, `source "$STATE/env"` gives CLOSELOOP_TEST_KAFKA and CLOSELOOP_TEST_PG.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION=3.9.1

STATE="${CLOSELOOP_SERVERS_DIR:-$PWD/var/test-servers}"
case "$STATE" in /*) ;; *) STATE="$PWD/$STATE" ;; esac
CACHE="${CLOSELOOP_CACHE:-${HOME:-/root}/.cache/closeloop}"
case "$CACHE" in /*) ;; *) CACHE="$PWD/$CACHE" ;; esac
KAFKA_PORT="${CLOSELOOP_KAFKA_PORT:-39092}"
KAFKA_CONTROLLER_PORT="${CLOSELOOP_KAFKA_CONTROLLER_PORT:-39093}"
PG_PORT="${CLOSELOOP_PG_PORT:-55432}"

for _port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$PG_PORT"; do
  case "$_port" in
    '' | *[!0-9]*) echo "servers.sh: error: '$_port' is not a port number (check CLOSELOOP_*_PORT)" >&2; exit 2 ;;
  esac
  if [ "$_port" -lt 1 ] || [ "$_port" -gt 65535 ]; then
    echo "servers.sh: error: port $_port is out of range (check CLOSELOOP_*_PORT)" >&2
    exit 2
  fi
done
if [ "$KAFKA_PORT" = "$KAFKA_CONTROLLER_PORT" ]; then
  echo "servers.sh: error: CLOSELOOP_KAFKA_PORT and CLOSELOOP_KAFKA_CONTROLLER_PORT must differ" >&2
  exit 2
fi

KAFKA_LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
KAFKA_DIR="$STATE/kafka"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
KAFKA_TIMEOUT=90

PG_USER=closeloop
PG_PASSWORD=closeloop
PG_DB=closeloop
PG_URL="postgresql+asyncpg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
PG_ROOT_FILE="$STATE/pg.root"   # where the cluster lives (normally $STATE/pg)

ENV_FILE="$STATE/env"

# ---------------------------------------------------------------- helpers

say() { printf 'servers.sh: %s\n' "$*"; }
warn() { printf 'servers.sh: warning: %s\n' "$*" >&2; }
die() {
  printf 'servers.sh: error: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '  -> %s\n' "$line" >&2; done
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
is_root() { [ "$(id -u)" = 0 ]; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

who_listens() {
  if command -v ss >/dev/null 2>&1; then
    ss -ltnp 2>/dev/null | awk -v p=":$1" '$4 ~ p"$"' || true
  fi
}

# Runs a command as root: directly, or through sudo without a password prompt.
as_root() {
  if is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 99
  fi
}

apt_install() {
  local what="$1"
  shift
  command -v apt-get >/dev/null 2>&1 ||
    die "$what is missing and this machine has no apt-get." "Install $* with your package manager, then run again."
  say "installing $* with apt-get (for $what) ..."
  local t0
  t0="$(now)"
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || rc=$?
  if [ "$rc" != 0 ]; then
    [ "$rc" = 99 ] && die "$what is missing, and installing it needs root." \
      "Run as root, or give this user password-less sudo, or run: sudo apt-get install -y $*"
    die "apt-get update failed." "Check the network/apt sources, then run: apt-get update && apt-get install -y $*"
  fi
  local log
  log="$(mktemp)"
  if ! as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l \
    apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    die "apt-get install $* failed (last lines above)." "Run it by hand to see why: apt-get install -y $*"
  fi
  rm -f "$log"
  say "installed $* in $(since "$t0") s"
}

# Runs a command as the PostgreSQL server user: `postgres` when we are root (the
# server refuses to run as root), else the current user.
as_pg() {
  if is_root; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

# ---------------------------------------------------------------- Kafka

kafka_running() {
  [ -f "$KAFKA_PID" ] || return 1
  local pid
  pid="$(cat "$KAFKA_PID" 2>/dev/null || true)"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  # Make sure the pid is still our broker, not a recycled pid.
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"kafka.Kafka $KAFKA_PROPS"* ]]
}

need_java() {
  if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    apt_install "Java/Maven (to run Kafka from its jars)" default-jre-headless maven
  fi
  local v
  v="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
  case "$v" in
    1.*|8|9|10) die "Kafka $KAFKA_VERSION needs Java 11 or newer; java here is $v." \
      "Install a newer JDK (apt-get install default-jre-headless) and put it first on PATH." ;;
  esac
}

kafka_libs_ok() {
  [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -f "$KAFKA_LIBS/slf4j-reload4j-1.7.36.jar" ]
}

fetch_kafka() {
  if kafka_libs_ok; then
    return 0
  fi
  need_java
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  local tmp t0 try
  tmp="$(mktemp -d "$(dirname "$KAFKA_LIBS")/libs.tmp.XXXXXX")"
  say "fetching Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS ..."
  t0="$(now)"
  for try in 1 2; do
    if mvn -q -B -ntp -Dstyle.color=never -f "$ROOT/scripts/kafka/pom.xml" \
      dependency:copy-dependencies -DoutputDirectory="$tmp" >"$tmp.mvn.log" 2>&1; then
      break
    fi
    if [ "$try" = 2 ]; then
      tail -n 40 "$tmp.mvn.log" >&2 || true
      rm -rf "$tmp" "$tmp.mvn.log"
      die "could not fetch the Kafka jars with Maven (output above)." \
        "Check that Maven Central is reachable (mvn -v; ~/.m2/settings.xml mirrors/proxies)." \
        "Then run again: scripts/servers.sh start"
    fi
    warn "Maven fetch failed, trying once more ..."
    rm -rf "${tmp:?}"/*
  done
  rm -f "$tmp.mvn.log"
  if [ ! -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || [ ! -f "$tmp/slf4j-reload4j-1.7.36.jar" ]; then
    rm -rf "$tmp"
    die "Maven ran but the Kafka jars are not there." "Look at scripts/kafka/pom.xml; run the mvn command by hand."
  fi
  # Atomic publish: a half-fetched folder is never seen as the cache.
  if ! mv -T "$tmp" "$KAFKA_LIBS" 2>/dev/null; then
    rm -rf "$tmp" # someone else published it first
    kafka_libs_ok || die "could not move the fetched jars to $KAFKA_LIBS." "Remove $KAFKA_LIBS and run again."
  fi
  say "fetched $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$KAFKA_LIBS" | cut -f1)) in $(since "$t0") s"
}

# A random KRaft cluster id: 16 bytes, URL-safe base64 without padding (22 characters),
# never starting with '-' (it would read as a command-line option), as Kafka's own Uuid.
cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    case "$id" in -*) ;; *) printf '%s' "$id"; return ;; esac
  done
}

write_kafka_props() {
  cat >"$KAFKA_PROPS" <<EOF
# Written by scripts/servers.sh: single-node KRaft test broker, data in $KAFKA_DIR/data.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data

num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true

offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0

num.network.threads=3
num.io.threads=4
log.retention.hours=24
EOF
}

# One metadata request: exit 0 when the broker answers it with at least one broker.
kafka_probe() {
  local py="$ROOT/.venv/bin/python"
  if [ -x "$py" ] && "$py" -c 'import aiokafka' 2>/dev/null; then
    timeout 15 "$py" - "$KAFKA_BOOTSTRAP" >/dev/null 2>&1 <<'PY'
import asyncio, sys
from aiokafka.admin import AIOKafkaAdminClient

async def main():
    admin = AIOKafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=5000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()

asyncio.run(main())
PY
  elif command -v python3 >/dev/null 2>&1; then
    # No venv yet: a raw Metadata v1 request (no topics) over a socket.
    timeout 10 python3 - 127.0.0.1 "$KAFKA_PORT" >/dev/null 2>&1 <<'PY'
import socket, struct, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
cid = b"closeloop-servers-sh"
body = struct.pack(">hhih", 3, 1, 7, len(cid)) + cid + struct.pack(">i", 0)
s.sendall(struct.pack(">i", len(body)) + body)
def recv(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            sys.exit(1)
        buf += chunk
    return buf
(size,) = struct.unpack(">i", recv(4))
corr, brokers = struct.unpack(">ii", recv(size)[:8])
sys.exit(0 if corr == 7 and brokers > 0 else 1)
PY
  else
    port_open "$KAFKA_PORT"
  fi
}

# start_kafka [keep]: with "keep", a stopped broker starts again on its data instead of on empty data.
start_kafka() {
  local keep="${1:-}"
  if kafka_running; then
    if kafka_probe; then
      say "kafka already running (pid $(cat "$KAFKA_PID")) on $KAFKA_BOOTSTRAP: reusing it"
      return 0
    fi
    say "kafka (pid $(cat "$KAFKA_PID")) is running but not answering yet; waiting for it"
    wait_kafka "$(now)"
    return 0
  fi

  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$p"; then
      who_listens "$p" >&2
      die "port $p is already taken by another process (not the broker of $STATE)." \
        "Stop that process (a broker started from another CLOSELOOP_SERVERS_DIR? run 'scripts/servers.sh stop' there)," \
        "or pick other ports: CLOSELOOP_KAFKA_PORT=... CLOSELOOP_KAFKA_CONTROLLER_PORT=... scripts/servers.sh start"
    fi
  done

  fetch_kafka
  need_java

  local t0
  t0="$(now)"
  if [ "$keep" = keep ] && [ -f "$KAFKA_DIR/data/meta.properties" ]; then
    # Restart: the same data, formatted already; the properties are written again (the ports may be new).
    say "kafka: starting again on the data in $KAFKA_DIR/data (topics and offsets kept)"
    rm -f "$KAFKA_PID"
    write_kafka_props
  else
    if [ "$keep" = keep ]; then say "kafka: no data in $KAFKA_DIR/data to keep; starting empty"; fi
    # Not running: start from empty data.
    rm -rf "$KAFKA_DIR"
    mkdir -p "$KAFKA_DIR/data"
    write_kafka_props
    format_kafka
  fi
  launch_kafka "$t0"
}

format_kafka() {
  local id
  id="$(cluster_id)"
  if ! java -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="file:$ROOT/scripts/kafka/log4j.properties" \
    kafka.tools.StorageTool format -t "$id" -c "$KAFKA_PROPS" --ignore-formatted \
    >"$KAFKA_DIR/format.log" 2>&1; then
    cat "$KAFKA_DIR/format.log" >&2
    die "formatting the Kafka storage failed (output above)." \
      "If the jar cache is damaged, remove $KAFKA_LIBS and run again."
  fi
}

launch_kafka() {
  local t0="$1"
  # setsid: the broker outlives this script and its terminal. The inner sh writes its
  # own pid, then execs java, so the pid file holds the broker's pid. fd 9 (our lock) is closed.
  # shellcheck disable=SC2016 # $$ and $@ are for the inner sh
  setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$KAFKA_PID" \
    java -Xmx512m -Xms256m -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    -Dlog4j.configuration="file:$ROOT/scripts/kafka/log4j.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" \
    </dev/null >"$KAFKA_LOG" 2>&1 9>&- &
  local _
  for _ in $(seq 50); do [ -s "$KAFKA_PID" ] && break; sleep 0.1; done
  say "kafka starting (pid $(cat "$KAFKA_PID" 2>/dev/null || echo '?'), log $KAFKA_LOG) ..."
  wait_kafka "$t0"
}

kafka_log_tail() {
  tail -n 50 "$KAFKA_LOG" >&2 2>/dev/null || true
  if grep -qE '^\[.*\] (ERROR|FATAL)' "$KAFKA_LOG" 2>/dev/null; then
    echo "---- ERROR/FATAL lines of $KAFKA_LOG:" >&2
    grep -E '^\[.*\] (ERROR|FATAL)' "$KAFKA_LOG" | tail -n 10 >&2 || true
  fi
}

wait_kafka() {
  local t0="$1" deadline=$((SECONDS + KAFKA_TIMEOUT))
  while :; do
    if ! kafka_running; then
      kafka_log_tail
      die "the Kafka broker exited while starting (last 50 log lines above, full log: $KAFKA_LOG)." \
        "Fix what the log says (a port in use? too little memory?), then: scripts/servers.sh stop; scripts/servers.sh start"
    fi
    if kafka_probe; then
      say "kafka ready in $(since "$t0") s on $KAFKA_BOOTSTRAP"
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      kafka_log_tail
      die "the Kafka broker did not answer a metadata request within $KAFKA_TIMEOUT s (last 50 log lines above, full log: $KAFKA_LOG)." \
        "Look at the log; then: scripts/servers.sh stop; scripts/servers.sh start"
    fi
    sleep 0.5
  done
}

# Stops the broker, keeping its data.
halt_kafka() {
  if kafka_running; then
    local pid _
    pid="$(cat "$KAFKA_PID")"
    say "stopping kafka (pid $pid) ..."
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 200); do
      [ -e "/proc/$pid" ] || break
      sleep 0.1
    done
    if [ -e "/proc/$pid" ]; then
      warn "kafka did not stop within 20 s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
    fi
  fi
  rm -f "$KAFKA_PID"
}

stop_kafka() {
  halt_kafka
  rm -rf "$KAFKA_DIR/data"
}

# ---------------------------------------------------------------- PostgreSQL

PG_BIN=""
find_pg_bin() {
  PG_BIN="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ]
}

need_pg() {
  if ! find_pg_bin; then
    apt_install "PostgreSQL" postgresql
    find_pg_bin || die "postgresql is installed but no /usr/lib/postgresql/*/bin/initdb was found." \
      "Check the installation: dpkg -L postgresql-15 | grep initdb"
  fi
  if is_root && ! id postgres >/dev/null 2>&1; then
    die "running as root, but there is no 'postgres' user to run the server as (it refuses to run as root)." \
      "Reinstall Debian's postgresql package (it creates the user), or run this script as a normal user."
  fi
}

# Where the cluster lives: $STATE/pg, unless the server user cannot reach it (root's
# state dir under a private home) or the socket path would be too long for a unix socket.
pg_root() {
  if [ -f "$PG_ROOT_FILE" ]; then
    cat "$PG_ROOT_FILE"
  else
    printf '%s' "$STATE/pg"
  fi
}

pick_pg_root() {
  local root="$STATE/pg"
  mkdir -p "$root"
  local ok=1
  # ".s.PGSQL.<port>" is appended to the socket dir; Linux allows 107 bytes in all.
  [ $((${#root} + 6 + 16)) -lt 100 ] || ok=0
  if [ "$ok" = 1 ] && is_root; then
    chown postgres:postgres "$root"
    as_pg test -w "$root" 2>/dev/null || ok=0
  fi
  if [ "$ok" = 0 ]; then
    rmdir "$root" 2>/dev/null || true
    root="$(mktemp -d /tmp/closeloop-pg.XXXXXX)"
    warn "PostgreSQL data goes to $root (the server user cannot reach $STATE, or its path is too long)"
    is_root && chown postgres:postgres "$root"
  fi
  chmod 755 "$root"
  printf '%s' "$root" >"$PG_ROOT_FILE"
}

pg_running() {
  local root
  root="$(pg_root)"
  [ -n "$PG_BIN" ] || find_pg_bin || return 1
  [ -f "$root/data/PG_VERSION" ] || return 1
  (cd / && as_pg "$PG_BIN/pg_ctl" status -D "$root/data" >/dev/null 2>&1)
}

pg_admin() { # psql as the superuser over the cluster's own unix socket; SQL on stdin
  local root
  root="$(pg_root)"
  (cd / && as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$root/run" -p "$PG_PORT" -U postgres -d postgres)
}

setup_pg_role() {
  pg_admin >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
SQL
}

wait_pg() {
  local _
  for _ in $(seq 60); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 && return 0
    sleep 0.5
  done
  return 1
}

# start_pg [keep]: with "keep", a stopped cluster starts again on its data instead of on an empty cluster.
start_pg() {
  local keep="${1:-}"
  need_pg
  if pg_running; then
    wait_pg || die "PostgreSQL in $(pg_root)/data runs but does not answer on 127.0.0.1:$PG_PORT." \
      "See $(pg_root)/postgres.log; then: scripts/servers.sh stop; scripts/servers.sh start"
    setup_pg_role || die "could not create the role/database in the running PostgreSQL." "See $(pg_root)/postgres.log"
    say "postgresql already running on 127.0.0.1:$PG_PORT: reusing it"
    return 0
  fi

  if port_open "$PG_PORT"; then
    who_listens "$PG_PORT" >&2
    die "port $PG_PORT is already taken by another process (not the cluster of $STATE)." \
      "Stop it, or pick another port: CLOSELOOP_PG_PORT=... scripts/servers.sh start"
  fi

  local t0 root
  t0="$(now)"
  root="$(pg_root)"
  if [ "$keep" = keep ] && [ -f "$root/data/PG_VERSION" ]; then
    say "postgresql: starting again on the data in $root/data (databases and tables kept)"
    mkdir -p "$root/run"
    if is_root; then chown postgres:postgres "$root/run"; fi
    launch_pg "$root" "$t0"
    return 0
  fi
  if [ "$keep" = keep ]; then say "postgresql: no data in $root/data to keep; starting an empty cluster"; fi
  # Not running: start from an empty cluster.
  [ -d "$root" ] && rm -rf "$root"
  rm -f "$PG_ROOT_FILE"
  pick_pg_root
  root="$(pg_root)"
  mkdir -p "$root/run"
  is_root && chown postgres:postgres "$root/run"

  if ! (cd / && as_pg "$PG_BIN/initdb" -D "$root/data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$root/initdb.log" 2>&1); then
    # Older glibc without C.UTF-8: fall back to the C locale.
    rm -rf "$root/data"
    if ! (cd / && as_pg "$PG_BIN/initdb" -D "$root/data" -U postgres -E UTF8 --no-locale \
      --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$root/initdb.log" 2>&1); then
      cat "$root/initdb.log" >&2
      die "initdb failed (output above)." "Check disk space and that $root is writable by the server user."
    fi
  fi

  as_pg tee -a "$root/data/postgresql.conf" >/dev/null <<EOF

# ---- scripts/servers.sh: throwaway test cluster, speed over durability ----
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$root/run'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
logging_collector = off
EOF
  as_pg tee "$root/data/pg_hba.conf" >/dev/null <<'EOF'
# scripts/servers.sh: trust on the cluster's own unix socket, passwords over TCP.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
EOF
  launch_pg "$root" "$t0"
}

launch_pg() {
  local root="$1" t0="$2"
  if ! (cd / && as_pg "$PG_BIN/pg_ctl" start -w -t 60 -D "$root/data" -l "$root/postgres.log" >/dev/null 9>&-); then
    tail -n 30 "$root/postgres.log" >&2 2>/dev/null || true
    die "PostgreSQL did not start (last log lines above, full log: $root/postgres.log)." \
      "Fix what the log says, then: scripts/servers.sh stop; scripts/servers.sh start"
  fi
  wait_pg || die "PostgreSQL started but pg_isready gets no answer on 127.0.0.1:$PG_PORT." "See $root/postgres.log"
  setup_pg_role || die "could not create role '$PG_USER' / database '$PG_DB'." "See $root/postgres.log"
  say "postgresql ready in $(since "$t0") s on 127.0.0.1:$PG_PORT ($("$PG_BIN/postgres" --version | awk '{print $3}'), data $root/data)"
}

# Stops the cluster, keeping its data.
halt_pg() {
  local root
  root="$(pg_root)"
  if find_pg_bin && pg_running; then
    say "stopping postgresql ..."
    (cd / && as_pg "$PG_BIN/pg_ctl" stop -w -t 30 -D "$root/data" -m fast >/dev/null) ||
      warn "pg_ctl stop failed; see $root/postgres.log"
  fi
}

stop_pg() {
  local root
  root="$(pg_root)"
  halt_pg
  rm -rf "$root/data" "$root/run"
  if [ "$root" != "$STATE/pg" ]; then rm -rf "$root"; fi
  rm -f "$PG_ROOT_FILE"
}

# ---------------------------------------------------------------- commands

write_env() {
  {
    echo "export CLOSELOOP_TEST_KAFKA=$KAFKA_BOOTSTRAP"
    echo "export CLOSELOOP_TEST_PG=$PG_URL"
  } >"$ENV_FILE"
  cat "$ENV_FILE"
}

lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 600 9 || die "another 'scripts/servers.sh' holds $STATE/.lock for 10 minutes." \
    "Wait for it to finish, or find it with: fuser $STATE/.lock"
}

cmd_start() {
  lock
  local t0
  t0="$(now)"
  start_kafka
  start_pg
  write_env
  say "servers up in $(since "$t0") s; state in $STATE (source $ENV_FILE)"
}

cmd_restart() {
  local which="${1:-both}"
  lock
  local t0
  t0="$(now)"
  case "$which" in
    both | kafka) halt_kafka; start_kafka keep ;;
  esac
  case "$which" in
    both | postgresql) halt_pg; start_pg keep ;;
  esac
  write_env
  say "restarted ($which) in $(since "$t0") s, data kept; state in $STATE (source $ENV_FILE)"
}

cmd_kill() {
  local which="$1"
  lock
  case "$which" in
    kafka)
      kafka_running || die "kafka is not running (nothing to kill)." "Start it: scripts/servers.sh start"
      local pid _
      pid="$(cat "$KAFKA_PID")"
      kill -KILL "$pid"
      for _ in $(seq 100); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
      [ -e "/proc/$pid" ] && die "the broker (pid $pid) is still there 10 s after SIGKILL." "Look at: ps -p $pid"
      rm -f "$KAFKA_PID"
      say "kafka (pid $pid) killed with SIGKILL; its data is kept (scripts/servers.sh restart kafka)"
      ;;
    postgresql)
      need_pg
      pg_running || die "postgresql is not running (nothing to kill)." "Start it: scripts/servers.sh start"
      (cd / && as_pg "$PG_BIN/pg_ctl" stop -w -t 30 -D "$(pg_root)/data" -m immediate >/dev/null) ||
        die "pg_ctl stop -m immediate failed." "See $(pg_root)/postgres.log"
      say "postgresql stopped immediately (as by a crash); its data is kept (scripts/servers.sh restart postgresql)"
      ;;
  esac
}

cmd_stop() {
  [ -d "$STATE" ] || { say "nothing to stop ($STATE does not exist)"; return 0; }
  lock
  stop_kafka
  stop_pg
  rm -f "$ENV_FILE"
  say "stopped; data removed from $STATE (jar cache kept in $CACHE)"
}

cmd_status() {
  local rc=0
  if kafka_running; then
    if kafka_probe; then
      say "kafka: running (pid $(cat "$KAFKA_PID")) on $KAFKA_BOOTSTRAP"
    else
      say "kafka: process $(cat "$KAFKA_PID") runs but does not answer on $KAFKA_BOOTSTRAP"
      rc=1
    fi
  else
    say "kafka: not running"
    rc=1
  fi
  if pg_running; then
    say "postgresql: running on 127.0.0.1:$PG_PORT (data $(pg_root)/data)"
  else
    say "postgresql: not running"
    rc=1
  fi
  [ -f "$ENV_FILE" ] && cat "$ENV_FILE"
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  restart)
    case "${2:-}" in
      '') cmd_restart both ;;
      kafka | postgresql) cmd_restart "$2" ;;
      *) echo "usage: $0 restart [kafka|postgresql]  (no name: both)" >&2; exit 2 ;;
    esac
    ;;
  kill)
    case "${2:-}" in
      kafka | postgresql) cmd_kill "$2" ;;
      *) echo "usage: $0 kill kafka|postgresql  (crash one, keeping its data; then: restart NAME)" >&2; exit 2 ;;
    esac
    ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|restart [kafka|postgresql]|kill kafka|postgresql|stop|status  (start: what is not running" \
      "starts empty; restart: keeps the data; kill: crashes one, keeping its data)" >&2
    exit 2
    ;;
esac
