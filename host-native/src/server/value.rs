//! Conversions between the event data of socketioxide handlers ([`rmpv::Value`]) and the
//! core's wire [`Value`].

use crosscast_core::Value;
use rmpv::Value as Msg;

/// A handler value as a core value. Strings that are not UTF-8 become binary.
pub(crate) fn from_msg(msg: &Msg) -> Value {
    match msg {
        Msg::Nil => Value::Nil,
        Msg::Boolean(b) => Value::Bool(*b),
        Msg::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            (None, None) => Value::Nil,
        },
        Msg::F32(f) => Value::from(f64::from(*f)),
        Msg::F64(f) => Value::from(*f),
        Msg::String(s) => match s.as_str() {
            Some(text) => Value::from(text),
            None => Value::Bin(s.as_bytes().to_vec()),
        },
        Msg::Binary(b) => Value::Bin(b.clone()),
        Msg::Array(items) => Value::Array(items.iter().map(from_msg).collect()),
        Msg::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Msg::String(s) => s.as_str().unwrap_or_default().to_owned(),
                        other => other.to_string(),
                    };
                    (key, from_msg(v))
                })
                .collect(),
        ),
        Msg::Ext(kind, bytes) => Value::Ext(*kind, bytes.clone()),
    }
}

/// A core value as a handler value. Timestamps become milliseconds since the epoch, as
/// `JSON.stringify` of a `Date` would not keep them either.
pub(crate) fn to_msg(value: &Value) -> Msg {
    match value {
        Value::Nil => Msg::Nil,
        Value::Bool(b) => Msg::Boolean(*b),
        Value::Int(i) => Msg::from(*i),
        Value::UInt(u) => Msg::from(*u),
        Value::Float(f) => Msg::F64(*f),
        Value::Str(s) => Msg::from(s.as_str()),
        Value::Bin(b) => Msg::Binary(b.clone()),
        Value::Array(items) => Msg::Array(items.iter().map(to_msg).collect()),
        Value::Map(entries) => Msg::Map(
            entries
                .iter()
                .map(|(k, v)| (Msg::from(k.as_str()), to_msg(v)))
                .collect(),
        ),
        Value::Timestamp(t) => Msg::from(t.as_millis()),
        Value::Ext(kind, bytes) => Msg::Ext(*kind, bytes.clone()),
        _ => Msg::Nil,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nested_values() {
        let value = Value::map([
            ("text", Value::from("héllo")),
            ("n", Value::from(-3)),
            ("big", Value::from(u64::MAX)),
            ("f", Value::from(1.5)),
            ("bin", Value::Bin(vec![0, 1, 255])),
            ("list", Value::Array(vec![Value::Nil, Value::Bool(true)])),
        ]);
        assert_eq!(from_msg(&to_msg(&value)), value);
    }
}
