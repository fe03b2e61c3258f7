#!/usr/bin/env bash
# Fails when a secret a test created (password, session id, CSRF or API token) appears in any
# log the test suites wrote. Usage: scripts/check-secrets.sh DIR... — each DIR holds *.log files
# and *.secrets files (one secret per line), as server/tests/support/logs.rs and the browser
# tests write them.
set -euo pipefail
secrets=$(mktemp)
trap 'rm -f "$secrets"' EXIT
logs=()
for dir in "$@"; do
  [ -d "$dir" ] || continue
  find "$dir" -name '*.secrets' -exec cat {} + 2>/dev/null | awk 'length($0) >= 8' >>"$secrets" || true
  while IFS= read -r -d '' log; do logs+=("$log"); done < <(find "$dir" -name '*.log' -size +0 -print0)
done
sort -u -o "$secrets" "$secrets"
count=$(wc -l <"$secrets")
# Nothing to check means the capture itself is broken: that must not pass silently.
[ "${#logs[@]}" -gt 0 ] || { echo "check-secrets: no logs found in $*" >&2; exit 1; }
[ "$count" -gt 0 ] || { echo "check-secrets: no secrets recorded in $*" >&2; exit 1; }
if leaked=$(grep -lFf "$secrets" "${logs[@]}"); then
  echo "check-secrets: a secret appears in these logs:" >&2
  echo "$leaked" >&2
  exit 1
fi
bytes=$(cat "${logs[@]}" | wc -c)
echo "check-secrets: $count secrets, none in ${#logs[@]} logs ($bytes bytes)"
