#!/usr/bin/env bash
# Where the time and the allocations go: JMH with JFR (-prof jfr), then JfrTop's summary of each
# recording. Needs bench/out (run make-trace.mjs or run.sh first) and target/benchmarks.jar.
#
#   bash bench/profile.sh [JMH benchmark regex]      (default: both benchmarks, doc1mb.bin only)
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$BENCH_DIR"
[ -f target/benchmarks.jar ] || (cd .. && ./mvnw -q -B -f bench/pom.xml package)
REGEX="${1:-dev\.ripple\.collab\.bench\..*Benchmark}"
rm -rf out/jfr
java -jar target/benchmarks.jar "$REGEX" -p file=doc1mb.bin -f 1 -wi 2 -i 3 -w 5s -r 5s \
  -prof "jfr:dir=out/jfr;configName=profile" > out/jfr-jmh.txt
for f in out/jfr/*/profile.jfr; do
  echo "=== $(basename "$(dirname "$f")")"
  java -cp target/benchmarks.jar dev.ripple.collab.bench.JfrTop "$f" 15
done | tee out/profile.txt
