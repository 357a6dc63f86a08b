#!/usr/bin/env bash
# The docker-compose topology as local processes on 127.0.0.1, without Docker: PostgreSQL plus three
# Ripple nodes that form one cluster through Cluster Bootstrap (config discovery), each started
# with `java -jar target/ripple-collab.jar` as in the containers.
#
#   scripts/local-cluster.sh start    PostgreSQL (Debian's, installed with apt if missing), the jar
#                                     (built if missing), nodes 1-3; waits until all are ready
#   scripts/local-cluster.sh status   /ready of each node
#   scripts/local-cluster.sh check    a YPartyKitProvider + WebsocketProvider via node 1 and via
#                                     node 3 edit one room and converge (conformance/e2e/e2e-cluster.mjs)
#   scripts/local-cluster.sh stop     the nodes (SIGTERM: graceful leave), then PostgreSQL
#   scripts/local-cluster.sh clean    stop, and delete the database and logs
#
# Node i (1-3, or 1-LOCAL_CLUSTER_NODES): HTTP/WebSocket 127.0.0.1:200i, Artery 255i, management 855i. There is no load
# balancer here: a client may use any node (every node serves every room); deploy/nginx.conf is
# the one docker-compose puts in front. State (pid files, logs, database) is in target/local-cluster/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/target/local-cluster"
# RIPPLE_JAR: run another build of the server (default: the project's, built if missing)
JAR="${RIPPLE_JAR:-$ROOT/target/ripple-collab.jar}"
PGDATA="$STATE/pg"
# LOCAL_CLUSTER_NODES: how many nodes (1-9, default 3), e.g. 1 for one node on PostgreSQL
NODE_COUNT="${LOCAL_CLUSTER_NODES:-3}"
[[ "$NODE_COUNT" =~ ^[1-9]$ ]] || { echo "[local-cluster] error: LOCAL_CLUSTER_NODES must be 1-9" >&2; exit 2; }
mapfile -t NODES < <(seq 1 "$NODE_COUNT")
READY_TIMEOUT=${READY_TIMEOUT:-150}

http_port() { echo $((2000 + $1)); }
remote_port() { echo $((2550 + $1)); }
management_port() { echo $((8550 + $1)); }

