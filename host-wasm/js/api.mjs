// The public API of the Node.js (ESM and CommonJS), Deno and Bun entries.
// Entries initialise the wasm first.
export * from "./common.mjs";
export { createAdapter, createShardedAdapter, CrosscastAdapter } from "./adapter.mjs";
