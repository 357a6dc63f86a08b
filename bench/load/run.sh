#!/usr/bin/env bash
# Load and memory benchmark, Ripple vs @y/websocket-server, in one run: bash bench/load/run.sh
#
# 1. npm ci here (yjs, y-websocket, ws, @y/websocket-server pinned in package-lock.json)
# 2. builds the server jar with the Maven wrapper and copies it to $RIPPLE_JAR (SKIP_BUILD=1 to
#    reuse an existing copy)
# 3. for each server, Ripple (java -jar, H2 journal in a fresh temp dir) then the reference
#    (ref-server.mjs: @y/websocket-server's setupWSConnection on `ws`, in memory):
#      start it on a free 127.0.0.1 port (Ripple: and wait for /ready, after its self warm-up);
#      cold: 50x5x10 on the fresh process, two 10 s windows (new rooms, new clients in each);
#      a discarded 50x5x10 warm-up run (JIT, connection pools);
#      loadgen 10 rooms x 5 clients x 5 updates/s; loadgen 50 x 5 x 10; stop it;
#      for each of three ~10 KB document shapes, a fresh instance: memory.mjs (1,000 rooms; after
#      the first shape also 1,000 idle connections); stop it
# 4. report.mjs: prints the side-by-side table and writes out/results.md
#
# Everything talks to 127.0.0.1 only; every step is bounded in time. Knobs (environment):
#   LOAD_SECONDS (measured seconds per profile, default 30), WARMUP (seconds, default 5),
#   WARMUP_LOAD_SECONDS (the discarded 50x5x10 warm-up, default 45),
#   PROCS_LIGHT / PROCS_HEAVY (generator processes, default 1 / 2), MEM_ROOMS (1000 per document kind),
#   MEM_DOCS (encoded,text,paste: see memory.mjs),
#   MEM_IDLE (1000), MEM_IDLE_ROOMS (100), RIPPLE_JAR (/tmp/ripple-bench.jar), SKIP_BUILD (0),
#   QUIET_WAIT (seconds to wait for other jobs on the machine to calm down first, default 120),
#   SERVERS ("ripple ref": run only some), OTHER_MAX (0.15 cores) / RETRIES (2) / QUIET_WAIT_EACH
#   (60 s): a profile during which other jobs on the machine used more than OTHER_MAX cores is run
#   again after waiting for quiet, and the least disturbed attempt is kept (see common.sh loadgen()).
MEM_ROOMS="${MEM_ROOMS:-1000}"
MEM_IDLE="${MEM_IDLE:-1000}"
MEM_IDLE_ROOMS="${MEM_IDLE_ROOMS:-100}"
MEM_DOCS="${MEM_DOCS:-encoded,text,paste}"
SERVERS="${SERVERS:-ripple ref}"
# strict mode, step, start_server/stop_server, loadgen (with its quiet waits and retries), prepare
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$LOAD_DIR/out"

prepare

for kind in $SERVERS; do
  if [[ "$kind" == ripple ]]; then label="Ripple"; else label="@y/websocket-server"; fi
  step "$label: load"
  start_server "$kind" "$kind-load"
  # cold: what the clients of a failed node or a deploy meet on a fresh process, from the moment it is
  # ready (Ripple: /ready, after its self warm-up); new rooms and new clients in each 10 s window
  step "$label: cold, 50 rooms x 5 clients x 10 updates/s on the fresh process, two 10 s windows"
  RETRIES=0 QUIET_WAIT_EACH=0 loadgen "$kind-cold1" --rooms 50 --clients 5 --rate 10 --seconds 10 --warmup 0 --procs "$PROCS_HEAVY" --label cold-1
  RETRIES=0 QUIET_WAIT_EACH=0 loadgen "$kind-cold2" --rooms 50 --clients 5 --rate 10 --seconds 10 --warmup 0 --procs "$PROCS_HEAVY" --label cold-2
  RETRIES=0 QUIET_WAIT_EACH=0 loadgen "$kind-warmup" --rooms 50 --clients 5 --rate 10 --seconds "$WARMUP_LOAD_SECONDS" --warmup 2 --procs "$PROCS_HEAVY" --label warmup
  sleep 10 # the warm-up's rooms compact and back up when their clients leave
  node idle-cpu.mjs --pid "$SERVER_PID" --seconds 10 | tee "$OUT/$kind-idle.json"
  step "$label: 10 rooms x 5 clients x 5 updates/s, ${LOAD_SECONDS}s"
  loadgen "$kind-light" --rooms 10 --clients 5 --rate 5 --seconds "$LOAD_SECONDS" --warmup "$WARMUP" --procs "$PROCS_LIGHT" --label "10x5x5"
  step "$label: 50 rooms x 5 clients x 10 updates/s, ${LOAD_SECONDS}s"
  loadgen "$kind-heavy" --rooms 50 --clients 5 --rate 10 --seconds "$LOAD_SECONDS" --warmup "$WARMUP" --procs "$PROCS_HEAVY" --label "50x5x10"
  stop_server

  first_kind=1
  for doc in ${MEM_DOCS//,/ }; do
    if (( first_kind )); then idle="$MEM_IDLE"; else idle=0; fi
    step "$label: memory, fresh server: $MEM_ROOMS rooms with a '$doc' document$( (( idle > 0 )) && echo ", then $idle idle connections")"
    start_server "$kind" "$kind-memory-$doc"
    if [[ "$kind" == ripple ]]; then heap="java:$SERVER_PID"; else heap="node:http://127.0.0.1:$PORT/__bench/heap"; fi
    node memory.mjs --url-base "ws://127.0.0.1:$PORT" --heap "$heap" --rooms "$MEM_ROOMS" --docs "$doc" --idle "$idle" \
      --idle-rooms "$MEM_IDLE_ROOMS" > "$OUT/$kind-memory-$doc.json" 2> "$OUT/$kind-memory-$doc.err" || echo "(memory: reported a failure)"
    cat "$OUT/$kind-memory-$doc.json"
    sleep 10 # rooms compact when their last client leaves: let that finish before SIGTERM
    stop_server
    first_kind=0
  done
done

step "report"
node report.mjs --out "$OUT" --seconds "$LOAD_SECONDS" --warmup "$WARMUP" --procs-light "$PROCS_LIGHT" --procs-heavy "$PROCS_HEAVY" \
  --total-seconds "$(( $(date +%s) - START ))"
step "done: $OUT/results.md"
