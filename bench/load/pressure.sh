#!/usr/bin/env bash
# Pressure benchmark, Ripple vs @y/websocket-server, in one run: bash bench/load/pressure.sh
#
# Three profiles against each server (Ripple: java -jar with an H2 journal in a fresh temp dir; the
# reference: ref-server.mjs, @y/websocket-server's setupWSConnection on `ws`, in memory):
#   burst      burst.mjs: BURST_ROOMS x BURST_CLIENTS real clients (YPartyKitProvider, every
#              BURST_WS_EVERY-th a y-websocket WebsocketProvider), each inserting BURST_INSERTS times
#              in a tight loop, one transaction per insert, all at once: seconds until every room
#              converged, edits a fresh reader finds, server CPU seconds
#   storm      storm.mjs: STORM_ROOMS x STORM_CLIENTS raw WebSocket connections opened at once
#              (y-protocols sync step 1 / step 2 and an awareness state by hand): seconds until all
#              open and all synced, failures, retries, the kernel's TCP counters (ListenOverflows,
#              ListenDrops, TCPSynRetrans, RetransSegs)
#   awareness  awareness.mjs: one room, AWARE_CLIENTS raw clients each moving its cursor AWARE_RATE
#              times a second for AWARE_SECONDS after AWARE_WARMUP: server CPU, awareness frames
#              received per second, delay of a cursor move to the others (p50/p99)
# One server process per kind runs all of its profiles, in that order; a discarded burst of the same
# size and a discarded storm of STORM_WARMUP_ROOMS x STORM_CLIENTS warm it up first (the JIT), and
# it rests PAUSE seconds between profiles (Ripple compacts a room when its last client leaves).
# pressure-report.mjs then writes out/pressure/results.md (JSON of every run in out/pressure/).
#
# Everything talks to 127.0.0.1 only; every step is bounded in time; every process started here is
# stopped by its PID. Knobs (environment), defaults in brackets:
#   PROFILES ("burst storm awareness")   SERVERS ("ripple ref")   PAUSE (10 s between profiles)
#   BURST_ROOMS (4) BURST_CLIENTS (12) BURST_INSERTS (400) BURST_WS_EVERY (4; 0 = YPartyKitProvider only)
#   BURST_PROCS (2 generator processes) BURST_TIMEOUT (180 s to converge) BURST_WARMUP (1: discarded burst first)
#   STORM_ROOMS (100) STORM_CLIENTS (100) STORM_PROCS (4) STORM_AWARENESS (1: each connection announces
#   an awareness state) STORM_RETRIES (5 per connection) STORM_TIMEOUT (120 s) STORM_HOLD (5 s open after all
#   synced) STORM_WARMUP_ROOMS (10; 0 = no discarded storm)
#   AWARE_CLIENTS (200) AWARE_RATE (10 moves/s each) AWARE_SECONDS (20) AWARE_WARMUP (5) AWARE_PROCS (2)
#   AWARE_DECODE_EVERY (1: every client decodes what it gets; k: only every k-th, to lighten the generator)
#   and common.sh's: RIPPLE_JAR (/tmp/ripple-bench.jar), SKIP_BUILD (0), RIPPLE_JAVA_OPTS, QUIET_WAIT (120),
#   OTHER_MAX (0.15 cores) / RETRIES (2) / QUIET_WAIT_EACH (60): a profile during which other jobs on the
#   machine used more than OTHER_MAX cores is run again after waiting for quiet, and the least
#   disturbed attempt is kept (judged by that disturbance, never by the result).
# The storm needs one file descriptor per connection in the server and in each generator process:
# the soft open-file limit is raised to STORM_ROOMS x STORM_CLIENTS + 1024 (at most the hard limit).
PROFILES="${PROFILES:-burst storm awareness}"
SERVERS="${SERVERS:-ripple ref}"
PAUSE="${PAUSE:-10}"
BURST_ROOMS="${BURST_ROOMS:-4}"
BURST_CLIENTS="${BURST_CLIENTS:-12}"
BURST_INSERTS="${BURST_INSERTS:-400}"
BURST_WS_EVERY="${BURST_WS_EVERY:-4}"
BURST_PROCS="${BURST_PROCS:-2}"
BURST_TIMEOUT="${BURST_TIMEOUT:-180}"
BURST_WARMUP="${BURST_WARMUP:-1}"
STORM_ROOMS="${STORM_ROOMS:-100}"
STORM_CLIENTS="${STORM_CLIENTS:-100}"
STORM_PROCS="${STORM_PROCS:-4}"
STORM_AWARENESS="${STORM_AWARENESS:-1}"
STORM_RETRIES="${STORM_RETRIES:-5}"
STORM_TIMEOUT="${STORM_TIMEOUT:-120}"
STORM_HOLD="${STORM_HOLD:-5}"
STORM_WARMUP_ROOMS="${STORM_WARMUP_ROOMS:-10}"
AWARE_CLIENTS="${AWARE_CLIENTS:-200}"
AWARE_RATE="${AWARE_RATE:-10}"
AWARE_SECONDS="${AWARE_SECONDS:-20}"
AWARE_WARMUP="${AWARE_WARMUP:-5}"
AWARE_PROCS="${AWARE_PROCS:-2}"
AWARE_DECODE_EVERY="${AWARE_DECODE_EVERY:-1}"
# strict mode, start_server/stop_server, prepare, step, quiet_attempts, cleanup on exit: shared with run.sh and cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$LOAD_DIR/out/pressure"

