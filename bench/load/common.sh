# Shared by the scripts here (each sources it first, not run): the preamble (strict mode, LOAD_DIR and
# ROOT, the knobs the scripts share, cleanup on exit), preparing a run, timing steps, starting and
# stopping a Ripple server or the reference, and the quiet-machine attempts of one profile. A script
# sets its own defaults of these knobs before sourcing, and OUT after. loadgen() points the generator
# at URL_BASE (default ws://127.0.0.1:$PORT; a comma-separated list for a cluster) and reports the CPU
# of SERVER_PIDS (default $SERVER_PID).
set -euo pipefail
LOAD_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$LOAD_DIR/../.." && pwd)"
LOAD_SECONDS="${LOAD_SECONDS:-30}"
WARMUP="${WARMUP:-5}"
PROCS_LIGHT="${PROCS_LIGHT:-1}"
PROCS_HEAVY="${PROCS_HEAVY:-2}"
RIPPLE_JAR="${RIPPLE_JAR:-/tmp/ripple-bench.jar}"
SKIP_BUILD="${SKIP_BUILD:-0}"
QUIET_WAIT="${QUIET_WAIT:-120}"
RETRIES="${RETRIES:-2}"
OTHER_MAX="${OTHER_MAX:-0.15}"
QUIET_WAIT_EACH="${QUIET_WAIT_EACH:-60}"
RIPPLE_JAVA_OPTS="${RIPPLE_JAVA_OPTS:-}"
# the discarded warm-up profile before the measured ones: the JIT is still compiling after 15 s of load
WARMUP_LOAD_SECONDS="${WARMUP_LOAD_SECONDS:-45}"
START=$(date +%s)
step() { printf '\n=== [%4ds] %s\n' "$(( $(date +%s) - START ))" "$*"; }

SERVER_PID=""
DATA_DIRS=()
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then stop_server; fi
  for d in "${DATA_DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# start_server KIND NAME: starts the server (ripple, ref: @y/websocket-server, hocus: Hocuspocus) in the
# background, sets SERVER_PID and PORT
start_server() {
  local kind="$1" name="$2" log="$OUT/$2.log" ready
  SERVER_LOG="$log"
  PORT="$(free_port)"
  if [[ "$kind" == ripple ]]; then
    local data
    data="$(mktemp -d /tmp/ripple-bench-data.XXXXXX)"
    DATA_DIRS+=("$data")
    # shellcheck disable=SC2086 # RIPPLE_JAVA_OPTS: extra JVM options, split on spaces
    COLLAB_PORT="$PORT" COLLAB_BIND_HOST=127.0.0.1 COLLAB_DATA_DIR="$data" \
      java @"$ROOT/conf/jvm.options" ${RIPPLE_JAVA_OPTS:-} -jar "$RIPPLE_JAR" > "$log" 2>&1 &
    ready="Ripple collaboration server listening on 127.0.0.1:$PORT"
  elif [[ "$kind" == hocus ]]; then
    (cd "$LOAD_DIR" && HOST=127.0.0.1 PORT="$PORT" exec node hocus-server.mjs) > "$log" 2>&1 &
    ready="listening on 127.0.0.1:$PORT"
  else
    (cd "$LOAD_DIR" && HOST=127.0.0.1 PORT="$PORT" exec node --expose-gc ref-server.mjs) > "$log" 2>&1 &
    ready="listening on 127.0.0.1:$PORT"
  fi
  SERVER_PID=$!
  local started_ms
  started_ms=$(date +%s%3N)
  for _ in $(seq 1 600); do
    if grep -q "$ready" "$log" 2>/dev/null; then
      # Ripple: as a balancer would, wait for /ready (after its self warm-up, ripple.warmup)
      if [[ "$kind" == ripple ]] && ! wait_ready; then break; fi
      READY_MS=$(( $(date +%s%3N) - started_ms ))
      echo "$name: pid $SERVER_PID, port $PORT, ready after $READY_MS ms"
      echo "{\"ready_ms\":$READY_MS}" > "$OUT/$name.ready.json"
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "$name did not start; log:" >&2
  cat "$log" >&2
  exit 1
}

# wait_ready: until GET /ready on $PORT answers 200 (bash's /dev/tcp: no curl needed), 120 s at most
wait_ready() {
  local status
  for _ in $(seq 1 1200); do
    status=""
    if exec 3<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
      printf 'GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
      read -r -t 5 _ status _ <&3 || true
      exec 3>&- 3<&-
    fi
    if [[ "$status" == 200 ]]; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  echo "the server was not ready after 120 s" >&2
  return 1
}

