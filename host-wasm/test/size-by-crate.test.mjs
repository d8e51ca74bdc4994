// scripts/size-by-crate.mjs on a module written by hand: two function bodies,
// named after a crosscast_core function and an alloc generic instantiated for a
// crosscast_core type, and one named after alloc alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("../scripts/size-by-crate.mjs", import.meta.url));

const leb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s) => [...leb(Buffer.byteLength(s)), ...Buffer.from(s)];
const section = (id, body) => [id, ...leb(body.length), ...body];

/** A module of three `() -> ()` functions whose bodies are `pads` bytes of nops. */
function module(names, pads) {
  const body = (pad) => {
    const code = [0x00, ...Array(pad).fill(0x01), 0x0b];
    return [...leb(code.length), ...code];
  };
  const nameMap = names.flatMap((n, i) => [...leb(i), ...str(n)]);
  const sub = [...leb(names.length), ...nameMap];
  return Buffer.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 0, 0]),
    ...section(3, [names.length, ...names.map(() => 0)]),
    ...section(10, [names.length, ...pads.flatMap(body)]),
    ...section(0, [...str("name"), 1, ...leb(sub.length), ...sub]),
  ]);
}

function write(bytes) {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "size-by-crate-")), "m.wasm");
  writeFileSync(file, bytes);
  return file;
}

test("function bodies count for the crosscast crate their names mention, else their own crate", () => {
  const file = write(
    module(
      [
        "crosscast_core::msgpack::encode::h0123",
        "alloc::vec::Vec<crosscast_core::value::Value>::push::h4567",
        "alloc::raw_vec::finish_grow::h89ab",
      ],
      [100, 50, 20],
    ),
  );
  const out = execFileSync("node", [script, file], { encoding: "utf8" });
  // Each body: the locals byte, the nops and `end`.
  assert.match(out, /\| 154 \| [\d.]+ % \| code of crosscast_core \|/);
  assert.match(out, /\| 22 \| [\d.]+ % \| code of alloc \|/);
  assert.match(out, /\| code of crosscast_core \|[^]*\| code of alloc \|/, "largest first");
  assert.match(out, /custom name section/);
});

test("a module without function names is refused with a reason", () => {
  const bytes = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const r = spawnSync("node", [script, write(bytes)], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no function names/);
});
