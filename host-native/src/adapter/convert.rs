//! Conversions between socketioxide's types and the core's, in one place:
//! broadcast options, packets (through the namespace's own parser, so binary
//! arguments survive with any parser), rooms, and socket ids.
//!
//! socketioxide ids ([`Sid`]) are exactly 16 URL-safe characters; Node's socket
//! ids are 20. A remote id that is not a valid `Sid` gets a stable synthetic
//! `Sid` (a hash of the id), kept in an [`IdBook`] so that operations on that
//! remote socket (emit, join, leave, disconnect) can address the real id.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

use crosscast_core::{BroadcastOpts, Room, Value};
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use socketioxide_core::Sid;
use socketioxide_core::adapter::{BroadcastFlags, BroadcastOptions, Room as SioRoom};

/// `[event, ...args]` as a tuple, so that a Socket.IO parser spreads it into the
/// packet's data array instead of nesting it.
#[derive(Debug)]
pub(crate) struct Spread<'a>(pub(crate) &'a [Value]);

impl serde::Serialize for Spread<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut tuple = s.serialize_tuple(self.0.len())?;
        for v in self.0 {
            tuple.serialize_element(v)?;
        }
        tuple.end()
    }
}

/// The whole data array of a packet, read back through a parser as a tuple.
#[derive(Debug)]
pub(crate) struct Gathered(pub(crate) Vec<Value>);

impl<'de> serde::Deserialize<'de> for Gathered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct All;
        impl<'de> Visitor<'de> for All {
            type Value = Gathered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the elements of a packet's data array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Gathered, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Value>()? {
                    items.push(v);
                }
                Ok(Gathered(items))
            }
        }
        d.deserialize_tuple(usize::MAX, All)
    }
}

/// A room of the core as a socketioxide room (numeric rooms by their decimal form).
pub(crate) fn sio_room(room: &Room) -> SioRoom {
    Cow::Owned(room.to_string())
}

/// Core broadcast options as socketioxide options for local delivery: every
/// socket when no room is named.
pub(crate) fn local_opts(opts: &BroadcastOpts) -> BroadcastOptions {
    let mut out = BroadcastOptions::default();
    out.rooms = opts.rooms.iter().map(sio_room).collect();
    out.except = opts.except.iter().map(sio_room).collect();
    if out.rooms.is_empty() {
        out.add_flag(BroadcastFlags::Broadcast);
    }
    if opts.flags.volatile == Some(true) {
        out.add_flag(BroadcastFlags::Volatile);
    }
    out
}

/// socketioxide options as the core's wire options. The sender exclusion of
/// `socket.broadcast()` becomes `except: [sender]`, and a single-socket target
/// (a remote socket's emit) becomes `rooms: [its real id]`, as Node does.
pub(crate) fn wire_opts(opts: &BroadcastOptions, ids: &IdBook) -> BroadcastOpts {
    let mut out = BroadcastOpts {
        rooms: opts
            .rooms
            .iter()
            .map(|r| Room::Str(r.to_string()))
            .collect(),
        except: opts
            .except
            .iter()
            .map(|r| Room::Str(r.to_string()))
            .collect(),
        ..BroadcastOpts::default()
    };
    if let Some(sid) = opts.sid {
        let id = ids.real_id(sid);
        if opts.has_flag(BroadcastFlags::Broadcast) {
            out.except.push(Room::Str(id));
        } else if out.rooms.is_empty() {
            out.rooms.push(Room::Str(id));
        }
    }
    if opts.has_flag(BroadcastFlags::Volatile) {
        out.flags.volatile = Some(true);
    }
    out
}

/// Synthetic ids for remote sockets whose ids are not valid [`Sid`]s.
#[derive(Debug)]
pub(crate) struct IdBook {
    hasher: std::collections::hash_map::RandomState,
    real: Mutex<HashMap<Sid, String>>,
}

/// Past this many remembered remote ids the book starts over: a remote socket
/// fetched long ago can then no longer be addressed through its synthetic id.
const ID_BOOK_CAPACITY: usize = 100_000;

impl IdBook {
    pub(crate) fn new() -> Self {
        Self {
            hasher: std::collections::hash_map::RandomState::new(),
            real: Mutex::new(HashMap::new()),
        }
    }

    /// The `Sid` that stands for the remote socket `id`.
    pub(crate) fn sid_for(&self, id: &str) -> Sid {
        if let Ok(sid) = id.parse::<Sid>() {
            return sid;
        }
        let mut bytes = [0u8; 12];
        for (i, chunk) in bytes.chunks_mut(6).enumerate() {
            let mut h = self.hasher.build_hasher();
            h.write_usize(i);
            h.write(id.as_bytes());
            chunk.copy_from_slice(&h.finish().to_le_bytes()[..6]);
        }
        let sid = synthetic_sid(&bytes);
        let mut real = self.real.lock().unwrap_or_else(|e| e.into_inner());
        if real.len() >= ID_BOOK_CAPACITY {
            real.clear();
        }
        real.insert(sid, id.to_owned());
        sid
    }

    /// The real id behind `sid` (itself for a local or socketioxide socket).
    pub(crate) fn real_id(&self, sid: Sid) -> String {
        let real = self.real.lock().unwrap_or_else(|e| e.into_inner());
        real.get(&sid).cloned().unwrap_or_else(|| sid.to_string())
    }
}

/// 12 bytes as 16 characters of the URL-safe base64 alphabet: a valid `Sid`.
fn synthetic_sid(bytes: &[u8; 12]) -> Sid {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = String::with_capacity(16);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            text.push(ALPHABET[((n >> shift) & 63) as usize] as char);
        }
    }
    text.parse().unwrap_or(Sid::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_get_stable_synthetic_sids_that_map_back() {
        let book = IdBook::new();
        let node_id = "loPT-NM8NeDNPth2AAAB";
        let sid = book.sid_for(node_id);
        assert_eq!(sid, book.sid_for(node_id));
        assert_eq!(sid.to_string().len(), 16);
        assert_eq!(book.real_id(sid), node_id);
        let rust_id = "AbCdEfGhIjKlMnOp";
        assert_eq!(book.sid_for(rust_id).to_string(), rust_id);
    }

    #[test]
    fn sender_exclusion_and_single_socket_targets_become_node_style_rooms() {
        let book = IdBook::new();
        let node_sid = book.sid_for("loPT-NM8NeDNPth2AAAB");
        let mut broadcast = BroadcastOptions::new(node_sid);
        broadcast.add_flag(BroadcastFlags::Broadcast);
        assert_eq!(
            wire_opts(&broadcast, &book).except,
            vec![Room::from("loPT-NM8NeDNPth2AAAB")]
        );
        let single = BroadcastOptions::new(node_sid);
        assert_eq!(
            wire_opts(&single, &book).rooms,
            vec![Room::from("loPT-NM8NeDNPth2AAAB")]
        );
    }
}
