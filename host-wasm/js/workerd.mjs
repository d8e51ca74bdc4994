// Entry for Cloudflare workerd (and wrangler, which resolves the "workerd"
// export condition): the .wasm is imported as a module, which workerd compiles
// ahead of time into a WebAssembly.Module; compiling from bytes at run time is
// not allowed there. The socket.io Adapter is not exported here: socket.io
// servers do not run in workerd.
import { initSync, registerErrorClass } from "../pkg/crosscast_wasm.js";
import wasmModule from "../pkg/crosscast_wasm_bg.wasm";
import { CrosscastError } from "./error.mjs";

initSync({ module: wasmModule });
registerErrorClass(CrosscastError);

export * from "./common.mjs";
