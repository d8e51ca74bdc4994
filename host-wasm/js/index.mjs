// Entry for Node.js (ESM), Deno and Bun: the wasm bytes are embedded in this
// package as base64 (pkg/wasm-base64.mjs), compiled synchronously on import.
// No file system access, no fetch, no top-level await: the same module loads in
// every runtime that allows compiling wasm from bytes. Cloudflare workerd does
// not (code generation from bytes is disallowed there), so it gets
// ./workerd.mjs through the "workerd" export condition.
import { initSync, registerErrorClass } from "../pkg/crosscast_wasm.js";
import wasmBase64 from "../pkg/wasm-base64.mjs";
import { CrosscastError } from "./error.mjs";

function decodeBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

initSync({ module: decodeBase64(wasmBase64) });
registerErrorClass(CrosscastError);

export * from "./api.mjs";
