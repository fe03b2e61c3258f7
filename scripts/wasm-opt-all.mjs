// `node scripts/wasm-opt-all.mjs FILE.wasm…`: what `wasm-opt -Oz` does, to every module of the
// split wasm (scripts/build.sh --release), in one process: binaryen from npm (tools/binaryen)
// compiled to wasm is loaded and compiled once instead of once per module (hundreds of them).
import { readFileSync, writeFileSync } from "node:fs";

// binaryen warns, once per module, that it does not know the name subsection wasm-split writes
// (id 3): a line each for hundreds of modules, about names the optimised output drops anyway. Its
// printer is bound to console.error when it loads, so the filter goes in before the import.
const printError = console.error;
console.error = (...args) => {
  if (!String(args[0]).startsWith("warning: unknown name subsection")) printError(...args);
};
const { default: binaryen } = await import("../tools/binaryen/node_modules/binaryen/index.js");

const { Features } = binaryen;
// What rustc targets for wasm32 today; the modules validate only with these enabled.
const FEATURES =
  Features.MVP | Features.MutableGlobals | Features.SignExt | Features.BulkMemory |
  Features.BulkMemoryOpt | Features.NontrappingFPToInt | Features.Multivalue | Features.ReferenceTypes |
  Features.CallIndirectOverlong;

binaryen.setOptimizeLevel(2);
binaryen.setShrinkLevel(2); // -Oz
let before = 0;
let after = 0;
for (const file of process.argv.slice(2)) {
  const input = readFileSync(file);
  const module = binaryen.readBinary(input);
  module.setFeatures(FEATURES);
  module.optimize();
  // Sections no browser reads, repeated in each of hundreds of small modules: about 30 KB of a
  // page's gzip (what rustc and wasm-split say about the features and tools they used).
  module.runPasses(["strip-producers", "strip-target-features"]);
  const output = module.emitBinary();
  module.dispose();
  writeFileSync(file, output);
  before += input.length;
  after += output.length;
}
console.log(`wasm-opt -Oz: ${process.argv.length - 2} modules, ${(before / 1024).toFixed(0)} KB → ${(after / 1024).toFixed(0)} KB`);
