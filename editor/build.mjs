// Bundle src/editor.js into one minified ES module.
// Output: argv[2], else $BERTH_EDITOR_OUT, else ../target/site/pkg/editor.js
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outfile = path.resolve(
  process.argv[2] || process.env.BERTH_EDITOR_OUT || path.join(here, "../target/site/pkg/editor.js"),
);

await build({
  entryPoints: [path.join(here, "src/editor.js")],
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  sourcemap: false,
  logLevel: "warning",
  outfile,
});
console.log(`editor bundle written to ${outfile}`);
