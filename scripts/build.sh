#!/usr/bin/env bash
# Build Berth without cargo-leptos: the wasm bundle that hydrates the pages, the CSS and
# static files (all into target/site), then the `berth` binary, which finds target/site
# relative to itself.
#
#   scripts/build.sh             debug:   target/debug/berth
#   scripts/build.sh --release   release: target/release/berth, wasm built for size and optimised by wasm-opt
#   … --site-only                target/site alone (no berth binary): e.g. to weigh the pages
#
# Needs the tools of `scripts/setup.sh build` (and `release` for --release). Ends with what a
# page downloads (gzip): the issue's budget is about these numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

release=0
binary=1
for arg in "$@"; do
  case "$arg" in
    --release) release=1 ;;
    --site-only) binary=0 ;;
    *) echo "usage: $0 [--release] [--site-only]" >&2; exit 2 ;;
  esac
done
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
say "wasm split: the main module and one module per page (tools/wasm-split)"
cargo build -p berth-wasm-split --release --quiet
target/release/berth-wasm-split split "$wasm" "$pkg"
# Writes berth.js and berth_bg.wasm: the names <HydrationScripts/> asks for. The split modules
# link to the main one by the linker's export names, so those are kept as they are.
wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle --out-name berth --out-dir "$pkg" "$pkg/berth_split.wasm"
rm "$pkg/berth_split.wasm"
if [ $release = 1 ]; then
  say "wasm-opt -Oz, every module (binaryen from npm, see scripts/setup.sh release)"
  node scripts/wasm-opt-all.mjs "$pkg"/*.wasm
fi
say "wasm packs: each page's modules in one file (tools/wasm-split)"
target/release/berth-wasm-split pack "$pkg"
if [ $release = 1 ]; then
  say "the JavaScript every page loads, minified (esbuild, as the editor bundle)"
  node scripts/minify-js.mjs "$pkg/berth.js" "$pkg/__wasm_split.______________________.js"
fi
say "editor bundle (CodeMirror, esbuild)"
node editor/build.mjs "$pkg/editor.js"
cp style/main.css "$pkg/berth.css"
cp -R public/. "$site/"

say "page weight: what a page downloads of wasm + JS (gzip -9; the issue's budget is about these)"
if [ $release = 1 ]; then node scripts/page-weight.mjs "$site" --release; else node scripts/page-weight.mjs "$site"; fi

[ $binary = 1 ] || exit 0
say "berth binary"
if [ $release = 1 ]; then
  cargo build -p berth-server --bin berth --release
  say "done: target/release/berth (site: $site)"
else
  cargo build -p berth-server --bin berth
  say "done: target/debug/berth (site: $site)"
fi
