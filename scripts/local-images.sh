#!/usr/bin/env bash
# Stand-ins for the base images docker-compose.yml uses, built from Debian bookworm packages, for a
# Docker engine that cannot pull from a registry. deploy/compose.local-images.yml makes compose use them:
#
#   scripts/local-images.sh            build the stand-ins that are missing or out of date (idempotent)
#   scripts/local-images.sh --list     each image and whether it is there
#   docker compose -f docker-compose.yml -f deploy/compose.local-images.yml up -d --build
#
#   image                          stands in for            from
#   ripple-local/jre:17            eclipse-temurin:17-jre   openjdk-17-jre-headless, curl
#   ripple-local/postgres:15       postgres:16              postgresql-15; entrypoint honours POSTGRES_USER,
#                                                           POSTGRES_PASSWORD, POSTGRES_DB, PGDATA; pg_isready
#   ripple-local/nginx:1.22        nginx:1.27               nginx, curl
#   ripple-local/prometheus:2.42   prom/prometheus:v2.55.1  prometheus
#
# Their base is debian:bookworm-slim when the engine has it or can pull it; otherwise Debian bookworm
# made here with `debootstrap --variant=minbase` (about 2 minutes; installed with apt-get if missing)
# and imported as ripple-local/debian:bookworm. The packages come from Debian's mirror through the
# host's network (`docker build --network host`): the containers need no network of their own.
#
# Each stand-in carries a label with a hash of its recipe (deploy/local-images/<name>/) and its base:
# an image whose recipe changed is rebuilt, any other is left alone. LOCAL_IMAGES_REBUILD=1 rebuilds all.
# LOCAL_IMAGES_MIRROR: the Debian mirror for debootstrap (default: http://deb.debian.org/debian).
set -euo pipefail
# the classic builder: it needs no buildx plugin, and --network host reaches the package mirror
export DOCKER_BUILDKIT=0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECIPES="$ROOT/deploy/local-images"
MIRROR="${LOCAL_IMAGES_MIRROR:-http://deb.debian.org/debian}"
OFFICIAL_BASE=debian:bookworm-slim
LOCAL_BASE=ripple-local/debian:bookworm
LABEL=dev.ripple.local-image.recipe
# stand-ins built at once (their downloads overlap); LOCAL_IMAGES_JOBS=1 builds one at a time
JOBS=${LOCAL_IMAGES_JOBS:-2}

# name:tag of each stand-in, and its recipe directory under deploy/local-images/
STANDINS=(
  "ripple-local/jre:17 jre"
  "ripple-local/postgres:15 postgres"
  "ripple-local/nginx:1.22 nginx"
  "ripple-local/prometheus:2.42 prometheus"
)

log() { echo "[local-images] $*"; }
die() { echo "[local-images] error: $*" >&2; exit 1; }

[[ "$JOBS" =~ ^[1-9]$ ]] || die "LOCAL_IMAGES_JOBS must be 1-9"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info); start one first"

# ---------------------------------------------------------------- base

