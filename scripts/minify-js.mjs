// `node scripts/minify-js.mjs FILE.js…`: minifies, in place, the JavaScript the release build
// generates for every page (wasm-bindgen's `berth.js` and the wasm-split loader), with the
// esbuild the editor bundle is built with (editor/package-lock.json). Export names, string-keyed
// properties (the wasm's imports) and `import.meta.url` are kept as they are; only local names
// and whitespace go: 7 KB gzip on every page (issue 22's weight budget).
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../editor/package.json", import.meta.url));
const { transformSync } = require("esbuild");

for (const file of process.argv.slice(2)) {
  const source = readFileSync(file, "utf8");
  const { code } = transformSync(source, { minify: true, format: "esm", target: "es2020", legalComments: "none" });
  writeFileSync(file, code);
  console.log(`minified ${file}: ${(source.length / 1024).toFixed(0)} KB → ${(code.length / 1024).toFixed(0)} KB`);
}
