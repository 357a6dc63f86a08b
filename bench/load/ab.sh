#!/usr/bin/env bash
# A/B of Ripple variants on one build: bash bench/load/ab.sh "name|JVM options" ["name|JVM options" ...]
#
# For each variant: a fresh Ripple (the jar at $RIPPLE_JAR, built by run.sh or profile.sh; the JVM
# options appended, e.g. -Djdbc-journal.parallelism=1) once /ready, 10 s of 50x5x10 on the fresh
# process (cold), a discarded 45 s warm-up at 50x5x10, 10 s of
# rest, the idle CPU over 10 s, then 10x5x5 and 50x5x10 for 30 s each; it prints the server's cores,
# CPU per update (µs, fan-out included), p99 and gaps of each. JSON of every profile in out/ab/.
# Example (the journal writers of 2026-12-02):
#   S=akka-persistence-jdbc.shared-databases.slick.db
#   bash bench/load/ab.sh "base|" "par1c2|-Djdbc-journal.parallelism=1 -D$S.numThreads=2 -D$S.maxConnections=2"
# Loopback only; every step bounded; each server stopped by its PID.
RETRIES="${RETRIES:-0}"
QUIET_WAIT_EACH="${QUIET_WAIT_EACH:-20}"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$LOAD_DIR/out/ab"
enter
for variant in "$@"; do
  IFS='|' read -r name opts <<< "$variant"
  RIPPLE_JAVA_OPTS="$opts"
  echo "### $name: $opts"
  start_server ripple "ab-$name"
  loadgen "ab-$name-cold" --rooms 50 --clients 5 --rate 10 --seconds 10 --warmup 0 --procs 2 --label cold
  loadgen "ab-$name-warmup" --rooms 50 --clients 5 --rate 10 --seconds 45 --warmup 2 --procs 2 --label warmup > /dev/null
  sleep 10
  node idle-cpu.mjs --pid "$SERVER_PID" --seconds 10
  loadgen "ab-$name-light" --rooms 10 --clients 5 --rate 5 --seconds 30 --warmup 5 --procs 1 --label 10x5x5
  loadgen "ab-$name-heavy" --rooms 50 --clients 5 --rate 10 --seconds 30 --warmup 5 --procs 2 --label 50x5x10
  for p in cold light heavy; do
    node -e 'const [f,n]=process.argv.slice(1);const r=JSON.parse(require("fs").readFileSync(f,"utf8"));
      console.log(n, "cores", r.server_cpu_cores, "us/update", Math.round(r.server_cpu_cores*1e6/r.achieved_updates_per_s), "p99", r.latency_ms.p99, "gaps", r.delivery.gaps)' \
      "$OUT/ab-$name-$p.json" "$name $p"
  done
  stop_server
done
