#!/bin/sh
# Entrypoint of the PostgreSQL stand-in (Dockerfile beside it): what the official postgres image's
# docker-entrypoint.sh does for the settings compose uses.
#   - "postgres [options]" (or options alone) runs the server; anything else is executed as given.
#   - As root: makes $PGDATA and the socket directory the postgres user's, then runs itself as postgres.
#   - An empty $PGDATA is initialised: initdb with superuser $POSTGRES_USER (default postgres) and
#     password $POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), password
#     authentication ($POSTGRES_HOST_AUTH_METHOD, default scram-sha-256) for every TCP client,
#     $POSTGRES_INITDB_ARGS passed on, database $POSTGRES_DB (default: the user's name) created, and
#     /docker-entrypoint-initdb.d/*.sql and *.sh run, on a server that listens on its socket only.
#   - Then the server runs in the foreground as PID 1, listening on every address.
set -eu

if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  chown postgres:postgres /var/run/postgresql
  chmod 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

log() { echo "entrypoint: $*" >&2; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_USER:=postgres}"
  : "${POSTGRES_DB:=$POSTGRES_USER}"
  : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    log "error: the database is uninitialized and POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)"
    exit 1
  fi
  log "initializing $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" \
    --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} >&2
  rm -f "$pwfile"
  printf '\n# every client over TCP, as the official image\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"

  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w -t 60 start >&2
  export PGUSER="$POSTGRES_USER" PGHOST=/var/run/postgresql
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -v ON_ERROR_STOP=1 --dbname postgres --set db="$POSTGRES_DB" -qAt >&2 <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sql) log "running $f"; psql -v ON_ERROR_STOP=1 --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
      *.sh) log "running $f"; . "$f" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >&2
  unset PGUSER PGHOST
  log "initialized; starting the server"
fi

exec "$@" -c listen_addresses='*'
