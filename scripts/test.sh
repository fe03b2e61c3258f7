#!/usr/bin/env bash
# Run every Berth test, installing what is missing (scripts/setup.sh test):
#   1. formatting and lints (cargo fmt --check, clippy -D warnings) and the dependency policy
#      (cargo deny: licenses, bans, sources)
#   2. unit and integration tests (cargo test), including the Incus client against the real
#      3-member Incus cluster of scripts/testbed.sh and the store against a throw-away
#      PostgreSQL (scripts/postgres.sh), both started here and stopped at the end; the suites on
#      the test bed run beside the others (they mostly wait for Incus); the HTTP suites run a
#      second time on PostgreSQL
#   3. the page weight: a release build of the site, each page's wasm + JS (gzip) against the
#      budget (scripts/page-weight.mjs --check)
#   4. end-to-end tests: a debug build of Berth with the demo snapshot, driven in Debian's
#      headless chromium by end2end/ (node's test runner + playwright-core); they take the
#      README's screenshots (docs/screenshots/)
#   5. no secret a test created (password, session id, CSRF or API token) in any log the
#      suites wrote (scripts/check-secrets.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# `make test` builds everything, mostly from scratch (CI starts from a clean clone): incremental
# caches would only speed up the next build of a crate being edited, and take gigabytes of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Each step says when it starts (minutes:seconds into the run): where `make test` spends its time.
step() { printf '\n\033[1m== %s\033[0m (at %d:%02d)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }
work=$(mktemp -d)
server_pid=""
live_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$live_pid" ] && kill "$live_pid" 2>/dev/null && wait "$live_pid" 2>/dev/null
  scripts/testbed.sh down || true
  scripts/postgres.sh down || true
  rm -rf "$work"
}
trap cleanup EXIT

step "setup"
scripts/setup.sh test

step "format and lints"
cargo fmt --all --check
cargo clippy --all-targets -- -D warnings
# The dependency policy (deny.toml): licenses, banned crates, crates.io only; offline.
cargo deny --offline check bans licenses sources

step "Incus test bed"
scripts/testbed.sh up

step "PostgreSQL"
BERTH_TEST_POSTGRES_URL=$(scripts/postgres.sh up | tail -1)
export BERTH_TEST_POSTGRES_URL

step "unit and integration tests"
# Each test process writes its server logs and the secrets it made here (step 5 reads them).
rm -rf target/tmp/test-logs
cargo test --workspace --no-run
# The server's integration tests are one binary, `integration`, whose suites are its modules
# (server/tests/main.rs). The suites on the test bed mostly wait for Incus (about 8 minutes of
# waiting, 2 of CPU): they run one after another beside the rest, which never touch the test bed.
live=(capture decisions_live metrics plans_live scriptlet_live simulate_live testbed)
integration() { cargo test -p berth-server --test integration -- "$@"; }
(for suite in "${live[@]}"; do integration "$suite::" || exit; done) >"$work/live.log" 2>&1 &
live_pid=$!
cargo test --workspace --exclude berth-server
cargo test -p berth-server --lib --bins
integration $(printf -- '--skip %s:: ' "${live[@]}")
cargo test -p berth-server --doc

step "HTTP suites on PostgreSQL"
BERTH_TEST_DATABASE=postgres integration http:: access:: accounts:: sandbox:: library:: impact:: review:: \
  redaction:: matrix:: templates:: assurance:: decisions:: oidc::

step "the suites on the test bed"
live_status=0
wait "$live_pid" || live_status=$?
live_pid=""
cat "$work/live.log"
[ "$live_status" -eq 0 ] || { echo "the suites on the test bed failed" >&2; exit "$live_status"; }
BERTH_TEST_DATABASE=postgres integration metrics::
BERTH_TEST_DATABASE=postgres integration plans_live::the_api_drives_a_plan

step "page weight: the release site against the budget (scripts/page-weight.mjs --check)"
scripts/build.sh --release --site-only
node scripts/page-weight.mjs target/site --release --check

step "build (debug)"
scripts/build.sh

step "editor bundle in chromium (CodeMirror: completion, indentation, coverage marks, CSP)"
(cd editor && npm run smoke)

step "end-to-end tests"
RUST_LOG="debug,berth_server=trace" \
  target/debug/berth serve --demo --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/stdout" 2>"$work/server.log" &
server_pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^Berth is running at //p' "$work/stdout")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "berth did not start" >&2; cat "$work/server.log" >&2; exit 1; }
# The demo's admin password, printed once on stdout (not in the log).
password=$(sed -n 's/^Sign in as admin with the password \([^ ]*\) .*/\1/p' "$work/stdout")
[ -n "$password" ] || { echo "berth printed no admin password" >&2; cat "$work/stdout" >&2; exit 1; }
echo "$password" >"$work/e2e.secrets"
# BERTH_BIN makes the scaled snapshot the latency is measured on; TESTBED_SOCKET is the test
# bed's first member, captured through the Snapshots page.
if ! (cd end2end && BASE_URL="$url" ADMIN_PASSWORD="$password" SECRETS_FILE="$work/e2e.secrets" \
  SCREENSHOTS="$PWD/../docs/screenshots" BERTH_BIN="$PWD/../target/debug/berth" \
  TESTBED_SOCKET="${BERTH_TESTBED_DIR:-/tmp/berth-testbed}/members/m1/unix.socket" npm test); then
  # The server's warnings and errors say why a browser test waited in vain (logs hold no secrets:
  # step 5 checks that on every run).
  echo "== the server's warnings and errors during the end-to-end tests" >&2
  grep -E ' (WARN|ERROR) ' "$work/server.log" | tail -50 >&2 || true
  exit 1
fi

step "no secrets in the logs"
kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
server_pid=""
scripts/check-secrets.sh target/tmp/test-logs "$work"
step "done"
