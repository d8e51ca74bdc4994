//! Values on the wire: msgpack as notepack.io 3.0.1 writes it, JSON as
//! `JSON.stringify` writes it. Decoding applies the core's default
//! [`Limits`]; a failure throws an error with a `DECODE_*` code.

use crosscast_core::{Limits, json, msgpack};
use wasm_bindgen::prelude::*;

use crate::convert::{to_js, to_value};
use crate::error::BindingError;

/// `encodeMsgpack(value)`: the notepack.io encoding of `value`.
#[wasm_bindgen(js_name = encodeMsgpack)]
pub fn encode_msgpack(value: JsValue) -> Result<Vec<u8>, BindingError> {
    Ok(msgpack::encode(&to_value(&value)?))
}

/// `decodeMsgpack(bytes)`: the value notepack.io would decode (binary as
/// `Uint8Array`). Trailing bytes are an error, as in notepack.
#[wasm_bindgen(js_name = decodeMsgpack)]
pub fn decode_msgpack(bytes: &[u8]) -> Result<JsValue, BindingError> {
    Ok(to_js(&msgpack::decode(bytes, &Limits::default())?))
}

/// `encodeJson(value)`: the text `JSON.stringify(value)` would give for the
/// converted value.
#[wasm_bindgen(js_name = encodeJson)]
pub fn encode_json(value: JsValue) -> Result<String, BindingError> {
    Ok(json::to_string(&to_value(&value)?))
}

/// `decodeJson(bytes)`: the value `JSON.parse` would give for the UTF-8 text.
#[wasm_bindgen(js_name = decodeJson)]
pub fn decode_json(bytes: &[u8]) -> Result<JsValue, BindingError> {
    Ok(to_js(&json::decode(bytes, &Limits::default())?))
}
