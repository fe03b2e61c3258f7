#!/usr/bin/env bash
# Install what building, running or testing Berth needs, when it is missing. Idempotent;
# nothing is downloaded from outside the package registries (crates.io, Debian, npm).
#
#   scripts/setup.sh build     the wasm32 target, wasm-bindgen-cli (the version in Cargo.lock), and
#                              node with the editor's npm packages (CodeMirror, esbuild)
#   scripts/setup.sh release   the above, and wasm-opt (binaryen 132 from npm, locked in tools/binaryen)
#   scripts/setup.sh test      the release build tools (the tests weigh a release site), Debian's
#                              chromium, cargo-deny, the end-to-end npm packages and Incus
#                              (scripts/testbed.sh install)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
what=${1:-build}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

locked_version() {  # the version of a crate in Cargo.lock
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

setup_build() {
  command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  local want; want=$(locked_version wasm-bindgen)
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (must equal the wasm-bindgen crate in Cargo.lock)"
    # Not --locked: its lock file pins a webpki-roots the registry here does not serve.
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
  command -v npm >/dev/null || apt_install nodejs npm
  npm_ci editor "the editor's packages (CodeMirror, esbuild)"
}

npm_ci() {  # DIR WHAT: install DIR's locked npm packages unless they are installed already
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    say "installing $2 (npm ci in $1)"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

setup_release() {
  # Debian's binaryen 108 silently breaks hydration (it rewrites the externref table export);
  # 116 asserts on the per-page split modules; 132 is known good. npm's `binaryen` is binaryen
  # compiled to wasm and run by node (scripts/wasm-opt-all.mjs uses its JavaScript API):
  # pinned by the lock file, nothing native downloaded, and no six-minute C++ compile as
  # `cargo install wasm-opt` needs.
  npm_ci tools/binaryen "wasm-opt (binaryen 132 from npm)"
}

setup_test() {
  apt_install chromium ca-certificates
  # The dependency policy check (deny.toml): licenses, banned crates, sources. About 5 minutes
  # to build once.
  if [ "$(cargo-deny --version 2>/dev/null | awk '{print $2}')" != 0.20.2 ]; then
    say "installing cargo-deny 0.20.2"
    cargo install cargo-deny --version 0.20.2 --locked
  fi
  npm_ci end2end "the end-to-end test packages"
  scripts/testbed.sh install
}

case "$what" in
  build) setup_build ;;
  release) setup_build; setup_release ;;
  test) setup_build; setup_release; setup_test ;;
  *) echo "usage: $0 build|release|test" >&2; exit 2 ;;
esac
