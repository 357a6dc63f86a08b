#!/usr/bin/env bash
# Where Ripple's CPU goes under load: bash bench/load/profile.sh
#
# 1. prepare (as run.sh): npm ci, the server jar, a wait for quiet; async-profiler 3.0 from Maven
#    Central (tools.profiler:async-profiler, its Linux x64 library) into out/async-profiler
# 2. one Ripple (H2 journal, fresh temp dir, RIPPLE_JAVA_OPTS appended to its JVM options): a
#    discarded warm-up of WARMUP_SECONDS at the profile, then a pause for the warm-up's rooms to
#    compact (their final saves would otherwise land in the measured window)
# 3. the profile again; 8 s in, for PROFILE_SECONDS: async-profiler in itimer mode (CPU time of
#    every thread, kernel time included, which JFR does not see) and each thread group's CPU
# 4. profile.mjs report: out/profile.md (collapsed stacks in out/profile.collapsed)
#
# Knobs: ROOMS (50) CLIENTS (5) RATE (10) PROCS_HEAVY (2) WARMUP_SECONDS (40) PROFILE_SECONDS (15)
#        RIPPLE_JAVA_OPTS, and those of common.sh. Loopback only; every step is bounded.
ROOMS="${ROOMS:-50}"
CLIENTS="${CLIENTS:-5}"
RATE="${RATE:-10}"
WARMUP_SECONDS="${WARMUP_SECONDS:-40}"
PROFILE_SECONDS="${PROFILE_SECONDS:-15}"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$LOAD_DIR/out/profile"

prepare

AP_DIR="$OUT/async-profiler"
AP_LIB="$AP_DIR/linux-x64/libasyncProfiler.so"
if [[ ! -f "$AP_LIB" ]]; then
  step "async-profiler 3.0 from Maven Central"
  mkdir -p "$AP_DIR"
  (cd "$ROOT" && ./mvnw -q -B dependency:copy -Dartifact=tools.profiler:async-profiler:3.0 -DoutputDirectory="$AP_DIR")
  (cd "$AP_DIR" && jar xf async-profiler-3.0.jar linux-x64/libasyncProfiler.so)
fi

step "Ripple: start, warm up ${WARMUP_SECONDS}s at ${ROOMS}x${CLIENTS}x${RATE}"
start_server ripple profile-server
profile_args=(--rooms "$ROOMS" --clients "$CLIENTS" --rate "$RATE" --procs "$PROCS_HEAVY")
(cd "$LOAD_DIR" && node loadgen.mjs --url-base "ws://127.0.0.1:$PORT" --server-pid "$SERVER_PID" "${profile_args[@]}" \
  --seconds "$WARMUP_SECONDS" --warmup 5) > "$OUT/warmup.json" 2> "$OUT/warmup.err" || true
sleep 15 # the warm-up's rooms save and compact 7 s after their last client leaves

step "profile: ${PROFILE_SECONDS}s of async-profiler under load"
(cd "$LOAD_DIR" && node loadgen.mjs --url-base "ws://127.0.0.1:$PORT" --server-pid "$SERVER_PID" "${profile_args[@]}" \
  --seconds $((PROFILE_SECONDS + 12)) --warmup 3) > "$OUT/load.json" 2> "$OUT/load.err" &
load_pid=$!
sleep 8
# jcmd reads key=value pairs itself: the agent's options go in quotes of their own
jcmd "$SERVER_PID" JVMTI.agent_load "$AP_LIB" "\"start,event=itimer,interval=1ms\"" > /dev/null
node "$LOAD_DIR/profile.mjs" threads "$SERVER_PID" "$PROFILE_SECONDS" > "$OUT/threads.json"
jcmd "$SERVER_PID" JVMTI.agent_load "$AP_LIB" "\"stop,collapsed,file=$OUT/profile.collapsed\"" > /dev/null
wait "$load_pid" || echo "  (loadgen reported a failure, see $OUT/load.json)"
stop_server

node "$LOAD_DIR/profile.mjs" report "$OUT/profile.collapsed" "$OUT/threads.json" "$OUT/load.json" | tee "$OUT/profile.md"
