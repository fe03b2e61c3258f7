#!/usr/bin/env bash
# Build Berth without cargo-leptos: the wasm bundle that hydrates the pages, the CSS and
# static files (all into target/site), then the `berth` binary, which finds target/site
# relative to itself.
#
#   scripts/build.sh             debug:   target/debug/berth
#   scripts/build.sh --release   release: target/release/berth, wasm built for size and optimised by wasm-opt
#
# Needs the tools of `scripts/setup.sh build` (and `release` for --release). Ends with what a
# page downloads (gzip): the issue's budget is about these numbers.
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
  say "wasm-opt -Oz (binaryen 116 from npm, see scripts/setup.sh release)"
  node tools/binaryen/node_modules/binaryen/bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$pkg/berth_bg.wasm" -o "$pkg/berth_bg.wasm"
fi
say "editor bundle (CodeMirror, esbuild)"
node editor/build.mjs "$pkg/editor.js"
cp style/main.css "$pkg/berth.css"
cp -R public/. "$site/"

page_weight() {  # what a browser downloads for the hydrating code, gzip -9, in KB
  local gz_wasm gz_js gz_editor static_editor=0
  gz_kb() { echo $(( $(gzip -9 -c "$1" | wc -c) / 1024 )); }
  gz_wasm=$(gz_kb "$pkg/berth_bg.wasm"); gz_js=$(gz_kb "$pkg/berth.js"); gz_editor=$(gz_kb "$pkg/editor.js")
  # wasm-bindgen writes a static `import … from '/pkg/editor.js'` for the editor's binding, so
  # every page loads CodeMirror unless the binding imports it dynamically.
  grep -q "from '/pkg/editor.js'" "$pkg/berth.js" && static_editor=1
  say "page weight (gzip -9): berth_bg.wasm ${gz_wasm} KB, berth.js ${gz_js} KB, editor.js ${gz_editor} KB"
  printf '  %-28s %5s KB\n' "page without an editor" $((gz_wasm + gz_js + static_editor * gz_editor)) \
    "editor page" $((gz_wasm + gz_js + gz_editor))
}
page_weight

say "berth binary"
if [ $release = 1 ]; then
  cargo build -p berth-server --bin berth --release
  say "done: target/release/berth (site: $site)"
else
  cargo build -p berth-server --bin berth
  say "done: target/debug/berth (site: $site)"
fi
