// scripts/check-module-cycles.mjs: it finds a circle of sibling imports, and the
// repository's adapter and server directories have none.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { imports, findCycle } from "../check-module-cycles.mjs";

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "check-module-cycles.mjs");

test("imports are read from use lines and paths, not from comments or tests", () => {
  const siblings = new Set(["a", "b", "c", "mod"]);
  const source = [
    "//! docs that mention super::c",
    "use super::a::Thing;",
    "use super::{b, Root};",
    "// use super::c;",
    "#[cfg(test)]",
    "mod tests { use super::c; }",
  ].join("\n");
  assert.deepEqual([...imports(source, siblings)].sort(), ["a", "b", "mod"]);
});

test("a circle is found and named; a tree has none", () => {
  const graph = (edges) => new Map(Object.entries(edges).map(([k, v]) => [k, new Set(v)]));
  assert.deepEqual(findCycle(graph({ a: ["b"], b: ["c"], c: ["a"] })), ["a", "b", "c", "a"]);
  assert.equal(findCycle(graph({ mod: ["a", "b"], a: ["b"], b: [] })), null);
});

test("the command fails on a directory with a circle and passes on the repository", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "cycles-"));
  try {
    writeFileSync(path.join(dir, "one.rs"), "use super::two::X;\n");
    writeFileSync(path.join(dir, "two.rs"), "use super::one::Y;\n");
    const bad = spawnSync("node", [script, dir], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /import circle (one -> two -> one|two -> one -> two)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const out = execFileSync("node", [script], { encoding: "utf8" });
  assert.match(out, /host-native\/src\/adapter: no import circle/);
  assert.match(out, /host-native\/src\/server: no import circle/);
});
