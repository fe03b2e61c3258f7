#!/usr/bin/env bash
# A throw-away PostgreSQL for Berth's tests: Debian's server, a cluster in a temporary
# directory, run as the unprivileged user `postgres`, listening on loopback only.
#
#   scripts/postgres.sh install   install Debian's postgresql if missing (needs root)
#   scripts/postgres.sh up        initialise (once) and start; prints the admin URL
#   scripts/postgres.sh down      stop it and delete the cluster
#   scripts/postgres.sh url       the admin URL (tests create one database each with it)
#
# State in $BERTH_POSTGRES_DIR (default /tmp/berth-postgres), port $BERTH_POSTGRES_PORT (55432).
# Authentication is `trust` on 127.0.0.1 only: the cluster holds nothing but test data and lives
# as long as the test run. TLS is on (a self-signed certificate made here), so clients may ask
# for it with `?sslmode=require`; plain connections are accepted too.
set -euo pipefail

STATE=${BERTH_POSTGRES_DIR:-/tmp/berth-postgres}
PORT=${BERTH_POSTGRES_PORT:-55432}
RUN_AS=postgres

say() { printf '\033[1m[postgres]\033[0m %s\n' "$*"; }

bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] || { echo "PostgreSQL is not installed (scripts/postgres.sh install)" >&2; exit 1; }
  echo "$dir"
}

as_postgres() {
  if [ "$(id -un)" = "$RUN_AS" ]; then "$@"; else runuser -u "$RUN_AS" -- "$@"; fi
}

install() {
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then return 0; fi
  [ "$(id -u)" = 0 ] || { echo "installing PostgreSQL needs root" >&2; exit 1; }
  say "installing Debian's postgresql"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  # Debian's package starts a system cluster; Berth's tests use their own.
  systemctl disable --now postgresql >/dev/null 2>&1 || true
}

url() { echo "postgres://postgres@127.0.0.1:$PORT/postgres"; }

up() {
  install
  local bin; bin=$(bindir)
  mkdir -p "$STATE"
  chown "$RUN_AS" "$STATE"
  if [ ! -s "$STATE/data/PG_VERSION" ]; then
    say "initialising a cluster in $STATE/data"
    as_postgres "$bin/initdb" -D "$STATE/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj /CN=127.0.0.1 -keyout "$STATE/server.key" -out "$STATE/server.crt" 2>/dev/null
    chown "$RUN_AS" "$STATE/server.key" "$STATE/server.crt"
    chmod 600 "$STATE/server.key"
  fi
  if as_postgres "$bin/pg_ctl" -D "$STATE/data" status >/dev/null 2>&1; then
    say "already running on 127.0.0.1:$PORT"
  else
    # fsync off: a test cluster trades durability for speed; it is deleted at the end.
    as_postgres "$bin/pg_ctl" -D "$STATE/data" -l "$STATE/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $STATE -c fsync=off -c synchronous_commit=off -c max_connections=400 -c ssl=on -c ssl_cert_file=$STATE/server.crt -c ssl_key_file=$STATE/server.key" >/dev/null
    say "running on 127.0.0.1:$PORT"
  fi
  url
}

down() {
  [ -d "$STATE/data" ] || return 0
  as_postgres "$(bindir)/pg_ctl" -D "$STATE/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$STATE"
  say "stopped and removed"
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  url) url ;;
  *) echo "usage: $0 install|up|down|url" >&2; exit 2 ;;
esac
