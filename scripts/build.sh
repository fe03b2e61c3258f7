#!/usr/bin/env bash
# Build Berth without cargo-leptos: the wasm bundle that hydrates the pages, the CSS and
# static files (all into target/site), then the `berth` binary, which finds target/site
# relative to itself.
#
#   scripts/build.sh             debug:   target/debug/berth
#   scripts/build.sh --release   release: target/release/berth, wasm built for size and optimised by wasm-opt
#
# Needs the tools of `scripts/setup.sh build` (and `release` for --release).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

release=0
[ "${1:-}" = --release ] && release=1
site=target/site
pkg=$site/pkg

say() { printf '\033[1m[build]\033[0m %s\n' "$*"; }

say "wasm bundle"
if [ $release = 1 ]; then
  cargo build -p berth-frontend --lib --target wasm32-unknown-unknown --target-dir target/front --profile wasm-release
  wasm=target/front/wasm32-unknown-unknown/wasm-release/berth_frontend.wasm
else
  cargo build -p berth-frontend --lib --target wasm32-unknown-unknown --target-dir target/front
  wasm=target/front/wasm32-unknown-unknown/debug/berth_frontend.wasm
fi
rm -rf "$pkg"
mkdir -p "$pkg"
# Writes berth.js and berth_bg.wasm: the names <HydrationScripts/> asks for.
wasm-bindgen --target web --no-typescript --out-name berth --out-dir "$pkg" "$wasm"
if [ $release = 1 ]; then
  say "wasm-opt -Oz"
  "$HOME/.cargo/bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$pkg/berth_bg.wasm" -o "$pkg/berth_bg.wasm"
fi
say "editor bundle (CodeMirror, esbuild)"
node editor/build.mjs "$pkg/editor.js"
cp style/main.css "$pkg/berth.css"
cp -R public/. "$site/"

say "berth binary"
if [ $release = 1 ]; then
  cargo build -p berth-server --bin berth --release
  say "done: target/release/berth (site: $site)"
else
  cargo build -p berth-server --bin berth
  say "done: target/debug/berth (site: $site)"
fi
