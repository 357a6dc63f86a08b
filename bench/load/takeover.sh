#!/usr/bin/env bash
# The takeover, Ripple against @y/websocket-server in one run: bash bench/load/takeover.sh
#
# What the survivors of a failed node (or a deploy's new process) live through: a fresh process, once
# ready (Ripple: /ready, after its warm-up), to which every client connects at the same instant, each
# into a room that is new to it, and then types. For each server (SERVERS, default "ripple ref"):
#   takeover-250:  50 rooms x 5 clients, 10 updates/s each, a 10 s window from the first moment;
#   takeover-5000: 500 rooms x 10 clients, 1 update/s each (5,000 updates/s: what this machine's
#                  generator sustains), a 10 s window;
# each on a fresh process. loadgen.mjs connects all clients at once and reports the time until the last
# one synced, the latency p99 of the window and the server's CPU; the table adds CPU per update.
# Prints the table and writes out/takeover/results.md. Loopback only; every step bounded; each server
# stopped by its PID. Knobs: SERVERS, SKIP_BUILD, RIPPLE_JAR, QUIET_WAIT, PROCS_HEAVY.
SERVERS="${SERVERS:-ripple ref}"
RETRIES="${RETRIES:-0}"
QUIET_WAIT_EACH="${QUIET_WAIT_EACH:-20}"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$LOAD_DIR/out/takeover"
prepare
rm -f "$OUT"/takeover-*.json

for kind in $SERVERS; do
  start_server "$kind" "$kind-takeover-250"
  step "$kind: 250 clients at once into 50 new rooms, then 10 updates/s each"
  loadgen "takeover-$kind-250" --rooms 50 --clients 5 --rate 10 --seconds 10 --warmup 0 --procs "$PROCS_HEAVY" --label takeover-250
  stop_server
  start_server "$kind" "$kind-takeover-5000"
  step "$kind: 5,000 clients at once into 500 new rooms, then 1 update/s each"
  loadgen "takeover-$kind-5000" --rooms 500 --clients 10 --rate 1 --seconds 10 --warmup 0 --procs "$PROCS_HEAVY" --connect-timeout 120 --label takeover-5000
  stop_server
done

node -e '
const fs = require("fs"), dir = process.argv[1]
const lines = ["| server | profile | all synced after (ms) | p50 / p99 latency (ms) | server CPU per update (µs) | lost | errors |", "|---|---|---|---|---|---|---|"]
for (const f of fs.readdirSync(dir).filter((f) => /^takeover-[a-z]+-[0-9]+\.json$/.test(f)).sort()) {
  const r = JSON.parse(fs.readFileSync(dir + "/" + f, "utf8")), l = r.latency_ms || {}
  const us = r.achieved_updates_per_s > 0 ? Math.round(r.server_cpu_cores * 1e6 / r.achieved_updates_per_s) : null
  lines.push(`| ${f.split("-")[1]} | ${r.label} | ${(r.connections || {}).sync_ms} | ${l.p50} / ${l.p99} | ${us} | ${(r.delivery || {}).lost} | ${(r.errors || []).length} |`)
}
fs.writeFileSync(dir + "/results.md", lines.join("\n") + "\n")
console.log(lines.join("\n"))
' "$OUT"