debootstrap_base() {
  local dir
  if ! command -v debootstrap >/dev/null; then
    [[ $(id -u) -eq 0 ]] || die "debootstrap is not installed and installing it needs root: apt-get install debootstrap"
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  [[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
  dir="$(mktemp -d "${TMPDIR:-/tmp}/ripple-debootstrap.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" EXIT
  log "debootstrap --variant=minbase bookworm from $MIRROR (about 2 minutes; log $dir/debootstrap.log)"
  if ! debootstrap --variant=minbase bookworm "$dir/root" "$MIRROR" >"$dir/debootstrap.log" 2>&1; then
    tail -20 "$dir/debootstrap.log" >&2
    log "debootstrap failed: once more"
    rm -rf "$dir/root"
    if ! debootstrap --variant=minbase bookworm "$dir/root" "$MIRROR" >"$dir/debootstrap.log" 2>&1; then
      tail -20 "$dir/debootstrap.log" >&2
      die "debootstrap failed twice"
    fi
  fi
  # what the official slim image leaves out, and the security and point-release updates it follows
  rm -rf "$dir"/root/var/cache/apt/archives/*.deb "$dir"/root/var/lib/apt/lists/*
  cat >"$dir/root/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
  tar -C "$dir/root" -c . | docker import -c 'CMD ["bash"]' -m "debootstrap --variant=minbase bookworm" - "$LOCAL_BASE" >/dev/null
  rm -rf "$dir"
  trap - EXIT
  log "imported $LOCAL_BASE"
}

# prints the base image to build on: the official one if the engine has it or can pull it, else ours
base_image() {
  if have_image "$OFFICIAL_BASE"; then echo "$OFFICIAL_BASE"; return; fi
  if have_image "$LOCAL_BASE"; then echo "$LOCAL_BASE"; return; fi
  if timeout 120 docker pull -q "$OFFICIAL_BASE" >/dev/null 2>&1; then echo "$OFFICIAL_BASE"; return; fi
  log "cannot pull $OFFICIAL_BASE: making Debian bookworm with debootstrap" >&2
  debootstrap_base >&2
  echo "$LOCAL_BASE"
}

# ---------------------------------------------------------------- stand-ins

# hash of a recipe directory's files (names and contents) and of the base image's id
recipe_hash() {
  local dir=$1 base_id=$2
  { (cd "$dir" && find . -type f | LC_ALL=C sort | xargs sha256sum); echo "$base_id"; } | sha256sum | cut -c1-16
}

# the recipe hash a stand-in should carry, and whether it carries it
wanted_hash() { recipe_hash "$RECIPES/$2" "$(docker image inspect -f '{{.Id}}' "$3")"; }
up_to_date() {
  [[ -z "${LOCAL_IMAGES_REBUILD:-}" ]] \
    && [[ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true)" == "$(wanted_hash "$@")" ]]
}

# builds one stand-in, its output in $4; returns non-zero on failure
build_standin() {
  local image=$1 recipe=$2 base=$3 out=$4 t0=$SECONDS
  if docker build --network host --pull=false --build-arg "BASE=$base" --label "$LABEL=$(wanted_hash "$image" "$recipe" "$base")" \
      -t "$image" "$RECIPES/$recipe" >"$out" 2>&1; then
    log "built $image in $((SECONDS - t0)) s"
  else
    log "building $image failed after $((SECONDS - t0)) s; last lines:"
    tail -20 "$out" >&2
    return 1
  fi
}

case "${1:-}" in
  --list)
    for entry in "$OFFICIAL_BASE -" "$LOCAL_BASE -" "${STANDINS[@]}"; do
      read -r image _ <<<"$entry"
      if have_image "$image"; then echo "present  $image"; else echo "missing  $image"; fi
    done
    exit 0
    ;;
  "") ;;
  *) echo "usage: $0 [--list]" >&2; exit 2 ;;
esac

t0=$SECONDS
base="$(base_image)"
logs="$(mktemp -d "${TMPDIR:-/tmp}/ripple-local-images.XXXXXX")"
trap 'rm -rf "$logs"' EXIT
# the missing ones, JOBS at a time, then once more, one at a time, any that failed (a mirror's hiccup)
todo=()
for entry in "${STANDINS[@]}"; do
  read -r image recipe <<<"$entry"
  if up_to_date "$image" "$recipe" "$base"; then log "$image is up to date"; else todo+=("$entry"); fi
done
pids=()
failed=()
for i in "${!todo[@]}"; do
  read -r image recipe <<<"${todo[$i]}"
  log "building $image from $base (deploy/local-images/$recipe)"
  build_standin "$image" "$recipe" "$base" "$logs/$recipe.log" &
  pids[$i]=$!
  # at most JOBS at once: wait for the oldest still running
  if (( i + 1 >= JOBS )); then
    j=$(( i + 1 - JOBS ))
    wait "${pids[$j]}" || failed+=("${todo[$j]}")
  fi
done
for (( j = ${#todo[@]} - JOBS < 0 ? 0 : ${#todo[@]} - JOBS; j < ${#todo[@]}; j++ )); do
  wait "${pids[$j]}" || failed+=("${todo[$j]}")
done
for entry in "${failed[@]}"; do
  read -r image recipe <<<"$entry"
  log "building $image again"
  build_standin "$image" "$recipe" "$base" "$logs/$recipe.log" || die "building $image failed twice"
done
log "stand-ins ready in $((SECONDS - t0)) s (base $base)"
