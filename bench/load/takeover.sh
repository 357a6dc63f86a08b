#!/usr/bin/env bash
# The takeover, Ripple against @y/websocket-server in one run: bash bench/load/takeover.sh
#
# What the survivors of a failed node (or a deploy's new process) live through: a fresh process, once
# ready (Ripple: /ready, after its warm-up), to which every client connects at the same instant, each
# into a room that is new to it, and then types. For each server (SERVERS, default "ripple ref"):
#   takeover-250:  50 rooms x 5 clients, 10 updates/s each, a 10 s window from the first moment;
#   takeover-5000: 500 rooms x 10 clients, 1 update/s each (5,000 updates/s: what this machine's
#                  generator sustains), a 10 s window;
#   opening:       the steady 50 x 5 x 10 while new rooms keep opening: a 5 s warm-up, then 30 s in which
#                  every 10 s a tenth of the rooms move, all their clients, to rooms new to the server
#                  (loadgen --move-every): CPU per update and p99 with rooms starting, and each move's
#                  time until its clients synced in the new room;
# each on a fresh process. loadgen.mjs connects all clients at once and reports the time until the last
# one synced, the latency p99 of the window and the server's CPU; the table adds CPU per update.
# Prints the table and writes out/takeover/results.md. Loopback only; every step bounded; each server
# stopped by its PID. Knobs: SERVERS, PROFILES ("250 5000 opening"), SKIP_BUILD, RIPPLE_JAR, QUIET_WAIT, PROCS_HEAVY.
SERVERS="${SERVERS:-ripple ref}"
PROFILES="${PROFILES:-250 5000 opening}"
RETRIES="${RETRIES:-0}"
QUIET_WAIT_EACH="${QUIET_WAIT_EACH:-20}"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$LOAD_DIR/out/takeover"
prepare
rm -f "$OUT"/takeover-*.json

for kind in $SERVERS; do
  for profile in $PROFILES; do
    start_server "$kind" "$kind-takeover-$profile"
    case "$profile" in
      250)
        step "$kind: 250 clients at once into 50 new rooms, then 10 updates/s each"
        loadgen "takeover-$kind-250" --rooms 50 --clients 5 --rate 10 --seconds 10 --warmup 0 --procs "$PROCS_HEAVY" --label takeover-250 ;;
      5000)
        step "$kind: 5,000 clients at once into 500 new rooms, then 1 update/s each"
        loadgen "takeover-$kind-5000" --rooms 500 --clients 10 --rate 1 --seconds 10 --warmup 0 --procs "$PROCS_HEAVY" --connect-timeout 120 --label takeover-5000 ;;
      opening)
        step "$kind: 50 rooms x 5 clients x 10 updates/s, a tenth of the rooms moving to new rooms every 10 s"
        loadgen "takeover-$kind-opening" --rooms 50 --clients 5 --rate 10 --seconds 30 --warmup 5 --move-every 10 --move-fraction 0.1 --procs "$PROCS_HEAVY" --label opening ;;
      *) echo "unknown profile $profile (PROFILES: 250 5000 opening)" >&2; stop_server; exit 2 ;;
    esac
    stop_server
  done
done

node -e '
const fs = require("fs"), dir = process.argv[1]
const lines = ["| server | profile | all synced after (ms) | p50 / p99 latency (ms) | server CPU per update (µs) | moved rooms synced p50 / p99 (ms) | lost | errors |", "|---|---|---|---|---|---|---|---|"]
for (const f of fs.readdirSync(dir).filter((f) => /^takeover-[a-z]+-[a-z0-9]+\.json$/.test(f)).sort()) {
  const r = JSON.parse(fs.readFileSync(dir + "/" + f, "utf8")), l = r.latency_ms || {}
  const us = r.achieved_updates_per_s > 0 ? Math.round(r.server_cpu_cores * 1e6 / r.achieved_updates_per_s) : null
  const m = r.moves ? `${r.moves.p50} / ${r.moves.p99} (${r.moves.count} moves)` : "-"
  lines.push(`| ${f.split("-")[1]} | ${r.label} | ${(r.connections || {}).sync_ms} | ${l.p50} / ${l.p99} | ${us} | ${m} | ${(r.delivery || {}).lost} | ${(r.errors || []).length} |`)
}
fs.writeFileSync(dir + "/results.md", lines.join("\n") + "\n")
console.log(lines.join("\n"))
' "$OUT"
