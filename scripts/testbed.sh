#!/usr/bin/env bash
# Berth's Incus test bed: a real 3-member Incus 6.0.4 cluster on this machine, on loopback only.
#
#   scripts/testbed.sh install      install Incus 6.0.4 (Debian bookworm-backports) and tools if missing
#   scripts/testbed.sh up [--reset] start (bootstrap/join/seed as needed) and wait until all members are Online
#   scripts/testbed.sh down         stop the daemons by their saved PIDs (state is kept)
#   scripts/testbed.sh status       one line per member: pid and whether it runs
#
# Members m1, m2, m3 listen on 127.0.0.11-13:8443; each has its own INCUS_DIR under
# $BERTH_TESTBED_DIR (default /tmp/berth-testbed)/members/mN, with its unix socket there.
# Seeded: image `busybox` (built locally from busybox-static), cluster groups gA={m1,m2} and
# gB={m3}, projects proj-a (features.profiles=false), proj-b (own profiles and images) and
# proj-r (restricted to gA), and a trusted client certificate in tls/client.{crt,key}.
#
# Incus never reaches the network: INCUS_SKIP_INSTANCE_TYPES=1 stops its start-up download,
# images.auto_update_interval=0 its image refresh, and every address is on 127.0.0.0/8.
set -euo pipefail

STATE=${BERTH_TESTBED_DIR:-/tmp/berth-testbed}
MEMBERS=(m1 m2 m3)
PORT=8443
INCUSD=/usr/libexec/incus/incusd

say() { printf '\033[1m[testbed]\033[0m %s\n' "$*"; }
address_of() { echo "127.0.0.1${1#m}"; }
member_dir() { echo "$STATE/members/$1"; }
on() { local member=$1; shift; INCUS_DIR=$(member_dir "$member") incus "$@"; }
api() { curl -sf --unix-socket "$(member_dir "$1")/unix.socket" "http://incus$2"; }

