//! The JSON dialect of the adapters: `JSON.stringify` out, `JSON.parse` in.
//!
//! Output is byte-identical to `JSON.stringify` for every [`Value`]: no white
//! space, keys in insertion order, numbers printed the way JavaScript prints them,
//! binary mangled to `{"type":"Buffer","data":[...]}` and dates to ISO strings,
//! exactly as a Node server would write them.

use std::fmt::Write as _;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::error::DecodeError;
use crate::limits::Limits;
use crate::msgpack::MapBuilder;
use crate::value::{Timestamp, Value};

/// Writes `value` as `JSON.stringify` would.
pub fn to_string(value: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_value(value, &mut out);
    out
}

/// Appends `value` as `JSON.stringify` would.
pub fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::UInt(u) => write_number(*u as f64, out),
        Value::Float(f) => write_number(*f, out),
        Value::Str(s) => write_str(s, out),
        Value::Bin(b) => write_buffer(b, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                write_value(v, out);
            }
            out.push('}');
        }
        Value::Timestamp(ts) => {
            out.push('"');
            write_iso_date(*ts, out);
            out.push('"');
        }
        // notepack decodes an unknown extension to [type, Buffer].
        Value::Ext(ty, data) => {
            let _ = write!(out, "[{ty},");
            write_buffer(data, out);
            out.push(']');
        }
    }
}

fn write_buffer(bytes: &[u8], out: &mut String) {
    out.push_str("{\"type\":\"Buffer\",\"data\":[");
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{b}");
    }
    out.push_str("]}");
}

/// Writes a JSON string literal with the escapes `JSON.stringify` uses.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Writes a number the way JavaScript's `Number.prototype.toString` does, with
/// non-finite numbers as `null` (as `JSON.stringify` does).
pub fn write_number(f: f64, out: &mut String) {
    if !f.is_finite() {
        out.push_str("null");
        return;
    }
    if f == 0.0 {
        out.push('0');
        return;
    }
    // `{:e}` gives the shortest round-trip digits: "d.ddde<exp>".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exp + 1;
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e >= 0 { "+" } else { "-" }, e.abs());
    }
}

/// Writes a timestamp as `Date.prototype.toISOString` does.
fn write_iso_date(ts: Timestamp, out: &mut String) {
    let ms = ts.as_millis();
    let days = ms.div_euclid(86_400_000);
    let ms_of_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    if (0..=9999).contains(&y) {
        let _ = write!(out, "{y:04}");
    } else {
        let _ = write!(out, "{}{:06}", if y < 0 { '-' } else { '+' }, y.abs());
    }
    let _ = write!(out, "-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z");
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day): for
/// `Date`'s ISO string here and its `toString()` in a handshake.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses JSON text as `JSON.parse` would, into a [`Value`].
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Value, DecodeError> {
    if bytes.len() > limits.max_message_bytes {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit: limits.max_message_bytes,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // The seed below bounds the depth (`limits.max_depth`), which may exceed
    // serde_json's own fixed limit of 128.
    de.disable_recursion_limit();
    let value = ValueSeed {
        depth_left: limits.max_depth,
    }
    .deserialize(&mut de)
    .map_err(|e| {
        if e.to_string().starts_with(TOO_DEEP) {
            DecodeError::TooDeep {
                limit: limits.max_depth,
            }
        } else {
            DecodeError::Json(e.to_string())
        }
    })?;
    de.end().map_err(|e| DecodeError::Json(e.to_string()))?;
    Ok(value)
}

const TOO_DEEP: &str = "nesting too deep";

struct ValueSeed {
    depth_left: usize,
}

/// Any self-describing serde format deserializes into a [`Value`] (bytes become
/// [`Value::Bin`]), nested at most [`Limits::DEFAULT_MAX_DEPTH`] deep.
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        ValueSeed {
            depth_left: Limits::DEFAULT_MAX_DEPTH,
        }
        .deserialize(d)
    }
}

impl ValueSeed {
    fn nested<E: de::Error>(&self) -> Result<ValueSeed, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(ValueSeed { depth_left }),
            None => Err(E::custom(TOO_DEEP)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bytes<E>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Bin(b.to_vec()))
    }

    fn visit_byte_buf<E>(self, b: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bin(b))
    }

    fn visit_i128<E: de::Error>(self, i: i128) -> Result<Value, E> {
        i64::try_from(i)
            .map(Value::Int)
            .or_else(|_| u64::try_from(i).map(Value::UInt))
            .or(Ok(Value::Float(i as f64)))
    }

    fn visit_u128<E: de::Error>(self, u: u128) -> Result<Value, E> {
        self.visit_i128(i128::try_from(u).unwrap_or(i128::MAX))
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from(u))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.nested()?)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = MapBuilder::default();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.nested()?)?;
            entries.insert(key, value);
        }
        Ok(entries.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(f: f64) -> String {
        let mut s = String::new();
        write_number(f, &mut s);
        s
    }

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(-3.0), "-3");
        assert_eq!(num(1e21), "1e+21");
        assert_eq!(num(1e20), "100000000000000000000");
        assert_eq!(num(123_456_789_012_345_680_000.0), "123456789012345680000");
        assert_eq!(num(1e-7), "1e-7");
        assert_eq!(num(0.000001), "0.000001");
        assert_eq!(num(1.5e-10), "1.5e-10");
        assert_eq!(num(f64::NAN), "null");
        assert_eq!(num(-0.0), "0");
    }

    #[test]
    fn strings_escape_like_json_stringify() {
        let mut s = String::new();
        write_str("a\"b\\c\n\u{1}\u{7f}é\u{2028}", &mut s);
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001\u{7f}é\u{2028}\"");
    }

    #[test]
    fn dates_print_as_iso_strings() {
        let mut s = String::new();
        write_iso_date(Timestamp::from_millis(1_767_225_600_123), &mut s);
        assert_eq!(s, "2026-01-01T00:00:00.123Z");
        let mut s = String::new();
        write_iso_date(Timestamp::from_millis(-1), &mut s);
        assert_eq!(s, "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parse_keeps_key_order_and_last_duplicate_wins() {
        let v = decode(br#"{"b":1,"a":[true,null,2.5],"b":3}"#, &Limits::default());
        assert_eq!(
            v,
            Ok(Value::map([
                ("b", Value::Int(3)),
                (
                    "a",
                    Value::Array(vec![Value::Bool(true), Value::Nil, Value::Float(2.5)])
                ),
            ]))
        );
    }

    #[test]
    fn parse_bounds_depth() {
        let limits = Limits {
            max_depth: 2,
            ..Limits::default()
        };
        assert!(decode(b"[[1]]", &limits).is_ok());
        assert_eq!(
            decode(b"[[[1]]]", &limits),
            Err(DecodeError::TooDeep { limit: 2 })
        );
    }
}
