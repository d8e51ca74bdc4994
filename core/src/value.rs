//! The value model: everything a Node.js server can put on the adapter wire.
//!
//! [`Value`] mirrors what `notepack.io` and `JSON.parse` produce in JavaScript, with
//! the distinctions the wire keeps: integers (up to `u64`/`i64`), float64, binary,
//! timestamps and maps whose keys keep their insertion order.

use std::fmt;

/// A value as carried in event arguments, socket data and handshakes.
///
/// Canonical form: a non-negative integer that fits in `i64` is [`Value::Int`];
/// [`Value::UInt`] holds only integers above `i64::MAX`. The decoders and the
/// `From` conversions always produce the canonical form. A non-canonical
/// `UInt(5)` still encodes to the same bytes as `Int(5)`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `null` (and `undefined` inside an array).
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// An integer in `i64` range.
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    /// A float64. Node encodes an integral finite float as an integer.
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// Binary data (`Buffer`, `ArrayBuffer`, typed arrays).
    Bin(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// A map with string keys, in insertion order.
    Map(Vec<(String, Value)>),
    /// A `Date`: the msgpack timestamp extension (type -1).
    Timestamp(Timestamp),
    /// Any other msgpack extension, kept as `[type, bytes]`.
    Ext(i8, Vec<u8>),
}

/// A point in time as the msgpack timestamp extension carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second, below 1_000_000_000.
    pub nanos: u32,
}

impl Timestamp {
    /// The timestamp of a JavaScript `Date` with this many milliseconds since the epoch.
    pub fn from_millis(ms: i64) -> Self {
        let secs = ms.div_euclid(1000);
        let nanos = (ms.rem_euclid(1000) as u32) * 1_000_000;
        Self { secs, nanos }
    }

    /// Milliseconds since the epoch, truncated like a JavaScript `Date`.
    pub fn as_millis(&self) -> i64 {
        self.secs
            .saturating_mul(1000)
            .saturating_add(i64::from(self.nanos / 1_000_000))
    }
}

impl Value {
    /// The value of `key` if this is a map that has it (first match).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The number as `f64`, if this is any number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The number as a non-negative integer, if it is one (an integral float counts,
    /// as it does in JavaScript).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Int(i) => u64::try_from(i).ok(),
            Value::UInt(u) => Some(u),
            Value::Float(f)
                if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) =>
            {
                Some(f as u64)
            }
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// Whether this value holds binary anywhere inside it (the `hasBinary` test
    /// of the sharded encoder).
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Bin(_) => true,
            Value::Array(items) => items.iter().any(Value::has_binary),
            Value::Map(entries) => entries.iter().any(|(_, v)| v.has_binary()),
            _ => false,
        }
    }

    /// A map from `(key, value)` pairs, in the given order.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<u32> for Value {
    fn from(u: u32) -> Self {
        Value::Int(i64::from(u))
    }
}

impl From<u64> for Value {
    fn from(u: u64) -> Self {
        match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(u),
        }
    }
}

impl From<usize> for Value {
    fn from(u: usize) -> Self {
        Value::from(u as u64)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

/// Serializes as the JSON model does, with binary as bytes (so a Socket.IO
/// parser can turn it into an attachment), a timestamp as its ISO string (what
/// `JSON.stringify` makes of a `Date`) and an extension as `[type, bytes]`.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Nil => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::UInt(u) => s.serialize_u64(*u),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(v) => s.serialize_str(v),
            Value::Bin(b) => s.serialize_bytes(b),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::Timestamp(_) => {
                let text = crate::json::to_string(self);
                s.serialize_str(text.trim_matches('"'))
            }
            Value::Ext(ty, data) => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element(ty)?;
                seq.serialize_element(&Value::Bin(data.clone()))?;
                seq.end()
            }
        }
    }
}

impl fmt::Display for Value {
    /// Displays the value as JSON text, as `JSON.stringify` would.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::json::to_string(self))
    }
}
