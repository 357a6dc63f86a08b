#!/usr/bin/env bash
# A Docker engine for the compose test (ComposeClusterIT) and for running docker-compose.yml by hand
# on a machine that has none running.
#
#   scripts/docker-engine.sh start [STATE_DIR]   installs Debian's docker.io and docker-compose if missing
#                                                (as root, with apt-get); if no engine answers `docker info`,
#                                                starts `dockerd --iptables=false` in the background and writes
#                                                its pid to STATE_DIR/dockerd.pid (log: STATE_DIR/dockerd.log).
#                                                Prints "started <pid>", or "running" for an engine that was
#                                                already there (left alone by stop).
#   scripts/docker-engine.sh stop [STATE_DIR]    stops the dockerd that start started, by its pid file, and
#                                                nothing else
#   scripts/docker-engine.sh compose             prints the compose command: "docker compose" (v2 plugin) or
#                                                "docker-compose" (v1, Debian's)
#
# STATE_DIR defaults to target/docker-engine. --iptables=false leaves the host's firewall as it is:
# containers on one compose network still reach each other by name, ports published on 127.0.0.1
# are forwarded by docker-proxy, and builds that need the network use the host's (--network host).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${2:-$ROOT/target/docker-engine}"
START_TIMEOUT=${DOCKER_ENGINE_START_TIMEOUT:-90}

log() { echo "[docker-engine] $*" >&2; }
die() { echo "[docker-engine] error: $*" >&2; exit 1; }

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

compose_command() {
  if timeout 20 docker compose version >/dev/null 2>&1; then echo "docker compose"
  elif command -v docker-compose >/dev/null; then echo "docker-compose"
  else return 1
  fi
}

install_packages() {
  local want=()
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then want+=(docker.io); fi
  compose_command >/dev/null || want+=(docker-compose)
  ((${#want[@]} == 0)) && return 0
  [[ $(id -u) -eq 0 ]] || die "missing ${want[*]}; installing needs root: apt-get install docker.io docker-compose"
  command -v apt-get >/dev/null || die "missing ${want[*]} and no apt-get to install them"
  log "installing ${want[*]} (apt-get)"
  local attempt
  for attempt in 1 2; do
    if apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${want[@]}" >"$STATE/apt.log" 2>&1; then
      return 0
    fi
    log "apt-get failed (attempt $attempt); last lines of $STATE/apt.log:"
    tail -5 "$STATE/apt.log" >&2 || true
    sleep 5
  done
  die "could not install ${want[*]}"
}

cmd_start() {
  mkdir -p "$STATE"
  install_packages
  if engine_answers; then
    echo "running"
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "no Docker engine answers and starting dockerd needs root"
  log "starting dockerd --iptables=false (log $STATE/dockerd.log)"
  # its own session and no inherited descriptors: the caller's pipes close when this script ends
  setsid dockerd --iptables=false >"$STATE/dockerd.log" 2>&1 </dev/null &
  local pid=$! deadline=$((SECONDS + START_TIMEOUT))
  echo "$pid" >"$STATE/dockerd.pid"
  until engine_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -30 "$STATE/dockerd.log" >&2
      rm -f "$STATE/dockerd.pid"
      die "dockerd exited at start"
    fi
    if ((SECONDS >= deadline)); then
      tail -30 "$STATE/dockerd.log" >&2
      cmd_stop >/dev/null
      die "dockerd did not answer within $START_TIMEOUT s"
    fi
    sleep 1
  done
  # dockerd's own record of its pid, should $! have been a wrapper's
  if [[ -f /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    pid="$(cat /var/run/docker.pid)"
    echo "$pid" >"$STATE/dockerd.pid"
  fi
  echo "started $pid"
}

cmd_stop() {
  local pid deadline
  [[ -f "$STATE/dockerd.pid" ]] || { echo "not started here"; return 0; }
  pid="$(cat "$STATE/dockerd.pid")"
  rm -f "$STATE/dockerd.pid"
  if ! kill -0 "$pid" 2>/dev/null; then echo "dockerd $pid already gone"; return 0; fi
  # SIGTERM: dockerd stops its containers and its containerd, then exits
  kill -TERM "$pid"
  deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "dockerd $pid did not exit within 60 s: SIGKILL to its process group"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  echo "stopped $pid"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  compose) compose_command || die "no docker compose (v2) and no docker-compose (v1): run '$0 start'" ;;
  *) echo "usage: $0 start|stop|compose [STATE_DIR]" >&2; exit 2 ;;
esac
