#!/usr/bin/env bash
# Record a stream of Incus events on the test bed (scripts/testbed.sh) for the decision log's
# ingest benchmark (server/benches/decision_ingest.rs): with a logging placement scriptlet set,
# `incus monitor` (the event stream the listener reads: lifecycle and logging, every project)
# while instances are created, moved to other members and to another project, renamed and
# deleted through the `incus` command line. Debug lines are left out (a production cluster does
# not log them); everything else is kept as Incus sent it, one event per line, in
# server/benches/testdata/decision-events.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/testbed.sh up >/dev/null
export INCUS_DIR=${BERTH_TESTBED_DIR:-/tmp/berth-testbed}/members/m1
out=server/benches/testdata/decision-events.jsonl
work=$(mktemp -d)
prefix=rec$$
monitor=""
cleanup() {
  [ -n "$monitor" ] && kill "$monitor" 2>/dev/null || true
  for project in default proj-b; do
    for name in $(incus list --project "$project" --format csv -c n | grep "^$prefix" || true); do
      incus delete --force "$name" --project "$project" >/dev/null
    done
  done
  incus config unset instances.placement.scriptlet
  rm -rf "$work"
}
trap cleanup EXIT

incus config set instances.placement.scriptlet="$(cat <<'STAR'
def instance_placement(request, candidate_members):
    names = sorted([m.server_name for m in candidate_members])
    log_info("reason=", request.reason, " project=", request.project, " name=", request.name, " candidates=", ",".join(names))
    if len(names) > 0:
        set_target(names[len(request.name) % len(names)])
    log_warn("placed ", request.name)
STAR
)"
incus monitor --type=lifecycle --type=logging --all-projects --format json >"$work/events.json" &
monitor=$!
sleep 1
members=(m1 m2 m3)
for n in $(seq 1 30); do
  project=default; [ $((n % 3)) = 0 ] && project=proj-b
  incus create busybox "$prefix-$n$(printf 'x%.0s' $(seq 1 $((n % 4))))" --project "$project" -q
done
for n in 1 2 4 5 7; do
  name=$(incus list --project default --format csv -c n | grep "^$prefix-$n\(x*\)$" | head -1)
  here=$(incus list --project default --format csv -c L "^$name\$")
  for target in "${members[@]}"; do [ "$target" != "$here" ] && break; done
  incus move "$name" --target "$target" -q
done
for n in 8 10; do
  name=$(incus list --project default --format csv -c n | grep "^$prefix-$n\(x*\)$" | head -1)
  incus move "$name" --target-project proj-b -q
done
incus rename "$(incus list --project default --format csv -c n | grep "^$prefix-11" | head -1)" "$prefix-renamed" -q
sleep 2
kill "$monitor"; monitor=""
wait 2>/dev/null || true
# One compact event per line, debug lines left out.
jq -c 'select(.type == "lifecycle" or (.type == "logging" and .metadata.level != "debug"))' "$work/events.json" >"$out"
echo "recorded $(wc -l <"$out") events ($(jq -s '[.[] | select(.type == "lifecycle")] | length' "$out") lifecycle) in $out"
