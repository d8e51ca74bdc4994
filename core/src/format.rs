//! The two encodings on the wire and the first-byte rule that tells them apart.

use crate::error::DecodeError;
use crate::limits::Limits;
use crate::value::Value;
use crate::{json, msgpack};

/// The encoding of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `JSON.stringify` text.
    Json,
    /// notepack.io msgpack.
    Msgpack,
}

impl Format {
    /// The format of a message on a channel that accepts both: a first byte `{`
    /// means JSON, anything else msgpack (NODE-WIRE.md §2.4.3).
    pub fn detect(bytes: &[u8]) -> Format {
        if bytes.first() == Some(&b'{') {
            Format::Json
        } else {
            Format::Msgpack
        }
    }

    /// Encodes `value` in this format.
    pub fn encode(self, value: &Value) -> Vec<u8> {
        match self {
            Format::Json => json::to_string(value).into_bytes(),
            Format::Msgpack => msgpack::encode(value),
        }
    }

    /// Decodes `bytes` in this format.
    pub fn decode(self, bytes: &[u8], limits: &Limits) -> Result<Value, DecodeError> {
        match self {
            Format::Json => json::decode(bytes, limits),
            Format::Msgpack => msgpack::decode(bytes, limits),
        }
    }
}

/// Decodes a message by the first-byte rule.
pub fn decode_detected(bytes: &[u8], limits: &Limits) -> Result<Value, DecodeError> {
    Format::detect(bytes).decode(bytes, limits)
}
