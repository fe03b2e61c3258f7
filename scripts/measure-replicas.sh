#!/usr/bin/env bash
# Request throughput of one Berth replica against two on one PostgreSQL (the throw-away cluster
# of scripts/postgres.sh), with the demo snapshot: the Cluster page and a simulation, for
# SECONDS each at CONCURRENCY requests in flight (scripts/measure-replicas.mjs).
#
#   scripts/measure-replicas.sh [BERTH_BINARY] [SECONDS] [CONCURRENCY]
#
# Default binary: target/release/berth (scripts/build.sh --release). Prints one line per
# workload and replica count.
set -euo pipefail
cd "$(dirname "$0")/.."
berth=${1:-target/release/berth}
seconds=${2:-10}
concurrency=${3:-8}
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

admin=$(scripts/postgres.sh up | tail -1)
database="berth_measure_$$"
psql -q "$admin" -c "CREATE DATABASE $database"
url="${admin%/*}/$database"
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
echo "$password" | "$berth" user add measure --role author --database "$url" >/dev/null

start() {  # start a replica on a free port (not in a subshell: its PID must be kept)
  "$berth" serve --demo --database "$url" --listen 127.0.0.1:0 --data-dir "$work/$1" \
    >"$work/$1.out" 2>"$work/$1.log" &
  pids+=($!)
  for _ in $(seq 1 100); do
    sed -n 's/^Berth is running at //p' "$work/$1.out" | grep -q . && break
    sleep 0.1
  done
}
address() { sed -n 's/^Berth is running at //p' "$work/$1.out" | sed 's#/$##'; }
start a
start b
a=$(address a)
b=$(address b)
export BERTH_USER=measure BERTH_PASSWORD=$password
node scripts/measure-replicas.mjs "$seconds" "$concurrency" "$a"
node scripts/measure-replicas.mjs "$seconds" "$concurrency" "$a" "$b"
psql -q "$admin" -c "DROP DATABASE $database WITH (FORCE)" || true
