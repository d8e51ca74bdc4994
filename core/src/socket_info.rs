//! A socket as a fetchSockets response describes it.

use crate::room::{Room, rooms_from, rooms_to_value};
use crate::value::Value;

/// One socket in a fetchSockets (REMOTE_FETCH / FETCH_SOCKETS) response:
/// `{id, handshake, rooms, data}`.
#[derive(Clone, Debug, PartialEq)]
pub struct SocketInfo {
    /// The socket id (20 characters for Node sockets, 16 for socketioxide's).
    pub id: String,
    /// The handshake: `headers, time, address, xdomain, secure, issued, url, query, auth`.
    /// Omitted from the wire when `None`.
    pub handshake: Option<Value>,
    /// The rooms the socket is in, its own id included.
    pub rooms: Vec<Room>,
    /// `socket.data`. Omitted from the wire when `None`.
    pub data: Option<Value>,
}

impl SocketInfo {
    pub(crate) fn to_value(&self) -> Value {
        let mut entries = vec![("id".to_owned(), Value::Str(self.id.clone()))];
        if let Some(h) = &self.handshake {
            entries.push(("handshake".to_owned(), h.clone()));
        }
        entries.push(("rooms".to_owned(), rooms_to_value(&self.rooms)));
        if let Some(d) = &self.data {
            entries.push(("data".to_owned(), d.clone()));
        }
        Value::Map(entries)
    }

    /// Reads a socket leniently: an entry without a string id is skipped by the
    /// caller, bad rooms are dropped.
    pub(crate) fn from_value(value: &Value) -> Option<SocketInfo> {
        let id = value.get("id")?.as_str()?.to_owned();
        Some(SocketInfo {
            id,
            handshake: value.get("handshake").cloned(),
            rooms: rooms_from(value.get("rooms"), "rooms").unwrap_or_default(),
            data: value.get("data").cloned(),
        })
    }

    pub(crate) fn list_from(value: Option<&Value>) -> Vec<SocketInfo> {
        value
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(SocketInfo::from_value).collect())
            .unwrap_or_default()
    }
}