running() {  # the saved PID is alive, not a zombie, and is incusd
  local pidfile; pidfile=$(member_dir "$1")/incusd.pid
  [ -s "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] \
    && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q incusd
}

install() {
  if [ -x "$INCUSD" ] && command -v incus jq curl openssl >/dev/null && [ -x /bin/busybox ]; then return 0; fi
  [ "$(id -u)" = 0 ] || { echo "installing Incus needs root" >&2; exit 1; }
  say "installing Incus 6.0.4 from bookworm-backports (container support only, no qemu)"
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      > /etc/apt/sources.list.d/bookworm-backports.sources
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    incus-base incus-client busybox-static jq curl openssl >/dev/null
}

build_image() {  # a 1 MB busybox image, so no image server is needed
  local work=$STATE/image
  [ -s "$work/busybox.tar.gz" ] && return 0
  say "building the busybox image"
  rm -rf "$work"; mkdir -p "$work"/rootfs/{bin,sbin,etc,proc,sys,dev,tmp,root,run,var} "$work/templates"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for applet in $("$work/rootfs/bin/busybox" --list); do
    [ -e "$work/rootfs/bin/$applet" ] || ln -s busybox "$work/rootfs/bin/$applet"
  done
  ln -sf /bin/busybox "$work/rootfs/sbin/init"
  printf '::sysinit:/bin/mount -t proc proc /proc\n::respawn:/bin/sleep 3600\n::shutdown:/bin/true\n' > "$work/rootfs/etc/inittab"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
  echo 'root:x:0:' > "$work/rootfs/etc/group"
  echo '{{ container.name }}' > "$work/templates/hostname.tpl"
  cat > "$work/metadata.yaml" <<YAML
architecture: x86_64
creation_date: $(date +%s)
properties: {description: "busybox for the Berth test bed", os: busybox, release: "1"}
templates:
  /etc/hostname: {when: [create, copy], template: hostname.tpl}
YAML
  (cd "$work" && tar -czf busybox.tar.gz metadata.yaml templates rootfs)
}

start_member() {
  local member=$1 dir; dir=$(member_dir "$1")
  mkdir -p "$dir"
  running "$member" && return 0
  INCUS_DIR=$dir INCUS_SKIP_INSTANCE_TYPES=1 setsid "$INCUSD" --group root --debug \
    --logfile "$dir/incusd.log" </dev/null >/dev/null 2>&1 &
  echo $! > "$dir/incusd.pid"
}

wait_ready() { INCUS_DIR=$(member_dir "$1") timeout 120 "$INCUSD" waitready --timeout=110; }
clustered() { [ "$(api "$1" /1.0 | jq -r .metadata.environment.server_clustered)" = true ]; }

bootstrap() {
  say "bootstrapping the cluster on m1"
  on m1 admin init --preseed <<YAML
config:
  core.https_address: $(address_of m1):$PORT
  cluster.https_address: $(address_of m1):$PORT
  images.auto_update_interval: "0"
storage_pools:
- {name: local, driver: dir, description: per-member directory pool}
profiles:
- name: default
  devices:
    root: {type: disk, path: /, pool: local}
cluster: {server_name: m1, enabled: true}
YAML
}

join() {
  local member=$1 token
  say "joining $member"
  on m1 cluster revoke-token "$member" >/dev/null 2>&1 || true
  token=$(on m1 cluster add "$member" --quiet | tail -n1)
  on "$member" admin init --preseed <<YAML
cluster:
  enabled: true
  server_name: $member
  server_address: $(address_of "$member"):$PORT
  cluster_token: $token
  member_config:
  - {entity: storage-pool, name: local, key: source, value: ""}
YAML
}

seed() {
  on m1 image info busybox >/dev/null 2>&1 || on m1 image import "$STATE/image/busybox.tar.gz" --alias busybox --quiet
  on m1 cluster group show gA >/dev/null 2>&1 || on m1 cluster group create gA
  on m1 cluster group show gB >/dev/null 2>&1 || on m1 cluster group create gB
  on m1 cluster group assign m1 default,gA >/dev/null
  on m1 cluster group assign m2 default,gA >/dev/null
  on m1 cluster group assign m3 default,gB >/dev/null
  on m1 project show proj-a >/dev/null 2>&1 || \
    on m1 project create proj-a -c features.images=false -c features.profiles=false
  if ! on m1 project show proj-b >/dev/null 2>&1; then
    on m1 project create proj-b -c features.images=true -c features.profiles=true
    on m1 profile device add default root disk path=/ pool=local --project proj-b
  fi
  on m1 image info busybox --project proj-b >/dev/null 2>&1 || \
    on m1 image copy busybox local: --project default --target-project proj-b --alias busybox --quiet
  # Incus refuses restricted projects without their own profiles.
  if ! on m1 project show proj-r >/dev/null 2>&1; then
    on m1 project create proj-r -c features.images=false -c features.profiles=true \
      -c restricted=true -c restricted.cluster.groups=gA
    on m1 profile device add default root disk path=/ pool=local --project proj-r
  fi
  mkdir -p "$STATE/tls"
  if ! [ -s "$STATE/tls/client.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes -days 3650 \
      -keyout "$STATE/tls/client.key" -out "$STATE/tls/client.crt" -subj "/CN=berth-testbed" 2>/dev/null
    chmod 600 "$STATE/tls/client.key"
  fi
  local fingerprint
  fingerprint=$(openssl x509 -in "$STATE/tls/client.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f')
  on m1 config trust show "${fingerprint:0:12}" >/dev/null 2>&1 || \
    on m1 config trust add-certificate "$STATE/tls/client.crt" --name berth-testbed
}

up() {
  if [ "${1:-}" = --reset ]; then
    down
    # Nothing may stay mounted below the state directory before it is removed.
    awk -v dir="$STATE/members" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
    rm -rf "$STATE/members"
  fi
  install
  build_image
  # All daemons start together: a restarted cluster needs a quorum before any is ready.
  for member in "${MEMBERS[@]}"; do start_member "$member"; done
  wait_ready m1
  clustered m1 || bootstrap
  for member in "${MEMBERS[@]:1}"; do
    wait_ready "$member"
    clustered "$member" || join "$member"
  done
  # After a restart, heartbeats take a few seconds to mark every member Online again.
  local statuses=""
  for _ in $(seq 1 90); do
    statuses=$(api m1 '/1.0/cluster/members?recursion=1' | jq -r '[.metadata[].status] | unique | join(",")')
    [ "$statuses" = Online ] && break
    sleep 1
  done
  [ "$statuses" = Online ] || { echo "cluster members not all Online: $statuses" >&2; exit 1; }
  # A restarted member shows Online before it serves requests ("Server isn't ready yet").
  for member in "${MEMBERS[@]}"; do
    for _ in $(seq 1 90); do
      api m1 "/1.0/cluster/members/$member/state" >/dev/null && break
      sleep 1
    done
    api m1 "/1.0/cluster/members/$member/state" >/dev/null || { echo "$member is not ready" >&2; exit 1; }
  done
  seed
  say "up: m1 m2 m3 on $(address_of m1)-13:$PORT, state in $STATE"
}

down() {
  local pids=()
  for member in "${MEMBERS[@]}"; do
    if running "$member"; then
      pids+=("$member:$(cat "$(member_dir "$member")/incusd.pid")")
      kill -TERM "$(cat "$(member_dir "$member")/incusd.pid")"
    fi
  done
  for entry in "${pids[@]}"; do
    local member=${entry%%:*} pid=${entry#*:}
    for _ in $(seq 1 60); do running "$member" || break; sleep 1; done
    if running "$member"; then say "$member still running after 60 s: SIGKILL"; kill -KILL "$pid"; fi
  done
  [ ${#pids[@]} -eq 0 ] || say "stopped ${#pids[@]} member(s)"
}

status() {
  for member in "${MEMBERS[@]}"; do
    if running "$member"; then echo "$member running pid $(cat "$(member_dir "$member")/incusd.pid")"; else echo "$member stopped"; fi
  done
}

case "${1:-}" in
  install) install ;;
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 install|up [--reset]|down|status" >&2; exit 2 ;;
esac
