#!/usr/bin/env node
// Fails when the modules of one directory of host-native import each other in a
// circle (#10: the adapter and the server are read top-down, one layer at a time).
//
//   node scripts/check-module-cycles.mjs [DIR ...]   (default: host-native/src/adapter
//                                                      host-native/src/server)
//
// A module's imports are the sibling names it reaches through `super::NAME` or
// `use super::{NAME, ...}` outside comments and before its `#[cfg(test)]` module;
// `mod.rs` is the directory's root and may use every sibling, so an import of the
// root's own items (`super::Type`) counts as an import of `mod`. Prints the graph
// and exits 1 naming one circle when there is one.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The sibling modules `source` imports, among `siblings` ("mod" for the root's items). */
export function imports(source, siblings) {
  const body = source.split(/^#\[cfg\(test\)\]/m)[0];
  const code = body
    .split("\n")
    .filter((line) => !/^\s*\/\//.test(line))
    .join("\n");
  const found = new Set();
  for (const m of code.matchAll(/super::(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)/g)) {
    const names = m[1].startsWith("{") ? m[1].slice(1, -1).split(",") : [m[1]];
    for (const raw of names) {
      const name = raw.trim().split("::")[0].trim();
      if (!name || name === "self" || name === "super") continue;
      if (siblings.has(name)) found.add(name);
      else if (/^[A-Z]/.test(name)) found.add("mod");
    }
  }
  return found;
}

/** One circle of `graph` (module -> Set of modules) as a list, or null. */
export function findCycle(graph) {
  const state = new Map();
  const stack = [];
  const visit = (node) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const cycle = visit(node);
      if (cycle) return cycle;
    }
  }
  return null;
}

/** The import graph of the `.rs` modules of `dir`. */
export function graphOf(dir) {
  const files = readdirSync(dir).filter((f) => f.endsWith(".rs"));
  const siblings = new Set(files.map((f) => f.slice(0, -3)));
  const graph = new Map();
  for (const file of files) {
    const name = file.slice(0, -3);
    const deps = imports(readFileSync(path.join(dir, file), "utf8"), siblings);
    deps.delete(name);
    graph.set(name, deps);
  }
  return graph;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const dirs = process.argv.length > 2
    ? process.argv.slice(2)
    : ["host-native/src/adapter", "host-native/src/server"];
  let failed = false;
  for (const dir of dirs) {
    const graph = graphOf(path.resolve(root, dir));
    const cycle = findCycle(graph);
    if (cycle) {
      console.error(`check-module-cycles: ${dir}: import circle ${cycle.join(" -> ")}`);
      failed = true;
    } else {
      const edges = [...graph].filter(([, d]) => d.size).map(([m, d]) => `${m} -> ${[...d].sort().join(" ")}`);
      console.log(`${dir}: no import circle (${edges.length} modules import siblings)`);
    }
  }
  process.exit(failed ? 1 : 0);
}
