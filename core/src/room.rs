//! Rooms: the names sockets join, which broadcasts target.

use std::fmt;

use crate::error::DecodeError;
use crate::value::Value;

/// A room name. JavaScript allows numbers as rooms (`socket.join(123)`); they
/// travel as msgpack integers and are distinct from the string `"123"` in a
/// Node server's room table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Room {
    /// A string room (socket ids are string rooms too).
    Str(String),
    /// A numeric room.
    Int(i64),
}

impl Room {
    /// The room as a [`Value`] for the wire.
    pub fn to_value(&self) -> Value {
        match self {
            Room::Str(s) => Value::Str(s.clone()),
            Room::Int(i) => Value::Int(*i),
        }
    }

    /// Reads a room from a decoded value: a string or an integer.
    pub fn from_value(value: &Value) -> Result<Room, DecodeError> {
        match value {
            Value::Str(s) => Ok(Room::Str(s.clone())),
            Value::Int(i) => Ok(Room::Int(*i)),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Room::Int(*f as i64)),
            _ => Err(DecodeError::shape("room", "not a string or an integer")),
        }
    }

    /// The string form used in channel names (`123` for a numeric room).
    pub fn as_channel_part(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Room::Str(s) => std::borrow::Cow::Borrowed(s),
            Room::Int(i) => std::borrow::Cow::Owned(i.to_string()),
        }
    }
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Room::Str(s) => f.write_str(s),
            Room::Int(i) => write!(f, "{i}"),
        }
    }
}

impl From<&str> for Room {
    fn from(s: &str) -> Self {
        Room::Str(s.to_owned())
    }
}

impl From<String> for Room {
    fn from(s: String) -> Self {
        Room::Str(s)
    }
}

impl From<i64> for Room {
    fn from(i: i64) -> Self {
        Room::Int(i)
    }
}

/// Reads a list of rooms; a missing list is empty.
pub(crate) fn rooms_from(
    value: Option<&Value>,
    what: &'static str,
) -> Result<Vec<Room>, DecodeError> {
    match value {
        None | Some(Value::Nil) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(Room::from_value).collect(),
        Some(_) => Err(DecodeError::shape(what, "room list is not an array")),
    }
}

pub(crate) fn rooms_to_value(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(Room::to_value).collect())
}