log() { echo "[local-cluster] $*"; }
die() { echo "[local-cluster] error: $*" >&2; exit 1; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

alive_pid() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# HTTP status of GET http://127.0.0.1:<port><path>, or 000
http_status() {
  if command -v curl >/dev/null; then
    curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$1$2" || true
  else
    node -e "fetch('http://127.0.0.1:$1$2').then(r=>console.log(r.status)).catch(()=>console.log('000'))"
  fi
}

# ------------------------------------------------------------------ PostgreSQL

pg_bin() {
  local d
  if command -v pg_ctl >/dev/null; then dirname "$(readlink -f "$(command -v pg_ctl)")"; return 0; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  return 1
}

ensure_postgres_installed() {
  pg_bin >/dev/null && return 0
  [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root: apt-get install postgresql"
  log "installing PostgreSQL (apt-get install postgresql)"
  apt-get update -qq
  # the package would start its own server on 5432: not needed, ours runs from target/local-cluster
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  pg_bin >/dev/null || die "PostgreSQL binaries not found after installing postgresql"
}

# initdb and postgres refuse to run as root: as root, run them as the postgres user
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_port() { cat "$STATE/pg.port"; }

start_postgres() {
  local bin port
  bin="$(pg_bin)"
  if [[ -f "$PGDATA/postmaster.pid" ]] && as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "PostgreSQL already running on 127.0.0.1:$(pg_port)"
    return 0
  fi
  if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
    mkdir -p "$PGDATA"
    if [[ $(id -u) -eq 0 ]]; then as_pg true; chown postgres "$PGDATA"; fi
    chmod 700 "$PGDATA"
    # local (socket) connections trusted for setup; TCP needs the password, as in production
    as_pg "$bin/initdb" -D "$PGDATA" -U postgres -E UTF8 --auth-local=trust --auth-host=scram-sha-256 >"$STATE/initdb.log" 2>&1 \
      || { cat "$STATE/initdb.log"; die "initdb failed"; }
  fi
  # a free port from 55432 up, so a system PostgreSQL on 5432 (or another run) is left alone
  port=55432
  while listening "$port"; do port=$((port + 1)); done
  echo "$port" > "$STATE/pg.port"
  as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/postgres.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $PGDATA" start >/dev/null || { tail -20 "$PGDATA/postgres.log"; die "PostgreSQL did not start"; }
  # role and database ripple/ripple (idempotent)
  as_pg "$bin/psql" -h "$PGDATA" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt >/dev/null <<'SQL'
SELECT 'CREATE ROLE ripple LOGIN PASSWORD ''ripple''' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ripple')\gexec
SELECT 'CREATE DATABASE ripple OWNER ripple' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'ripple')\gexec
SQL
  log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (database ripple, user ripple)"
}

stop_postgres() {
  local bin
  [[ -f "$PGDATA/postmaster.pid" ]] || return 0
  bin="$(pg_bin)" || return 0
  as_pg "$bin/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1 && log "PostgreSQL stopped" || true
}

# ------------------------------------------------------------------ nodes

ensure_jar() {
  if [[ ! -f "$JAR" ]]; then
    log "building $JAR (./mvnw -q -B package -DskipTests)"
    (cd "$ROOT" && ./mvnw -q -B package -DskipTests)
  fi
}

start_node() {
  local i=$1 contacts
  local j
  contacts=""
  for j in "${NODES[@]}"; do contacts+="${contacts:+,}127.0.0.1:$(management_port "$j")"; done
  mkdir -p "$STATE/node$i"
  # Every node is on 127.0.0.1: the bootstrap must not keep only the contact point on its own
  # management port (filter-on-fallback-port is for hosts that list several ports each).
  # shellcheck disable=SC2086
  (cd "$STATE/node$i" && exec env \
    COLLAB_MODE=cluster \
    COLLAB_PORT="$(http_port "$i")" \
    COLLAB_BIND_HOST=127.0.0.1 \
    COLLAB_HOST=127.0.0.1 \
    COLLAB_REMOTE_PORT="$(remote_port "$i")" \
    COLLAB_MANAGEMENT_PORT="$(management_port "$i")" \
    COLLAB_MANAGEMENT_BIND_HOST=127.0.0.1 \
    COLLAB_DISCOVERY_METHOD=config \
    COLLAB_CONTACT_POINTS="$contacts" \
    COLLAB_REQUIRED_CONTACT_POINTS="${#NODES[@]}" \
    COLLAB_DB_URL="jdbc:postgresql://127.0.0.1:$(pg_port)/ripple" \
    COLLAB_DB_USER=ripple \
    COLLAB_DB_PASSWORD=ripple \
    COLLAB_DATA_DIR="$STATE/node$i/data" \
    setsid nohup java ${JAVA_OPTS:--Xmx512m} \
      -Dakka.management.cluster.bootstrap.contact-point.filter-on-fallback-port=false \
      -jar "$JAR" </dev/null >"$STATE/node$i.log" 2>&1 &
    echo $! > "$STATE/node$i.pid")
  log "node $i starting (pid $(cat "$STATE/node$i.pid"), log $STATE/node$i.log)"
}

# waits until GET <path> on node i answers 200; fails (after printing its log) if the node died or time ran out
await_node() {
  local i=$1 path=$2 deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    [[ $(http_status "$(http_port "$i")" "$path") == 200 ]] && return 0
    alive_pid "$STATE/node$i.pid" || { tail -40 "$STATE/node$i.log" >&2; return 1; }
    sleep 0.5
  done
  echo "node $i: $path not 200 after $3 s; last lines of its log:" >&2
  tail -40 "$STATE/node$i.log" >&2
  return 1
}

stop_nodes() {
  local f pids=() deadline
  # every node this script started, whatever LOCAL_CLUSTER_NODES is now
  for f in "$STATE"/node[1-9].pid; do
    if alive_pid "$f"; then
      kill -TERM "$(cat "$f")" && pids+=("$(cat "$f")")
    fi
  done
  # coordinated shutdown: sockets closed with 1012, rooms handed over, cluster left, JVM exits
  deadline=$((SECONDS + 60))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "pid $pid did not exit in time: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
  done
  rm -f "$STATE"/node[1-9].pid
  ((${#pids[@]} > 0)) && log "nodes stopped (${#pids[@]})" || true
}

# ------------------------------------------------------------------ commands

cmd_start() {
  local i t0=$SECONDS
  command -v java >/dev/null || die "java (JDK 17) is required"
  mkdir -p "$STATE"
  for i in "${NODES[@]}"; do
    alive_pid "$STATE/node$i.pid" && die "node $i is already running (pid $(cat "$STATE/node$i.pid")); run '$0 stop' first"
    for p in "$(http_port "$i")" "$(remote_port "$i")" "$(management_port "$i")"; do
      listening "$p" && die "port $p on 127.0.0.1 is in use"
    done
  done
  ensure_postgres_installed
  ensure_jar
  # whatever fails from here on: stop what was started, leave nothing running
  trap 'echo "[local-cluster] start failed: stopping what was started" >&2; stop_nodes; stop_postgres' EXIT
  start_postgres
  # node 1 first: it creates the journal tables (CREATE TABLE IF NOT EXISTS can collide when run
  # concurrently); its HTTP port answers once that is done
  start_node 1
  await_node 1 /alive 90
  for i in "${NODES[@]:1}"; do start_node "$i"; done
  for i in "${NODES[@]}"; do await_node "$i" /ready "$READY_TIMEOUT"; done
  trap - EXIT
  log "cluster of ${#NODES[@]} ready in $((SECONDS - t0)) s:"
  for i in "${NODES[@]}"; do
    echo "  node $i  ws://127.0.0.1:$(http_port "$i")/<room>  (parties: 127.0.0.1:$(http_port "$i")/parties/main/<room>)  management http://127.0.0.1:$(management_port "$i")  artery $(remote_port "$i")"
  done
  echo "  postgres jdbc:postgresql://127.0.0.1:$(pg_port)/ripple (ripple/ripple)"
  echo "  stop with: $0 stop"
}

cmd_status() {
  local i
  for i in "${NODES[@]}"; do
    if alive_pid "$STATE/node$i.pid"; then
      echo "node $i pid $(cat "$STATE/node$i.pid"): /ready $(http_status "$(http_port "$i")" /ready)"
    else
      echo "node $i: not running"
    fi
  done
}

cmd_check() {
  local out
  [[ -d "$ROOT/conformance/node_modules/y-partykit" ]] || (cd "$ROOT/conformance" && npm ci --no-audit --no-fund >/dev/null)
  out=$(cd "$ROOT/conformance" && node e2e/e2e-cluster.mjs converge "$(http_port 1)" "$(http_port 3)" "doc-local-cluster-$(date +%s)") \
    || { echo "$out"; die "clients via node 1 and node 3 did not converge"; }
  echo "$out"
  log "clients via node 1 and node 3 converged"
}

cmd_stop() {
  stop_nodes
  stop_postgres
}

case "${1:-}" in
  start) cmd_start ;;
  status) cmd_status ;;
  check) cmd_check ;;
  stop) cmd_stop ;;
  clean) cmd_stop; rm -rf "$STATE"; log "removed $STATE" ;;
  *) echo "usage: $0 start|status|check|stop|clean" >&2; exit 2 ;;
esac
