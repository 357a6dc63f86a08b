#!/usr/bin/env bash
# Three-node cluster vs one node, same load, one run: bash bench/load/cluster.sh
#
# 1. npm ci here; the server jar (built with the Maven wrapper and copied to $RIPPLE_JAR unless
#    SKIP_BUILD=1 and the copy exists)
# 2. each setup, started fresh, gets run.sh's profiles with run.sh's generator (bench/load/loadgen.mjs,
#    real y-websocket providers): a discarded warm-up, 10 rooms x 5 clients x 5 updates/s, then
#    50 rooms x 5 clients x 10 updates/s:
#      single  one node on its embedded defaults (H2 journal): `java -jar`, as the README runs it
#      pg1     one node in cluster mode on PostgreSQL (scripts/local-cluster.sh, LOCAL_CLUSTER_NODES=1)
#      pg3     three nodes on PostgreSQL (scripts/local-cluster.sh); client c of room r connects to
#              node (r + c) mod 3, as a round-robin balancer places them, so every room's fan-out
#              crosses nodes
#      pg3near three nodes on PostgreSQL with COLLAB_ROOM_PLACEMENT=near-clients, every client of
#              room r on node r mod 3 (a balancer hashing the room): rooms live where their clients are
#    The server CPU reported for a cluster is the sum over its nodes; PostgreSQL's is not included.
# 3. cluster-report.mjs prints the table and writes out/cluster/results.md
#
# Everything is on 127.0.0.1; every step is bounded. Knobs (environment): SETUPS ("single pg1 pg3 pg3near"),
# LOAD_SECONDS (30), WARMUP (5), WARMUP_LOAD_SECONDS (45, the discarded warm-up profile), PROCS_LIGHT / PROCS_HEAVY (1 / 2), RIPPLE_JAR (/tmp/ripple-bench.jar),
# SKIP_BUILD (0), QUIET_WAIT (120), OTHER_MAX (0.15), RETRIES (2), QUIET_WAIT_EACH (60): as run.sh.
# PostgreSQL is Debian's, installed by scripts/local-cluster.sh if missing (as in `local-cluster.sh start`).
SETUPS="${SETUPS:-single pg1 pg3 pg3near}"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$LOAD_DIR/out/cluster"
LOCAL_CLUSTER="$ROOT/scripts/local-cluster.sh"

CLUSTER_UP=0
cluster_down() {
  if (( CLUSTER_UP )); then
    RIPPLE_JAR="$RIPPLE_JAR" bash "$LOCAL_CLUSTER" clean > /dev/null 2>&1 || true
    CLUSTER_UP=0
  fi
}
trap 'cleanup; cluster_down' EXIT

# cluster_up N: PostgreSQL and N nodes, fresh; sets URL_BASE and SERVER_PIDS
cluster_up() {
  local n="$1" i state="$ROOT/target/local-cluster"
  RIPPLE_JAR="$RIPPLE_JAR" bash "$LOCAL_CLUSTER" clean > /dev/null 2>&1 || true
  CLUSTER_UP=1
  LOCAL_CLUSTER_NODES="$n" RIPPLE_JAR="$RIPPLE_JAR" bash "$LOCAL_CLUSTER" start
  URL_BASE=""
  SERVER_PIDS=""
  for i in $(seq 1 "$n"); do
    URL_BASE+="${URL_BASE:+,}ws://127.0.0.1:$((2000 + i))"
    SERVER_PIDS+="${SERVER_PIDS:+,}$(cat "$state/node$i.pid")"
  done
  echo "nodes: $URL_BASE (pids $SERVER_PIDS)"
}

# profiles SETUP: warm-up (discarded), light, heavy against whatever URL_BASE / SERVER_PIDS point at
profiles() {
  local setup="$1"
  shift # the rest: extra loadgen options
  # longer than run.sh's 15 s: each of three JVMs sees a third of it, and a JVM still compiling its
  # hot paths costs twice the CPU per update (measured: 0.95 vs 0.55 cores in back-to-back runs)
  RETRIES=0 QUIET_WAIT_EACH=0 loadgen "$setup-warmup" --rooms 50 --clients 5 --rate 10 --seconds "$WARMUP_LOAD_SECONDS" --warmup 2 --procs "$PROCS_HEAVY" --label warmup "$@"
  sleep 10 # the warm-up's rooms compact and back up when their clients leave
  step "$setup: 10 rooms x 5 clients x 5 updates/s, ${LOAD_SECONDS}s"
  loadgen "$setup-light" --rooms 10 --clients 5 --rate 5 --seconds "$LOAD_SECONDS" --warmup "$WARMUP" --procs "$PROCS_LIGHT" --label "10x5x5" "$@"
  step "$setup: 50 rooms x 5 clients x 10 updates/s, ${LOAD_SECONDS}s"
  loadgen "$setup-heavy" --rooms 50 --clients 5 --rate 10 --seconds "$LOAD_SECONDS" --warmup "$WARMUP" --procs "$PROCS_HEAVY" --label "50x5x10" "$@"
}

prepare

for setup in $SETUPS; do
  case "$setup" in
    single)
      step "single: one node, embedded defaults (H2)"
      unset URL_BASE SERVER_PIDS
      start_server ripple "single-load"
      profiles single
      stop_server
      ;;
    pg1|pg3)
      n="${setup#pg}"
      step "$setup: $n node(s) in cluster mode on PostgreSQL"
      cluster_up "$n"
      profiles "$setup"
      cluster_down
      unset URL_BASE SERVER_PIDS
      ;;
    pg3near)
      step "$setup: 3 nodes on PostgreSQL, rooms placed near their clients, clients of a room on one node"
      COLLAB_ROOM_PLACEMENT=near-clients cluster_up 3
      profiles "$setup" --placement room
      cluster_down
      unset URL_BASE SERVER_PIDS
      ;;
    *) echo "unknown setup $setup (single, pg1, pg3, pg3near)" >&2; exit 2 ;;
  esac
done

step "report"
node cluster-report.mjs --out "$OUT" --seconds "$LOAD_SECONDS" --total-seconds "$(( $(date +%s) - START ))"
step "done: $OUT/results.md"
