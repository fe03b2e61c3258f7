#!/usr/bin/env bash
# Record what real Incus says of every scriptlet in core/tests/corpus/: set each one as
# instances.placement.scriptlet on the test bed (scripts/testbed.sh) and write whether Incus
# accepted it, with its error message, to core/tests/corpus/verdicts.json. The unit tests
# compare `berth check` with this file; server/tests/scriptlet_live.rs asks the live cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/testbed.sh up >/dev/null
export INCUS_DIR=${BERTH_TESTBED_DIR:-/tmp/berth-testbed}/members/m1
version=$(incus query /1.0 | jq -r .environment.server_version)
out=core/tests/corpus/verdicts.json
entries=()
for file in core/tests/corpus/*.star; do
  name=$(basename "$file" .star)
  if error=$(incus config set instances.placement.scriptlet=- < "$file" 2>&1); then
    entries+=("$(jq -n --arg n "$name" '{($n): {accepted: true}}')")
  else
    entries+=("$(jq -n --arg n "$name" --arg e "$error" '{($n): {accepted: false, error: $e}}')")
  fi
  incus config unset instances.placement.scriptlet
done
printf '%s\n' "${entries[@]}" | jq -s --arg v "$version" '{incus_version: $v, verdicts: add}' > "$out"
echo "recorded $(jq '.verdicts | length' "$out") verdicts from Incus $version in $out"
