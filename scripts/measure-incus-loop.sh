#!/usr/bin/env bash
# Time go.starlark.net inside the test bed's Incus on the compute-bound loop of the engine
# benchmark (`for i in range(n): acc += (i * i) % 7`): `incus create --empty` with the loop in
# the scriptlet at n = 0 and n = N; the difference over N is the time per iteration.
# Compare with `cargo bench -p berth-core -- loop_per_iteration`.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-3000000}
RUNS=${RUNS:-3}
scripts/testbed.sh up >/dev/null
export INCUS_DIR=${BERTH_TESTBED_DIR:-/tmp/berth-testbed}/members/m1
work=$(mktemp -d)
trap 'rm -rf "$work"; incus config unset instances.placement.scriptlet || true' EXIT

create_seconds() {  # n -> seconds for one `incus create --empty`
  printf 'def instance_placement(request, candidate_members):\n    acc = 0\n    for i in range(%d):\n        acc += (i * i) %% 7\n' "$1" > "$work/loop.star"
  incus config set instances.placement.scriptlet=- < "$work/loop.star"
  local start end
  start=$(date +%s.%N)
  incus create --empty "loop-$1" --quiet 2>/dev/null
  end=$(date +%s.%N)
  incus delete "loop-$1"
  echo "$end - $start" | bc
}

for run in $(seq 1 "$RUNS"); do
  base=$(create_seconds 0)
  loop=$(create_seconds "$N")
  per=$(echo "scale=1; ($loop - $base) * 1000000000 / $N" | bc)
  echo "run $run: n=0 ${base}s, n=$N ${loop}s -> ${per} ns per iteration"
done
