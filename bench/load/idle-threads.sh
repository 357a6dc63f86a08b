#!/usr/bin/env bash
# Idle CPU and RSS of a fresh Ripple, per thread: bash bench/load/idle-threads.sh ["name|JVM options" ...]
#
# For each variant (default: one, as shipped): a fresh server (java @conf/jvm.options, the options
# appended), SETTLE seconds (75) after it is ready with no client at all (its warm-up rooms have
# passivated by then), then the process's and each thread's CPU from /proc over WINDOW seconds (30),
# and the RSS at the end. Loopback only; bounded; the server is stopped by its PID.
SETTLE="${SETTLE:-75}"
WINDOW="${WINDOW:-30}"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$LOAD_DIR/out/idle"
enter
ticks() { local f; f="$(sed 's/.*) //' "$1")"; set -- $f; echo $(( ${12} + ${13} )); } # utime + stime, fields 14 and 15
(( $# > 0 )) || set -- "shipped|"
for variant in "$@"; do
  IFS='|' read -r name opts <<< "$variant"
  RIPPLE_JAVA_OPTS="$opts"
  start_server ripple "idle-$name"
  sleep "$SETTLE"
  declare -A before=()
  for t in /proc/"$SERVER_PID"/task/*; do before[${t##*/}]="$(ticks "$t/stat" 2>/dev/null || echo 0)"; done
  p0="$(ticks /proc/"$SERVER_PID"/stat)"
  sleep "$WINDOW"
  p1="$(ticks /proc/"$SERVER_PID"/stat)"
  hz="$(getconf CLK_TCK)"
  echo "$name: process $(node -e "console.log(((${p1}-${p0})/${hz}/${WINDOW}).toFixed(4))") cores over ${WINDOW}s; RSS $(( $(awk '/VmRSS/{print $2}' /proc/"$SERVER_PID"/status) / 1024 )) MB; threads (ticks of 1/${hz} s):"
  for t in /proc/"$SERVER_PID"/task/*; do
    d=$(( $(ticks "$t/stat" 2>/dev/null || echo 0) - ${before[${t##*/}]:-0} ))
    if (( d > 0 )); then echo "  $(cat "$t/comm" 2>/dev/null) $d"; fi
  done | awk '{print $NF "\t" $0}' | sort -rn | cut -f2- | head -12
  unset before
  stop_server
done
