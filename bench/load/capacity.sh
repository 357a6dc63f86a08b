#!/usr/bin/env bash
# Capacity curve, Ripple vs @y/websocket-server vs Hocuspocus in one run: bash bench/load/capacity.sh
#
# For each server (SERVERS, default "ripple ref hocus"): a fresh instance (Ripple: once /ready), a
# discarded 45 s warm-up at 50x5x10, then 50 rooms x 5 clients at each per-client rate of RATES
# (updates/s, default "5 10 15 20 30 40"), CAP_SECONDS (20) measured after 5 s each. Hocuspocus
# (hocus-server.mjs, in memory) is driven by @hocuspocus/provider, the others by y-websocket's
# provider; the same yjs documents and the same updates. capacity-report.mjs prints the table and
# each server's knee: the highest rate with p99 under 50 ms, nothing lost and every room converged
# (out/capacity.md). A rate at which the generator itself was saturated says so: above it the
# machine, not the server, is the limit. Loopback only; every step bounded; servers stopped by PID.
SERVERS="${SERVERS:-ripple ref hocus}"
RATES="${RATES:-5 10 15 20 30 40}"
SECONDS_EACH="${CAP_SECONDS:-20}"
RETRIES="${RETRIES:-0}"
QUIET_WAIT_EACH="${QUIET_WAIT_EACH:-20}"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$LOAD_DIR/out/capacity"
prepare

for kind in $SERVERS; do
  client=()
  if [[ "$kind" == hocus ]]; then client=(--client hocuspocus); fi
  step "$kind: capacity, 50 rooms x 5 clients at $RATES updates/s per client"
  start_server "$kind" "$kind-capacity"
  RETRIES=0 QUIET_WAIT_EACH=0 loadgen "$kind-cap-warmup" --rooms 50 --clients 5 --rate 10 --seconds "$WARMUP_LOAD_SECONDS" --warmup 2 \
    --procs "$PROCS_HEAVY" --label warmup "${client[@]}" > /dev/null
  sleep 10
  for rate in $RATES; do
    loadgen "$kind-cap-$rate" --rooms 50 --clients 5 --rate "$rate" --seconds "$SECONDS_EACH" --warmup 5 --procs "$PROCS_HEAVY" \
      --label "50x5x$rate" "${client[@]}"
  done
  stop_server
done

step "report"
node capacity-report.mjs --out "$OUT" --servers "$SERVERS" --rates "$RATES"
