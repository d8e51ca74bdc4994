//! The msgpack dialect of `notepack.io` 3.0.1, the codec of the classic adapter,
//! the sharded adapter and the emitter.
//!
//! Encoding picks exactly the formats notepack picks (NODE-WIRE.md §2.4.1), so
//! the output is byte-identical to Node's. Decoding accepts every standard
//! msgpack type plus the legacy notepack 2.x extensions.
//!
//! Written by hand rather than on `rmpv`: the encoder must copy notepack's format
//! choices (integral floats as integers, `str8`, no `float32`), the decoder must
//! understand notepack 2.x's extension type 0 and omit `undefined` map entries,
//! and both must enforce [`Limits`] without ever reserving memory for a length
//! that the input only claims.

use crate::error::DecodeError;
use crate::limits::Limits;
use crate::value::{Timestamp, Value};

/// Encodes `value` as notepack.io would, appending to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Nil => out.push(0xc0),
        Value::Bool(false) => out.push(0xc2),
        Value::Bool(true) => out.push(0xc3),
        Value::Int(i) => write_int(*i, out),
        Value::UInt(u) => write_uint(*u, out),
        Value::Float(f) => write_float(*f, out),
        Value::Str(s) => write_str(s, out),
        Value::Bin(b) => write_bin(b, out),
        Value::Array(items) => {
            write_array_len(items.len(), out);
            for item in items {
                encode_into(item, out);
            }
        }
        Value::Map(entries) => {
            write_map_len(entries.len(), out);
            for (k, v) in entries {
                write_str(k, out);
                encode_into(v, out);
            }
        }
        Value::Timestamp(ts) => write_timestamp(*ts, out),
        Value::Ext(ty, data) => write_ext(*ty, data, out),
    }
}

/// Encodes `value` as notepack.io would.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_into(value, &mut out);
    out
}

/// Writes an integer in the smallest format notepack uses for it.
pub(crate) fn write_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        write_uint(i as u64, out);
    } else if i >= -32 {
        out.push(i as u8);
    } else if i >= -128 {
        out.push(0xd0);
        out.push(i as u8);
    } else if i >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

