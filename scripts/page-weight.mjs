// What a page downloads of Berth's code (wasm + JS, gzip -9), read from the built site: the
// scripts the HTML loads (`/pkg/berth.js` and its wasm), everything they import statically, and
// on a page with an editor what the editor imports dynamically (`/pkg/editor.js`, CodeMirror).
// Run by `scripts/build.sh` after the site is built:
//
//   node scripts/page-weight.mjs target/site [--release]
//
// With --release each kind of page is compared with the budget (it is for release builds).
//
// The browser suite measures the same from the network, page by page (end2end/tests/weight.test.mjs);
// this is the build's reading of it.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";

const site = path.resolve(process.argv[2] ?? "target/site");
const release = process.argv.includes("--release");

/** The pages of each kind (app/src/lib.rs's routes; the editor is on a scriptlet's page), and
 *  the budget for a release build, KB gzip. */
const PAGES = [
  ["pages without an editor", "/, /scriptlets, /snapshots, /plans…, /impact, /decisions, /audit, /settings/…, /login", false, 450],
  ["pages with the editor", "/scriptlets/new, /scriptlets/:id", true, 600],
];

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

/** Every file `entry` loads: its static imports, transitively, and the dynamic ones when asked. */
function closure(entries, withDynamic) {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    if (!existsSync(file)) {
      console.warn(`  (an import of a file not in the site: ${path.relative(site, file)})`);
      return;
    }
    seen.add(file);
    if (!file.endsWith(".js")) return;
    const imports = importsOf(file);
    imports.static.forEach(visit);
    if (withDynamic) imports.dynamic.forEach(visit);
  };
  entries.forEach(visit);
  return [...seen];
}

const entries = [path.join(site, "pkg/berth.js"), path.join(site, "pkg/berth_bg.wasm")];
const rows = PAGES.map(([kind, paths, withEditor, budget]) => {
  const files = closure(entries, withEditor);
  const kb = files.reduce((sum, file) => sum + gzipKb(file), 0);
  return { kind, paths, kb, budget };
});

for (const file of closure(entries, true)) {
  console.log(`  ${path.relative(site, file).padEnd(52)} ${gzipKb(file).toFixed(0).padStart(5)} KB gzip`);
}
for (const { kind, paths, kb, budget } of rows) {
  const verdict = release ? `${kb <= budget ? "within" : "over"} the budget of ${budget} KB` : "(debug build)";
  console.log(`  ${kind.padEnd(24)} ${kb.toFixed(0).padStart(5)} KB  ${verdict}  (${paths})`);
}
