// Bundle src/editor.js into minified ES modules: the editor, its editing features and their
// shared chunk.
// Output: argv[2], else $BERTH_EDITOR_OUT, else ../target/site/pkg/editor.js
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outfile = path.resolve(
  process.argv[2] || process.env.BERTH_EDITOR_OUT || path.join(here, "../target/site/pkg/editor.js"),
);

// Split: the editing features (src/editor-editing.js) are imported when the editor first takes
// the focus, and what they share with the editor goes into a chunk both import.
await build({
  entryPoints: { [path.basename(outfile, ".js")]: path.join(here, "src/editor.js") },
  bundle: true,
  splitting: true,
  format: "esm",
  minify: true,
  target: "es2020",
  sourcemap: false,
  logLevel: "warning",
  outdir: path.dirname(outfile),
  entryNames: "[name]",
  chunkNames: "editor-chunk-[hash]",
});
console.log(`editor bundle written to ${outfile}`);
