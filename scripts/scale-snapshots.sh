#!/usr/bin/env bash
# Writes the scaled copies of the demo snapshot Berth's performance goals are measured on
# (issue 7): OUTDIR/scale-100x5000.json (100 members, 5,000 instances) and
# OUTDIR/scale-300x20000.json (300 members, 20,000 instances). Deterministic: the same bytes on
# every run and machine (`berth snapshot demo --members N --instances M --seed 3`,
# core/src/demo/scale.rs). Seed 3 gives the members evacuated in the measurements: hv-a04-r03
# (60 instances) on the first, hv-b02-r17 (70) on the second.
#
#   scripts/scale-snapshots.sh OUTDIR [BERTH]     BERTH: the berth binary (default: a release build)
set -euo pipefail

out=${1:?usage: scripts/scale-snapshots.sh OUTDIR [BERTH]}
root=$(cd "$(dirname "$0")/.." && pwd)
berth=${2:-}
if [[ -z $berth ]]; then
    cargo build --release -p berth-server --manifest-path "$root/Cargo.toml"
    berth="${CARGO_TARGET_DIR:-$root/target}/release/berth"
fi
mkdir -p "$out"
for scale in 100x5000 300x20000; do
    "$berth" snapshot demo --members "${scale%x*}" --instances "${scale#*x}" --seed 3 -o "$out/scale-$scale.json"
    echo "$out/scale-$scale.json"
done
