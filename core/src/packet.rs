//! The Socket.IO event packet embedded in broadcasts (NODE-WIRE.md §2.2).

use crate::error::DecodeError;
use crate::value::Value;

/// Socket.IO packet type EVENT: the only type published by the adapters.
pub(crate) const EVENT: i64 = 2;
/// Socket.IO packet type BINARY_EVENT: sent by very old emitters, read as EVENT.
pub(crate) const BINARY_EVENT: i64 = 5;

/// An event packet as the adapters carry it: not yet encoded by a Socket.IO parser.
///
/// It is always published as type 2 (EVENT) with binary arguments inline; the
/// receiving server's parser turns it into BINARY_EVENT by itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    /// `[eventName, arg1, arg2, …]`.
    pub data: Vec<Value>,
    /// The namespace inside the packet: set by the classic adapter and the
    /// emitter, absent in sharded packets (the envelope carries it there).
    pub nsp: Option<String>,
}

impl Packet {
    /// An event packet for `event` with `args`, without a namespace.
    pub fn event(event: impl Into<String>, args: impl IntoIterator<Item = Value>) -> Self {
        let mut data = vec![Value::Str(event.into())];
        data.extend(args);
        Self { data, nsp: None }
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut entries = vec![
            ("type".to_owned(), Value::Int(EVENT)),
            ("data".to_owned(), Value::Array(self.data.clone())),
        ];
        if let Some(nsp) = &self.nsp {
            entries.push(("nsp".to_owned(), Value::Str(nsp.clone())));
        }
        Value::Map(entries)
    }

    pub(crate) fn from_value(value: &Value) -> Result<Packet, DecodeError> {
        const WHAT: &str = "packet";
        if !matches!(value, Value::Map(_)) {
            return Err(DecodeError::shape(WHAT, "not a map"));
        }
        match value.get("type") {
            Some(Value::Int(EVENT | BINARY_EVENT)) => {}
            Some(Value::Float(f)) if *f == EVENT as f64 || *f == BINARY_EVENT as f64 => {}
            _ => return Err(DecodeError::shape(WHAT, "type is not EVENT")),
        }
        let data = match value.get("data") {
            Some(Value::Array(items)) => items.clone(),
            _ => return Err(DecodeError::shape(WHAT, "data is not an array")),
        };
        // What a client's parser would refuse (and drop the connection over)
        // is refused here, before any socket sees it.
        if !crate::event_name::client_can_decode(&data) {
            return Err(DecodeError::shape(
                WHAT,
                "data does not start with an event name a client accepts",
            ));
        }
        match value.get("attachments") {
            None | Some(Value::Nil) | Some(Value::Int(0..)) => {}
            Some(_) => {
                return Err(DecodeError::shape(
                    WHAT,
                    "attachments is not a non-negative integer",
                ));
            }
        }
        let nsp = match value.get("nsp") {
            None | Some(Value::Nil) => None,
            Some(Value::Str(s)) => Some(s.clone()),
            Some(_) => return Err(DecodeError::shape(WHAT, "nsp is not a string")),
        };
        Ok(Packet { data, nsp })
    }
}
