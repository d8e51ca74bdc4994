// Where the bytes of a .wasm are: the code section's function bodies summed by
// crate (see crateOf), plus every other section. Needs a module that still has
// its name section, such as wasm-bindgen's output without
// `--remove-name-section`:
//
//   wasm-bindgen --target web --out-dir /tmp/named \
//     target/wasm32-unknown-unknown/wasm/crosscast_wasm.wasm
//   node scripts/size-by-crate.mjs /tmp/named/crosscast_wasm_bg.wasm [--top N] [--names CRATE]
//
// The name section itself is not shipped (build.sh removes it).
// Prints a table (bytes, share, crate) on stdout. Fails on a module without
// function names.
import { readFileSync } from "node:fs";

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error("usage: size-by-crate.mjs FILE.wasm [--top N]");
  process.exit(2);
}
const namesArg = rest.indexOf("--names");
const namesOf = namesArg >= 0 ? rest[namesArg + 1] : null;
const topArg = rest.indexOf("--top");
const top = topArg >= 0 ? Number(rest[topArg + 1]) : 25;
const bytes = readFileSync(file);

let pos = 0;
const u32 = () => {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return result;
    shift += 7;
  }
};
const name = () => {
  const len = u32();
  const text = bytes.toString("utf8", pos, pos + len);
  pos += len;
  return text;
};

if (bytes.readUInt32LE(0) !== 0x6d736100) throw new Error(`${file}: not a wasm module`);
pos = 8;
const sections = new Map();
let importedFunctions = 0;
let bodies = [];
const names = new Map();
while (pos < bytes.length) {
  const id = bytes[pos++];
  const size = u32();
  const start = pos;
  const end = start + size;
  if (id === 0) {
    const custom = name();
    sections.set(`custom ${custom}`, (sections.get(`custom ${custom}`) ?? 0) + size);
    if (custom === "name") {
      while (pos < end) {
        const sub = bytes[pos++];
        const subSize = u32();
        const subEnd = pos + subSize;
        if (sub === 1) {
          const count = u32();
          for (let i = 0; i < count; i++) {
            const index = u32();
            names.set(index, name());
          }
        }
        pos = subEnd;
      }
    }
  } else {
    const label = ["custom", "type", "import", "function", "table", "memory", "global", "export",
      "start", "element", "code", "data", "data count"][id] ?? `section ${id}`;
    sections.set(label, (sections.get(label) ?? 0) + size);
    if (id === 2) {
      const count = u32();
      for (let i = 0; i < count; i++) {
        name();
        name();
        const kind = bytes[pos++];
        if (kind === 0) {
          importedFunctions++;
          u32();
        } else if (kind === 1) {
          pos++;
          const flags = u32();
          u32();
          if (flags & 1) u32();
        } else if (kind === 2) {
          const flags = u32();
          u32();
          if (flags & 1) u32();
        } else if (kind === 3) {
          pos += 2;
        } else {
          throw new Error(`${file}: unknown import kind ${kind}`);
        }
      }
    } else if (id === 10) {
      const count = u32();
      for (let i = 0; i < count; i++) {
        const len = u32();
        bodies.push(len);
        pos += len;
      }
    }
  }
  pos = end;
}
if (names.size === 0) {
  console.error(`${file}: no function names (built with --remove-name-section?)`);
  process.exit(1);
}

/** Crates whose monomorphised code counts as theirs wherever it is named. */
const OURS = ["crosscast_wasm", "crosscast_core", "serde_json", "wasm_bindgen", "js_sys"];

/**
 * Where a function's bytes count: the first of OURS its (demangled) name
 * mentions, since generic code of `alloc` or `core` instantiated for a
 * crosscast type exists because of crosscast; else the crate its path starts
 * with (`<T as Trait>::f` counts for T's crate).
 */
function crateOf(symbol) {
  const mentioned = OURS.find((crate) => new RegExp(`\\b${crate}(\\[[0-9a-f]+\\])?::`).test(symbol));
  if (mentioned) return mentioned;
  // v0 symbols demangle with the crate's hash: `core[c5930c85a12de822]::…`.
  const path = /^<*&?(?:mut )?(?:dyn )?([a-z_][a-z0-9_]*)(?:\[[0-9a-f]+\])?::/.exec(symbol);
  if (path) return path[1];
  if (symbol.startsWith("__wbg") || symbol.startsWith("__wbindgen")) return "wasm-bindgen glue";
  return "other";
}

const byCrate = new Map();
const listed = [];
bodies.forEach((size, i) => {
  const symbol = names.get(importedFunctions + i) ?? "";
  const crate = crateOf(symbol);
  byCrate.set(crate, (byCrate.get(crate) ?? 0) + size);
  if (crate === namesOf) listed.push([size, symbol]);
});
if (namesOf) {
  listed.sort((a, b) => b[0] - a[0]);
  for (const [size, symbol] of listed.slice(0, top)) console.log(`${size}\t${symbol}`);
  process.exit(0);
}
const total = bytes.length;
const rows = [...byCrate.entries()].sort((a, b) => b[1] - a[1]);
console.log(`${file}: ${total} bytes, ${bodies.length} function bodies`);
console.log("| bytes | share | where |");
console.log("|---:|---:|---|");
for (const [crate, size] of rows.slice(0, top)) {
  console.log(`| ${size} | ${((100 * size) / total).toFixed(1)} % | code of ${crate} |`);
}
const shown = rows.slice(0, top).reduce((s, [, n]) => s + n, 0);
const code = rows.reduce((s, [, n]) => s + n, 0);
if (code > shown) console.log(`| ${code - shown} | ${((100 * (code - shown)) / total).toFixed(1)} % | code of ${rows.length - top} more crates |`);
for (const [label, size] of sections) {
  if (label === "code") continue;
  console.log(`| ${size} | ${((100 * size) / total).toFixed(1)} % | ${label} section |`);
}
