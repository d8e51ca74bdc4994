//! crosscast-wasm: WebAssembly bindings of the crosscast core.