stop_server() {
  local pid="$SERVER_PID"
  SERVER_PID=""
  if [[ -n "${SERVER_LOG:-}" ]]; then wc -l < "$SERVER_LOG" > "${SERVER_LOG%.log}.lines"; fi
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

# quiet_attempts NAME WHAT WINDOW PAUSE SUMMARY COMMAND...: one profile, each attempt's stdout in
# $OUT/NAME.tryN.json (stderr in NAME.tryN.err). This machine is shared: other jobs' CPU use (measured
# over the window, `other_cpu_cores` in the result) can distort a run badly. So each attempt first
# waits (up to QUIET_WAIT_EACH s) for quiet; an attempt during which others used more than OTHER_MAX
# cores is repeated (after PAUSE s), up to RETRIES times, and the attempt with the least other CPU is
# kept (chosen by disturbance, never by its result). WHAT names the command in a failure line, WINDOW
# the measured span in a retry line; SUMMARY is node code printing a line of an attempt (argv: its
# file, its number). Sets BEST_TRY and LAST_TRY; the caller keeps NAME.tryBEST_TRY.json.
quiet_attempts() {
  local name="$1" what="$2" window="$3" pause="$4" summary="$5" try=0 other best="" best_other=""
  shift 5
  while :; do
    node quiet.mjs --max-wait "$QUIET_WAIT_EACH" --sample 3 > /dev/null
    "$@" > "$OUT/$name.try$try.json" 2> "$OUT/$name.try$try.err" || echo "  ($name: $what reported a failure, see $name.try$try.json / .err)"
    node -e "$summary" "$OUT/$name.try$try.json" "$try" || true
    other="$(node -e "try{const r=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8'));console.log(r.other_cpu_cores??99)}catch{console.log(99)}" "$OUT/$name.try$try.json")"
    if [[ -z "$best" ]] || node -e "process.exit(Number(process.argv[1]) < Number(process.argv[2]) ? 0 : 1)" "$other" "$best_other"; then
      best="$try"
      best_other="$other"
    fi
    if (( try >= RETRIES )) || ! node -e "process.exit(Number(process.argv[1]) > Number(process.argv[2]) ? 0 : 1)" "$other" "$OTHER_MAX"; then
      break
    fi
    try=$((try + 1))
    echo "  other jobs used $other cores during the $window (> $OTHER_MAX): attempt $((try + 1)) of $((RETRIES + 1))"
    if [[ "$pause" != 0 ]]; then sleep "$pause"; fi
  done
  BEST_TRY="$best"
  LAST_TRY="$try"
}

# loadgen OUTNAME ARGS...: one loadgen.mjs profile with quiet_attempts, the attempt kept in out/OUTNAME.json
# (with its attempt number and the number of attempts).
loadgen() {
  local name="$1"
  shift
  quiet_attempts "$name" loadgen window 0 "const r=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8'));const l=r.latency_ms||{};
      console.log('  try '+process.argv[2]+': p50 '+l.p50+' p99 '+l.p99+' max '+l.max+' ms; '+r.achieved_updates_per_s+'/'+r.target_updates_per_s+' upd/s; lost '+(r.delivery||{}).lost+
      '; converged '+(r.convergence||{}).converged+'; generator saturated '+(r.generator||{}).saturated+'; server '+r.server_cpu_cores+' cores; other jobs '+r.other_cpu_cores+' cores')" \
    run_loadgen "$@"
  cp "$OUT/$name.try$BEST_TRY.json" "$OUT/$name.json"
  node -e "const f=process.argv[1];const r=JSON.parse(require('fs').readFileSync(f,'utf8'));r.attempt=Number(process.argv[2]);r.attempts=Number(process.argv[3]);require('fs').writeFileSync(f,JSON.stringify(r)+'\n')" \
    "$OUT/$name.json" "$BEST_TRY" "$((LAST_TRY + 1))"
  [[ "$BEST_TRY" == "$LAST_TRY" ]] || echo "  kept attempt $((BEST_TRY + 1)) (least disturbed)"
}

run_loadgen() {
  (cd "$LOAD_DIR" && node loadgen.mjs --url-base "${URL_BASE:-ws://127.0.0.1:$PORT}" --server-pid "${SERVER_PIDS:-$SERVER_PID}" "$@")
}

# enter: $OUT exists and the working directory is $LOAD_DIR (the scripts run node on the files here)
enter() {
  mkdir -p "$OUT"
  cd "$LOAD_DIR"
}

# prepare: enter, a fresh $OUT, the pinned npm packages, the server jar (built unless SKIP_BUILD=1 and
# $RIPPLE_JAR exists), then a wait of up to QUIET_WAIT s for other jobs to calm down; ends in $LOAD_DIR
prepare() {
  enter
  rm -f "$OUT"/*.json "$OUT"/*.err "$OUT"/*.log "$OUT"/*.lines "$OUT"/results.md

  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error

  if [[ "$SKIP_BUILD" != 1 || ! -f "$RIPPLE_JAR" ]]; then
    step "build the server jar"
    (cd "$ROOT" && ./mvnw -q -B package -DskipTests && cp target/ripple-collab.jar "$RIPPLE_JAR")
  fi

  step "machine: waiting up to ${QUIET_WAIT}s for other jobs to calm down"
  node quiet.mjs --max-wait "$QUIET_WAIT" | tee "$OUT/machine.json"
}
