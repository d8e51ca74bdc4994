// Lists the imports of a .wasm file and fails unless every one is a
// wasm-bindgen shim: module "wbg" (the --target web glue) or the glue file,
// with a name starting with "__wbg" or "__wbindgen". Anything from "env" (a C
// or std import that would need a host) fails the build.
import { readFileSync } from "node:fs";

const path = process.argv[2];
const module = new WebAssembly.Module(readFileSync(path));
const imports = WebAssembly.Module.imports(module);
const bad = imports.filter(
  (i) =>
    !(i.module === "wbg" || i.module.endsWith("_bg.js")) ||
    !(i.name.startsWith("__wbg") || i.name.startsWith("__wbindgen")),
);
for (const i of imports) console.log(`  ${i.module} ${i.name} (${i.kind})`);
console.log(`${imports.length} imports, ${bad.length} not from wasm-bindgen`);
if (bad.length > 0) {
  for (const i of bad) console.error(`unexpected import: ${i.module}.${i.name}`);
  process.exit(1);
}
