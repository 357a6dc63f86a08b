#!/usr/bin/env bash
# The whole benchmark, from a fresh clone: bash bench/run.sh
#
# 1. npm ci (yjs pinned to the version the conformance suite uses)
# 2. make-trace.mjs: out/trace.bin (single-character updates of several clients), out/doc1mb.bin
#    (a ~1 MB document typed the same way) and out/doc1mb-text.bin (a ~1 MB mostly-text one)
# 3. builds target/benchmarks.jar (JMH + JOL + the engine sources) with the Maven wrapper
# 4. yjs in Node on the same files, then JMH, then MemoryMeasure (one after the other: 2 cores)
# 5. report.mjs: prints the side-by-side table and writes it to out/results.md
#
# Knobs (environment): UPDATES (trace length, default 120000), DOC_BYTES (default 1048576),
# JMH_ARGS (default "-f 1 -wi 3 -i 5 -w 5s -r 5s -prof gc"), YJS_ARGS (extra yjs-bench.mjs flags),
# BASE_CLIENTS (default 0 = off; e.g. 1000: also apply the trace on top of a document that already
# has that many client IDs, both sides, with fewer rounds; adds ~2-3 minutes at 1000).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"
UPDATES="${UPDATES:-120000}"
DOC_BYTES="${DOC_BYTES:-1048576}"
JMH_ARGS="${JMH_ARGS:--f 1 -wi 3 -i 5 -w 5s -r 5s -prof gc}"
YJS_ARGS="${YJS_ARGS:-}"
BASE_CLIENTS="${BASE_CLIENTS:-0}"
START=$(date +%s)
step() { printf '\n=== [%4ds] %s\n' "$(( $(date +%s) - START ))" "$*"; }
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null | tr ' ' '/' || echo '?'; }

cd "$BENCH_DIR"
mkdir -p out

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "make-trace.mjs --updates $UPDATES --doc-bytes $DOC_BYTES"
rm -f out/base-clients.bin out/yjs-base.json out/jmh-base.json
node make-trace.mjs --updates "$UPDATES" --doc-bytes "$DOC_BYTES" --base-clients "$BASE_CLIENTS" --out out

step "build target/benchmarks.jar"
(cd "$ROOT" && ./mvnw -q -B -f bench/pom.xml package)

LOAD="before yjs $(load)"
step "yjs in Node (apply, encode, memory)"
# shellcheck disable=SC2086
node --expose-gc yjs-bench.mjs --out out $YJS_ARGS > /dev/null

LOAD="$LOAD, before JMH $(load)"
step "JMH: $JMH_ARGS"
# shellcheck disable=SC2086
java -jar target/benchmarks.jar $JMH_ARGS -rf json -rff out/jmh.json 'dev\.ripple\.collab\.bench\..*Benchmark' \
  | tee out/jmh.txt

LOAD="$LOAD, after JMH $(load)"
if [ "$BASE_CLIENTS" -gt 0 ]; then
  step "apply on top of $BASE_CLIENTS client IDs: yjs, then JMH"
  node --expose-gc yjs-bench.mjs --out out --base base-clients.bin --only apply --json yjs-base.json \
    --apply-warmup 1 --apply-rounds 3 > /dev/null
  java -jar target/benchmarks.jar ApplyBenchmark -p base=base-clients.bin -f 1 -wi 2 -i 3 -w 5s -r 5s \
    -rf json -rff out/jmh-base.json | tee out/jmh-base.txt
fi
step "MemoryMeasure (JOL)"
java -Djdk.attach.allowAttachSelf=true -XX:+IgnoreUnrecognizedVMOptions -XX:+EnableDynamicAgentLoading \
  -cp target/benchmarks.jar dev.ripple.collab.bench.MemoryMeasure | tee out/java-memory.txt

step "report"
ENGINE="unknown"
if git -C "$ROOT" rev-parse --git-dir > /dev/null 2>&1; then
  ENGINE="commit $(git -C "$ROOT" rev-parse --short HEAD)"
  if [ -n "$(git -C "$ROOT" status --porcelain -- src/main/java/dev/ripple/collab/yjs)" ]; then
    ENGINE="$ENGINE plus uncommitted changes in src/main/java/dev/ripple/collab/yjs"
  fi
fi
BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" \
BENCH_SECONDS="$(( $(date +%s) - START ))" \
BENCH_NPROC="$(nproc)" \
BENCH_JAVA="$(java -version 2>&1 | head -n 2 | tr '\n' ' ' | sed 's/ *$//')" \
BENCH_NODE="$(node -v)" \
BENCH_ENGINE="$ENGINE" \
BENCH_JMH_ARGS="$JMH_ARGS" \
BENCH_LOAD="$LOAD" \
node report.mjs out
step "done: bench/out/results.md"
