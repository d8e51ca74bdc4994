#!/usr/bin/env node
// Sums the self time of every `.cpuprofile` in a directory (from `node
// --cpu-prof`, e.g. bench/cluster.py with CLUSTER_NODE_FLAGS="--cpu-prof
// --cpu-prof-dir=DIR"), idle time left out, by where the code lives (the wasm
// module, its wasm-bindgen glue, the adapter's JavaScript, ioredis, socket.io,
// Node internals...), then the 25 functions with the most self time.
// Usage: node bench/cpuprofile-summary.mjs DIR
import { readFileSync, readdirSync } from "node:fs";
const dir = process.argv[2];
if (!dir) {
  console.error("usage: node bench/cpuprofile-summary.mjs DIR");
  process.exit(2);
}
const self = new Map(); const byGroup = new Map(); let total = 0;
for (const f of readdirSync(dir)) {
  const p = JSON.parse(readFileSync(`${dir}/${f}`, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  for (const [id, us] of dt) {
    const n = byId.get(id); const cf = n.callFrame;
    const url = cf.url || "";
    const key = `${cf.functionName || "(anon)"} ${url.split("/").slice(-2).join("/")}:${cf.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + us); total += us;
    let g = "other";
    if (cf.functionName === "(idle)") g = "idle";
    else if (cf.functionName === "(garbage collector)") g = "gc";
    else if (url.startsWith("wasm") || /wasm/.test(cf.functionName)) g = "wasm";
    else if (url.includes("crosscast_wasm.js")) g = "wasm-bindgen glue";
    else if (url.includes("host-wasm/js")) g = "crosscast js";
    else if (url.includes("ioredis") || url.includes("redis-parser")) g = "ioredis";
    else if (url.includes("socket.io-adapter")) g = "socket.io-adapter";
    else if (url.includes("socket.io") || url.includes("engine.io") || url.includes("/ws/")) g = "socket.io/engine.io/ws";
    else if (url.startsWith("node:")) g = "node internals";
    else if (cf.functionName === "(program)") g = "program";
    byGroup.set(g, (byGroup.get(g) ?? 0) + us);
  }
}
const busy = total - (byGroup.get("idle") ?? 0);
console.log("busy ms", (busy / 1000).toFixed(0));
for (const [g, us] of [...byGroup].sort((a, b) => b[1] - a[1])) if (g !== "idle") console.log(`${(100 * us / busy).toFixed(1)}%\t${g}`);
console.log("--- top self");
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) if (!k.startsWith("(idle)")) console.log(`${(100 * us / busy).toFixed(1)}%\t${k}`);