pub(crate) fn write_uint(u: u64, out: &mut Vec<u8>) {
    if u < 128 {
        out.push(u as u8);
    } else if u < 256 {
        out.push(0xcc);
        out.push(u as u8);
    } else if u < 65536 {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u < 4_294_967_296 {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

fn write_float(f: f64, out: &mut Vec<u8>) {
    // JavaScript has one number type: notepack writes an integral finite number
    // as an integer, whatever its origin.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    if f.is_finite() && f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_64).contains(&f) {
        if f >= 0.0 {
            write_uint(f as u64, out);
        } else {
            write_int(f as i64, out);
        }
        return;
    }
    out.push(0xcb);
    out.extend_from_slice(&f.to_be_bytes());
}

pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n < 256 {
        out.push(0xd9);
        out.push(n as u8);
    } else if n < 65536 {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn write_bin(b: &[u8], out: &mut Vec<u8>) {
    let n = b.len();
    if n < 256 {
        out.push(0xc4);
        out.push(n as u8);
    } else if n < 65536 {
        out.push(0xc5);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

pub(crate) fn write_array_len(n: usize, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n < 65536 {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

pub(crate) fn write_map_len(n: usize, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else if n < 65536 {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn write_timestamp(ts: Timestamp, out: &mut Vec<u8>) {
    if ts.nanos == 0 && (0..=i64::from(u32::MAX)).contains(&ts.secs) {
        out.extend_from_slice(&[0xd6, 0xff]);
        out.extend_from_slice(&(ts.secs as u32).to_be_bytes());
    } else if (0..(1i64 << 34)).contains(&ts.secs) {
        let packed = (u64::from(ts.nanos) << 34) | ts.secs as u64;
        out.extend_from_slice(&[0xd7, 0xff]);
        out.extend_from_slice(&packed.to_be_bytes());
    } else {
        out.extend_from_slice(&[0xc7, 12, 0xff]);
        out.extend_from_slice(&ts.nanos.to_be_bytes());
        out.extend_from_slice(&ts.secs.to_be_bytes());
    }
}

fn write_ext(ty: i8, data: &[u8], out: &mut Vec<u8>) {
    let n = data.len();
    let fixed = match n {
        1 => Some(0xd4),
        2 => Some(0xd5),
        4 => Some(0xd6),
        8 => Some(0xd7),
        16 => Some(0xd8),
        _ => None,
    };
    if let Some(marker) = fixed {
        out.push(marker);
    } else if n < 256 {
        out.push(0xc7);
        out.push(n as u8);
    } else if n < 65536 {
        out.push(0xc8);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xc9);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.push(ty as u8);
    out.extend_from_slice(data);
}

/// Decodes one complete value, refusing trailing bytes as notepack does.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Value, DecodeError> {
    if bytes.len() > limits.max_message_bytes {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit: limits.max_message_bytes,
        });
    }
    let mut reader = Reader {
        bytes,
        pos: 0,
        max_depth: limits.max_depth,
    };
    let value = reader.value(0)?.into_value();
    if reader.pos != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            count: bytes.len() - reader.pos,
        });
    }
    Ok(value)
}

/// A decoded item: notepack 2.x can encode `undefined`, which has no place in
/// [`Value`]. It becomes nil in an array and an omitted entry in a map.
enum Item {
    Value(Value),
    Undefined,
}

impl Item {
    fn into_value(self) -> Value {
        match self {
            Item::Value(v) => v,
            Item::Undefined => Value::Nil,
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(DecodeError::Truncated { offset: self.pos })?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn value(&mut self, depth: usize) -> Result<Item, DecodeError> {
        let start = self.pos;
        let marker = self.u8()?;
        let v = match marker {
            0x00..=0x7f => Value::Int(i64::from(marker)),
            0x80..=0x8f => return self.map(usize::from(marker & 0x0f), depth),
            0x90..=0x9f => return self.seq(usize::from(marker & 0x0f), depth),
            0xa0..=0xbf => self.str(usize::from(marker & 0x1f))?,
            0xc0 => Value::Nil,
            0xc1 => return Err(DecodeError::ReservedMarker { offset: start }),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let n = usize::from(self.u8()?);
                Value::Bin(self.take(n)?.to_vec())
            }
            0xc5 => {
                let n = usize::from(self.u16()?);
                Value::Bin(self.take(n)?.to_vec())
            }
            0xc6 => {
                let n = self.u32()? as usize;
                Value::Bin(self.take(n)?.to_vec())
            }
            0xc7 => {
                let n = usize::from(self.u8()?);
                return self.ext(n, start);
            }
            0xc8 => {
                let n = usize::from(self.u16()?);
                return self.ext(n, start);
            }
            0xc9 => {
                let n = self.u32()? as usize;
                return self.ext(n, start);
            }
            0xca => Value::Float(f64::from(f32::from_bits(self.u32()?))),
            0xcb => Value::Float(f64::from_bits(self.u64()?)),
            0xcc => Value::Int(i64::from(self.u8()?)),
            0xcd => Value::Int(i64::from(self.u16()?)),
            0xce => Value::Int(i64::from(self.u32()?)),
            0xcf => Value::from(self.u64()?),
            0xd0 => Value::Int(i64::from(self.u8()? as i8)),
            0xd1 => Value::Int(i64::from(self.u16()? as i16)),
            0xd2 => Value::Int(i64::from(self.u32()? as i32)),
            0xd3 => Value::Int(self.u64()? as i64),
            0xd4 => return self.ext(1, start),
            0xd5 => return self.ext(2, start),
            0xd6 => return self.ext(4, start),
            0xd7 => return self.ext(8, start),
            0xd8 => return self.ext(16, start),
            0xd9 => {
                let n = usize::from(self.u8()?);
                self.str(n)?
            }
            0xda => {
                let n = usize::from(self.u16()?);
                self.str(n)?
            }
            0xdb => {
                let n = self.u32()? as usize;
                self.str(n)?
            }
            0xdc => {
                let n = usize::from(self.u16()?);
                return self.seq(n, depth);
            }
            0xdd => {
                let n = self.u32()? as usize;
                return self.seq(n, depth);
            }
            0xde => {
                let n = usize::from(self.u16()?);
                return self.map(n, depth);
            }
            0xdf => {
                let n = self.u32()? as usize;
                return self.map(n, depth);
            }
            0xe0..=0xff => Value::Int(i64::from(marker as i8)),
        };
        Ok(Item::Value(v))
    }

    fn str(&mut self, n: usize) -> Result<Value, DecodeError> {
        let offset = self.pos;
        let raw = self.take(n)?;
        let s = std::str::from_utf8(raw).map_err(|_| DecodeError::InvalidUtf8 { offset })?;
        Ok(Value::Str(s.to_owned()))
    }

    fn enter(&self, depth: usize) -> Result<usize, DecodeError> {
        if depth >= self.max_depth {
            return Err(DecodeError::TooDeep {
                limit: self.max_depth,
            });
        }
        Ok(depth + 1)
    }

    fn seq(&mut self, n: usize, depth: usize) -> Result<Item, DecodeError> {
        let depth = self.enter(depth)?;
        // Every element takes at least one byte: a count past the remaining bytes
        // is a lie and reserves nothing.
        if n > self.remaining() {
            return Err(DecodeError::Truncated { offset: self.pos });
        }
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth)?.into_value());
        }
        Ok(Item::Value(Value::Array(items)))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Item, DecodeError> {
        let depth = self.enter(depth)?;
        if n > self.remaining() / 2 {
            return Err(DecodeError::Truncated { offset: self.pos });
        }
        let mut map = MapBuilder::with_capacity(n);
        for _ in 0..n {
            let key_at = self.pos;
            let key = match self.value(depth)? {
                Item::Value(Value::Str(s)) => s,
                Item::Value(Value::Int(i)) => i.to_string(),
                Item::Value(Value::UInt(u)) => u.to_string(),
                Item::Value(Value::Bool(b)) => b.to_string(),
                Item::Value(Value::Nil) => "null".to_owned(),
                Item::Undefined => "undefined".to_owned(),
                Item::Value(_) => return Err(DecodeError::MapKey { offset: key_at }),
            };
            match self.value(depth)? {
                Item::Value(v) => map.insert(key, v),
                Item::Undefined => {}
            }
        }
        Ok(Item::Value(map.finish()))
    }

    fn ext(&mut self, n: usize, start: usize) -> Result<Item, DecodeError> {
        let ty = self.u8()? as i8;
        let data = self.take(n)?;
        let marker = self.bytes[start];
        match (ty, marker) {
            // notepack 2.x: fixext1 type 0 is `undefined`.
            (0, 0xd4) => Ok(Item::Undefined),
            // notepack 2.x: fixext8 type 0 is a Date as int64 milliseconds.
            (0, 0xd7) => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(data);
                Ok(Item::Value(Value::Timestamp(Timestamp::from_millis(
                    i64::from_be_bytes(raw),
                ))))
            }
            // notepack 2.x: ext8/16/32 type 0 is an ArrayBuffer.
            (0, 0xc7..=0xc9) => Ok(Item::Value(Value::Bin(data.to_vec()))),
            (-1, _) => timestamp(data, start).map(|ts| Item::Value(Value::Timestamp(ts))),
            _ => Ok(Item::Value(Value::Ext(ty, data.to_vec()))),
        }
    }
}

/// Builds a map the way JavaScript object assignment does: a repeated key
/// keeps its first position and takes the last value. Small maps (the usual
/// case on this wire) are searched linearly; past [`MapBuilder::INDEX_FROM`]
/// entries an ordered index keeps each insertion logarithmic, so a hostile map
/// of many keys costs `O(n log n)`, not `O(n²)`.
#[derive(Debug, Default)]
pub(crate) struct MapBuilder {
    entries: Vec<(String, Value)>,
    index: Option<std::collections::BTreeMap<String, usize>>,
}

impl MapBuilder {
    const INDEX_FROM: usize = 32;

    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
            index: None,
        }
    }

    pub(crate) fn insert(&mut self, key: String, value: Value) {
        if let Some(index) = &mut self.index {
            match index.get(&key) {
                Some(&at) => self.entries[at].1 = value,
                None => {
                    index.insert(key.clone(), self.entries.len());
                    self.entries.push((key, value));
                }
            }
            return;
        }
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
            return;
        }
        self.entries.push((key, value));
        if self.entries.len() >= Self::INDEX_FROM {
            let index = self
                .entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect();
            self.index = Some(index);
        }
    }

    pub(crate) fn finish(self) -> Value {
        Value::Map(self.entries)
    }
}

fn timestamp(data: &[u8], offset: usize) -> Result<Timestamp, DecodeError> {
    let bad = DecodeError::Timestamp { offset };
    match data.len() {
        4 => {
            let secs = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            Ok(Timestamp {
                secs: i64::from(secs),
                nanos: 0,
            })
        }
        8 => {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(data);
            let packed = u64::from_be_bytes(raw);
            let nanos = (packed >> 34) as u32;
            let secs = (packed & ((1 << 34) - 1)) as i64;
            if nanos >= 1_000_000_000 {
                return Err(bad);
            }
            Ok(Timestamp { secs, nanos })
        }
        12 => {
            let nanos = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&data[4..12]);
            if nanos >= 1_000_000_000 {
                return Err(bad);
            }
            Ok(Timestamp {
                secs: i64::from_be_bytes(raw),
                nanos,
            })
        }
        _ => Err(bad),
    }
}

#[cfg(test)]
mod tests;