# pressure_run NAME SCRIPT ARGS...: one profile with common.sh's quiet_attempts (as run.sh's loadgen():
# a quiet wait before each attempt, a repeat after PAUSE s when other jobs used more than OTHER_MAX
# cores, up to RETRIES times), the least disturbed attempt kept in $OUT/NAME.json.
pressure_run() {
  local name="$1" script="$2"
  shift 2
  quiet_attempts "$name" "$script" profile "$PAUSE" \
    "try{const r=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8'));console.log('  try '+process.argv[2]+': '+r.summary)}catch(e){console.log('  try '+process.argv[2]+': no result ('+e.message+')')}" \
    node "$script" --url-base "ws://127.0.0.1:$PORT" --server-pid "$SERVER_PID" "$@"
  if [[ -s "$OUT/$name.try$BEST_TRY.json" ]]; then
    node -e "const fs=require('fs');const r=JSON.parse(fs.readFileSync(process.argv[1],'utf8'));r.attempt=Number(process.argv[3]);r.attempts=Number(process.argv[4]);fs.writeFileSync(process.argv[2],JSON.stringify(r)+'\n')" \
      "$OUT/$name.try$BEST_TRY.json" "$OUT/$name.json" "$BEST_TRY" "$((LAST_TRY + 1))" || true
  fi
  [[ "$BEST_TRY" == "$LAST_TRY" ]] || echo "  kept attempt $((BEST_TRY + 1)) (least disturbed)"
}

# The storm's connections: one file descriptor each, in the server and in the generator processes.
raise_file_limit() {
  local need=$(( STORM_ROOMS * STORM_CLIENTS + 1024 )) soft hard
  soft="$(ulimit -Sn)"
  hard="$(ulimit -Hn)"
  echo "open-file limit: soft $soft, hard $hard; the storm needs about $need per process"
  if [[ "$soft" == unlimited ]] || (( soft >= need )); then return 0; fi
  if [[ "$hard" == unlimited ]] || (( hard >= need )); then
    ulimit -Sn "$need"
  else
    ulimit -Sn "$hard"
    echo "warning: the hard open-file limit $hard is below $need: the storm may fail with EMFILE" >&2
  fi
  echo "soft open-file limit raised to $(ulimit -Sn)"
}

prepare
raise_file_limit

for kind in $SERVERS; do
  if [[ "$kind" == ripple ]]; then label="Ripple"; else label="@y/websocket-server"; fi
  step "$label: start"
  start_server "$kind" "$kind-pressure"
  for profile in $PROFILES; do
    case "$profile" in
      burst)
        burst_args=(--rooms "$BURST_ROOMS" --clients "$BURST_CLIENTS" --inserts "$BURST_INSERTS" --ws-every "$BURST_WS_EVERY"
          --procs "$BURST_PROCS" --converge-timeout "$BURST_TIMEOUT")
        if [[ "$BURST_WARMUP" == 1 ]]; then
          step "$label: burst warm-up (discarded), ${BURST_ROOMS}x${BURST_CLIENTS}x${BURST_INSERTS}"
          RETRIES=0 QUIET_WAIT_EACH=0 pressure_run "$kind-burst-warmup" burst.mjs "${burst_args[@]}" --label warmup
          sleep "$PAUSE"
        fi
        step "$label: burst, $BURST_ROOMS rooms x $BURST_CLIENTS clients x $BURST_INSERTS inserts"
        pressure_run "$kind-burst" burst.mjs "${burst_args[@]}" --label "${BURST_ROOMS}x${BURST_CLIENTS}x${BURST_INSERTS}"
        ;;
      storm)
        storm_args=(--clients "$STORM_CLIENTS" --procs "$STORM_PROCS" --awareness "$STORM_AWARENESS" --retries "$STORM_RETRIES"
          --timeout "$STORM_TIMEOUT" --hold "$STORM_HOLD")
        if (( STORM_WARMUP_ROOMS > 0 )); then
          step "$label: storm warm-up (discarded), $STORM_WARMUP_ROOMS rooms x $STORM_CLIENTS connections"
          RETRIES=0 QUIET_WAIT_EACH=0 pressure_run "$kind-storm-warmup" storm.mjs --rooms "$STORM_WARMUP_ROOMS" "${storm_args[@]}" --label warmup
          sleep "$PAUSE"
        fi
        step "$label: connection storm, $STORM_ROOMS rooms x $STORM_CLIENTS connections"
        pressure_run "$kind-storm" storm.mjs --rooms "$STORM_ROOMS" "${storm_args[@]}" --label "${STORM_ROOMS}x${STORM_CLIENTS}"
        ;;
      awareness)
        step "$label: awareness storm, 1 room x $AWARE_CLIENTS clients x $AWARE_RATE moves/s, ${AWARE_WARMUP}+${AWARE_SECONDS}s"
        pressure_run "$kind-awareness" awareness.mjs --clients "$AWARE_CLIENTS" --rate "$AWARE_RATE" --seconds "$AWARE_SECONDS" \
          --warmup "$AWARE_WARMUP" --procs "$AWARE_PROCS" --decode-every "$AWARE_DECODE_EVERY" --label "1x${AWARE_CLIENTS}x${AWARE_RATE}"
        ;;
      *)
        echo "unknown profile $profile (burst, storm, awareness)" >&2
        exit 2
        ;;
    esac
    sleep "$PAUSE" # the profile's rooms empty, compact and back up before the next one (and before SIGTERM)
  done
  stop_server
done

step "report"
node pressure-report.mjs --out "$OUT" --total-seconds "$(( $(date +%s) - START ))"
step "done: $OUT/results.md"
