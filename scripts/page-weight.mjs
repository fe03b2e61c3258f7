// What a page downloads of Berth's code (wasm + JS, gzip -9), read from the built site: the
// scripts the HTML loads (`/pkg/berth.js` and its wasm), everything they import statically, and
// on a page with an editor what the page imports to show it (`/pkg/editor.js`, CodeMirror, and
// its chunk); not the editing features the editor imports when it first takes the focus.
// The wasm is split per page: a page loads the main module and its pack, one file with its own
// split module and the chunks it shares (`pkg/__wasm_split_manifest.json` names it). Run by
// `scripts/build.sh` after the site is built:
//
//   node scripts/page-weight.mjs target/site [--release [--check]]
//
// With --release each page is compared with the budget (it is for release builds); with
// --check as well, it fails (exit 1) when a page weighs more than its budget (`make test` runs it
// on a release site).
//
// The browser suite measures the same from the network, page by page (end2end/tests/weight.test.mjs);
// this is the build's reading of it.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";

const site = path.resolve(process.argv[2] ?? "target/site");
const release = process.argv.includes("--release");
const check = release && process.argv.includes("--check");

/** The lazy routes (app/src/pages/mod.rs, in snake case) whose page shows the editor. Every
 *  other route is read from the manifest, so a new page is weighed without being listed here. */
const EDITOR_ROUTES = new Set(["scriptlet", "new_scriptlet"]);
/** The budget for a release build, KB gzip. */
const BUDGET = { withEditor: 600, withoutEditor: 450 };

const gzipKb = (file) => gzipSync(readFileSync(file), { level: 9 }).length / 1024;

/** The files a module imports: statically (`import … from "x"`, `import "x"`) and dynamically (`import("x")`). */
function importsOf(file) {
  const source = readFileSync(file, "utf8");
  const resolve = (specifier) =>
    specifier.startsWith("/") ? path.join(site, specifier) : path.resolve(path.dirname(file), specifier);
  const found = (pattern) => [...source.matchAll(pattern)].map((match) => resolve(match[1]));
  return {
    static: found(/\b(?:import|export)\s*(?:[\w*{}\s,$]+\s*from\s*)?["']([^"']+\.js)["']/g),
    dynamic: found(/\bimport\(\s*["']([^"']+\.js)["']\s*\)/g),
  };
}

/** Every file `entries` load: their static imports, transitively, and when asked the modules
 *  the page's own scripts import dynamically (the editor, which the page imports once it shows
 *  one) with their static imports. What those modules import dynamically in turn is loaded on
 *  use, not with the page (the editor's editing features, when it first takes the focus). */
function closure(entries, withDynamic) {
  const seen = new Set();
  const visit = (file, followDynamic) => {
    if (seen.has(file)) return;
    if (!existsSync(file)) {
      console.warn(`  (an import of a file not in the site: ${path.relative(site, file)})`);
      return;
    }
    seen.add(file);
    if (!file.endsWith(".js")) return;
    const imports = importsOf(file);
    imports.static.forEach((imported) => visit(imported, followDynamic));
    if (followDynamic) imports.dynamic.forEach((imported) => visit(imported, false));
  };
  entries.forEach((entry) => visit(entry, withDynamic));
  return [...seen];
}

const entries = [path.join(site, "pkg/berth.js"), path.join(site, "pkg/berth_bg.wasm")];
// Split module → the files it loads (its pack: itself and the chunks it shares), written by tools/wasm-split.
// A lazy route's module is named `__{route}_route_view_{hash}`.
const manifest = JSON.parse(readFileSync(path.join(site, "pkg/__wasm_split_manifest.json"), "utf8"));
const pages = Object.entries(manifest)
  .map(([name, files]) => [name.match(/^__(\w+?)_route_view_\d+$/)?.[1], files])
  .filter(([route]) => route)
  .sort(([a], [b]) => a.localeCompare(b));

for (const file of closure(entries, true)) {
  console.log(`  ${path.relative(site, file).padEnd(52)} ${gzipKb(file).toFixed(0).padStart(5)} KB gzip`);
}
console.log("  each page: the files above it loads, its own module and the chunks it shares with other pages");
const over = [];
for (const [route, modules] of pages) {
  const withEditor = EDITOR_ROUTES.has(route);
  const files = [...closure(entries, withEditor), ...modules.map((file) => path.join(site, "pkg", `${file}.wasm`))];
  const kb = files.reduce((sum, file) => sum + gzipKb(file), 0);
  const budget = withEditor ? BUDGET.withEditor : BUDGET.withoutEditor;
  if (kb > budget) over.push(`${route}: ${kb.toFixed(0)} KB, more than ${budget}`);
  let verdict = "(debug build)";
  if (release) verdict = kb <= budget ? `within ${budget}` : `OVER ${budget}`;
  console.log(`  ${route.padEnd(24)} ${kb.toFixed(0).padStart(5)} KB in ${String(files.length).padStart(3)} files  ${verdict}`);
}
if (release) console.log(`  ${pages.length - over.length} of ${pages.length} pages within the budget`);
if (check) {
  if (over.length > 0) {
    console.error(`page weight: too heavy\n  ${over.join("\n  ")}`);
    process.exit(1);
  }
  console.log("  page weight: every page within what it may weigh");
}
