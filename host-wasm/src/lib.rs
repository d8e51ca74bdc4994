//! crosscast-wasm: WebAssembly bindings of the crosscast core.
//!
//! Bytes in, bytes out. Every exported function is a few lines of translation
//! over `crosscast-core`:
//!
//! - [`convert`]: the one place where JavaScript values become
//!   [`crosscast_core::Value`] and back;
//! - [`error`]: the one place where core errors become a JavaScript `Error`
//!   with a stable `code`;
//! - [`codec`]: msgpack (notepack.io) and JSON (`JSON.stringify`) of values;
//! - [`adapter`]: the cluster node of one namespace (`NodeCore`), which the
//!   socket.io `Adapter` of `js/adapter.mjs` drives;
//! - [`emitter`]: the `@socket.io/redis-emitter` messages, as
//!   `{channel, payload}` ready to PUBLISH.
//!
//! The module imports nothing from JavaScript except wasm-bindgen's own shims:
//! the host publishes, the bindings only compute.

pub mod adapter;
pub mod codec;
pub mod convert;
pub mod emitter;
pub mod error;
