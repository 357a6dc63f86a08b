#!/usr/bin/env bash
# The cold path, Ripple against @y/websocket-server in one run: bash bench/load/open.sh
#
# For each server (SERVERS, default "ripple ref"), a fresh process, once ready (Ripple: /ready, after
# its self warm-up):
#   open-new-1:  50 new rooms opened one after another (socket open to synced, open.mjs);
#   open-new-50: 50 new rooms opened at once;
#   open-warm-1: the baseline, 50 rooms that are already running (another client holds each), one at a time;
#   Ripple only (the reference keeps no document nobody has open): a room holding 100 KB, then one
#   holding 5 MB, opened after its writer left and it passivated (--idle 15 s).
# Prints a table and writes out/open/results.md. Loopback only; every step bounded; each server is
# stopped by its PID. Knobs: SERVERS, OPEN_ROOMS (50), SKIP_BUILD, RIPPLE_JAR, QUIET_WAIT.
SERVERS="${SERVERS:-ripple ref}"
OPEN_ROOMS="${OPEN_ROOMS:-50}"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$LOAD_DIR/out/open"
prepare
rm -f "$OUT"/open-*.json

for kind in $SERVERS; do
  start_server "$kind" "$kind-open"
  step "$kind: $OPEN_ROOMS new rooms, one at a time"
  node open.mjs --url-base "ws://127.0.0.1:$PORT" --rooms "$OPEN_ROOMS" --concurrency 1 --label new-1 | tee "$OUT/open-$kind-new-1.json"
  step "$kind: $OPEN_ROOMS new rooms at once"
  node open.mjs --url-base "ws://127.0.0.1:$PORT" --rooms "$OPEN_ROOMS" --concurrency "$OPEN_ROOMS" --label new-50 | tee "$OUT/open-$kind-new-50.json"
  step "$kind: $OPEN_ROOMS running rooms (the baseline), one at a time"
  node open.mjs --url-base "ws://127.0.0.1:$PORT" --rooms "$OPEN_ROOMS" --concurrency 1 --warm --label warm-1 | tee "$OUT/open-$kind-warm-1.json"
  if [[ "$kind" == ripple ]]; then
    step "$kind: rooms holding 100 KB, reopened after they passivated"
    node open.mjs --url-base "ws://127.0.0.1:$PORT" --rooms 20 --concurrency 1 --doc-kb 100 --idle 15 --label passivated-100k | tee "$OUT/open-$kind-passivated-100k.json"
    step "$kind: rooms holding 5 MB, reopened after they passivated"
    node open.mjs --url-base "ws://127.0.0.1:$PORT" --rooms 5 --concurrency 1 --doc-kb 5120 --idle 15 --timeout 120 --label passivated-5m | tee "$OUT/open-$kind-passivated-5m.json"
  fi
  stop_server
done

node -e '
const fs = require("fs"), dir = process.argv[1]
const lines = ["| server | profile | socket open to synced p50 / p90 / p99 / max (ms) | connect to synced p50 (ms) | errors |", "|---|---|---|---|---|"]
for (const f of fs.readdirSync(dir).filter((f) => /^open-.*\.json$/.test(f)).sort()) {
  const r = JSON.parse(fs.readFileSync(dir + "/" + f, "utf8")), o = r.fromOpen
  lines.push(`| ${f.split("-")[1]} | ${r.label} (${r.rooms} rooms, ${r.concurrency} at once) | ${o.p50} / ${o.p90} / ${o.p99} / ${o.max} | ${r.fromConnect.p50} | ${r.errorCount} |`)
}
fs.writeFileSync(dir + "/results.md", lines.join("\n") + "\n")
console.log(lines.join("\n"))
' "$OUT"
