//! Conversions between socketioxide's types and the core's, in one place:
//! broadcast options, packets (through the namespace's own parser, so binary
//! arguments survive with any parser), rooms, socket ids, and the event data
//! of the server's socketioxide handlers (`rmpv::Value`, with the `server` feature).
//!
//! socketioxide ids ([`Sid`]) are exactly 16 URL-safe characters; Node's socket
//! ids are 20. A remote socket is handed to socketioxide as a
//! [`RemoteSocketData`] whose `id` is a [`Sid`] and whose `server_id` socketioxide
//! only gives back to the adapter; the [`IdBook`] maps the two to the real id and
//! back (see its contract).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crosscast_core::{BroadcastOpts, Room, Value};
#[cfg(feature = "server")]
use rmpv::Value as Msg;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use socketioxide_core::adapter::{
    BroadcastFlags, BroadcastOptions, CoreLocalAdapter, Room as SioRoom, SocketEmitter,
};
use socketioxide_core::packet::PacketData;
use socketioxide_core::parser::Parse;
use socketioxide_core::{Sid, Uid};

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
        let id = ids.real_id(sid, opts.server_id);
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

/// The `(id, server_id)` pairs that stand for remote sockets whose ids are not
/// valid [`Sid`]s, and the way back to their real ids.
///
/// Contract:
/// - An id that is a valid `Sid` (a socketioxide socket's) is itself, with a
///   zero `server_id`.
/// - An id of 17 to 30 URL-safe base64 characters (Node's are 20) is carried in
///   the pair itself: its first 16 characters are the `Sid`, the rest is written
///   into the `server_id` (`-`, the length of the rest, the rest, `-` padding).
///   Nothing is stored, so it maps back at any number of ids, for as long as the
///   application keeps the remote socket.
/// - Any other id (shorter, longer, other characters) gets a `Sid` hashed from
///   it and is remembered in a table of the [`ID_BOOK_CAPACITY`] ids most
///   recently fetched or addressed. Past that the least recently used one is
///   forgotten (counted in [`IdBook::forgotten`]): an operation on a remote
///   socket fetched that long ago reaches no socket.
#[derive(Debug)]
pub(crate) struct IdBook {
    hasher: std::collections::hash_map::RandomState,
    table: Mutex<Lru>,
    forgotten: AtomicU64,
}

/// How many ids outside the carried form the book remembers.
pub(crate) const ID_BOOK_CAPACITY: usize = 100_000;

/// The marker of a `server_id` that carries the rest of an id.
const CARRIED: u8 = b'-';
/// URL-safe base64, in value order (socketioxide's ids are written in it).
use crosscast_core::node::URL_SAFE_ALPHABET as ALPHABET;

fn url_safe(id: &str) -> bool {
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A table bounded in entries that forgets the least recently used one.
#[derive(Debug)]
struct Lru {
    capacity: usize,
    clock: u64,
    entries: HashMap<Sid, (String, u64)>,
    by_use: BTreeMap<u64, Sid>,
}

impl Lru {
    fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            clock: 0,
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
        }
    }

    /// Marks `sid` used now.
    fn touch(&mut self, sid: Sid) -> Option<&str> {
        self.clock += 1;
        let (_, used) = self.entries.get_mut(&sid)?;
        self.by_use.remove(used);
        *used = self.clock;
        self.by_use.insert(self.clock, sid);
        self.entries.get(&sid).map(|(id, _)| id.as_str())
    }

    /// Remembers `id` under `sid`; returns how many entries it forgot to make room.
    fn insert(&mut self, sid: Sid, id: &str) -> u64 {
        if self.touch(sid).is_some() {
            return 0;
        }
        let mut forgotten = 0;
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
            forgotten += 1;
        }
        self.entries.insert(sid, (id.to_owned(), self.clock));
        self.by_use.insert(self.clock, sid);
        forgotten
    }
}

impl IdBook {
    pub(crate) fn new() -> Self {
        Self::with_capacity(ID_BOOK_CAPACITY)
    }

    fn with_capacity(capacity: usize) -> Self {
        Self {
            hasher: std::collections::hash_map::RandomState::new(),
            table: Mutex::new(Lru::new(capacity)),
            forgotten: AtomicU64::new(0),
        }
    }

    /// The `(id, server_id)` that stand for the remote socket `id`.
    pub(crate) fn remote(&self, id: &str) -> (Sid, Uid) {
        if let Ok(sid) = id.parse::<Sid>() {
            return (sid, Uid::ZERO);
        }
        if (17..=30).contains(&id.len()) && url_safe(id) {
            let (head, rest) = id.split_at(16);
            let mut carried = [CARRIED; 16];
            carried[1] = ALPHABET[rest.len()];
            carried[2..2 + rest.len()].copy_from_slice(rest.as_bytes());
            let text = std::str::from_utf8(&carried).unwrap_or_default();
            if let (Ok(sid), Ok(uid)) = (head.parse::<Sid>(), text.parse::<Uid>()) {
                return (sid, uid);
            }
        }
        let sid = self.hashed(id);
        let forgotten = self
            .table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sid, id);
        self.forgotten.fetch_add(forgotten, Ordering::Relaxed);
        (sid, Uid::ZERO)
    }

    /// The real id behind `sid` and `server_id` (the sid itself for a local or a
    /// socketioxide socket, and for a forgotten one).
    pub(crate) fn real_id(&self, sid: Sid, server_id: Option<Uid>) -> String {
        if let Some(rest) = server_id.as_ref().and_then(carried_rest) {
            return format!("{sid}{rest}");
        }
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        match table.touch(sid) {
            Some(id) => id.to_owned(),
            None => sid.to_string(),
        }
    }

    /// Ids outside the carried form forgotten to keep the table bounded.
    pub(crate) fn forgotten(&self) -> u64 {
        self.forgotten.load(Ordering::Relaxed)
    }

    /// A stable `Sid` hashed from `id`.
    fn hashed(&self, id: &str) -> Sid {
        let mut bytes = [0u8; 12];
        for (i, chunk) in bytes.chunks_mut(6).enumerate() {
            let mut h = self.hasher.build_hasher();
            h.write_usize(i);
            h.write(id.as_bytes());
            chunk.copy_from_slice(&h.finish().to_le_bytes()[..6]);
        }
        synthetic_sid(&bytes)
    }
}

/// The rest of an id carried in `server_id`, if it carries one.
fn carried_rest(server_id: &Uid) -> Option<String> {
    let text = server_id.to_string();
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[0] != CARRIED {
        return None;
    }
    let len = ALPHABET.iter().position(|c| *c == bytes[1])?;
    if !(1..=14).contains(&len) || bytes[2 + len..].iter().any(|b| *b != CARRIED) {
        return None;
    }
    Some(text[2..2 + len].to_owned())
}

/// 12 bytes as 16 characters of the URL-safe base64 alphabet: a valid `Sid`.
fn synthetic_sid(bytes: &[u8; 12]) -> Sid {
    let mut text = String::with_capacity(16);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            text.push(ALPHABET[((n >> shift) & 63) as usize] as char);
        }
    }
    text.parse().unwrap_or(Sid::ZERO)
}

/// Reads a socketioxide event packet's data as the core's `[event, ...args]`.
pub(crate) fn packet_data<P: Parse>(
    parser: P,
    packet: &socketioxide_core::packet::Packet,
) -> Option<Result<Vec<Value>, String>> {
    match &packet.inner {
        PacketData::Event(value, _) | PacketData::BinaryEvent(value, _) => {
            let mut value = value.clone();
            Some(
                parser
                    .decode_value::<Gathered>(&mut value, false)
                    .map(|g| g.0)
                    .map_err(|e| e.to_string()),
            )
        }
        _ => None,
    }
}

/// Writes the core's `[event, ...args]` as a socketioxide value.
pub(crate) fn sio_value<P: Parse>(
    parser: P,
    data: &[Value],
) -> Result<socketioxide_core::Value, String> {
    parser
        .encode_value(&Spread(data), None)
        .map_err(|e| e.to_string())
}

/// The core's `[event, ...args]` as a socketioxide event packet of `local`'s namespace.
pub(crate) fn sio_packet<E: SocketEmitter>(
    local: &CoreLocalAdapter<E>,
    data: &[Value],
) -> Result<socketioxide_core::packet::Packet, String> {
    let value = sio_value(local.parser(), data)?;
    Ok(socketioxide_core::packet::Packet::event(
        local.path().clone(),
        value,
    ))
}

/// A handler value as a core value (the server's handlers take [`rmpv::Value`]). Strings that are not UTF-8 become binary.
#[cfg(feature = "server")]
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
#[cfg(feature = "server")]
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
    fn node_ids_map_back_through_their_remote_socket_data() {
        let book = IdBook::new();
        let node_id = "loPT-NM8NeDNPth2AAAB";
        let (sid, uid) = book.remote(node_id);
        assert_eq!((sid, uid), book.remote(node_id));
        assert_eq!(sid.to_string(), "loPT-NM8NeDNPth2");
        assert_eq!(book.real_id(sid, Some(uid)), node_id);
        let rust_id = "AbCdEfGhIjKlMnOp";
        let rust_sid: Sid = rust_id.parse().expect("a valid Sid");
        assert_eq!(book.remote(rust_id), (rust_sid, Uid::ZERO));
        assert_eq!(book.real_id(rust_sid, Some(Uid::ZERO)), rust_id);
        assert_eq!(book.real_id(rust_sid, None), rust_id);
        // Every length that is carried, and ids made of the padding character itself.
        for len in 17..=30 {
            for id in ["x".repeat(len), "-".repeat(len), "_".repeat(len)] {
                let (sid, uid) = book.remote(&id);
                assert_eq!(book.real_id(sid, Some(uid)), id);
            }
        }
        assert_eq!(book.forgotten(), 0);
    }

    /// Past 100,000 ids the old book started over, and a remote socket fetched
    /// earlier no longer mapped back to its real id.
    #[test]
    fn an_old_node_id_still_maps_back_after_more_than_100000_others() {
        let book = IdBook::new();
        let first = "AAAAAAAAAAAAAAAAAAAA-first";
        let (first_sid, first_uid) = book.remote(first);
        for n in 0..(ID_BOOK_CAPACITY as u64 + 50_000) {
            // Node-shaped ids: 20 URL-safe characters.
            let id = format!("{n:0>20}");
            let (sid, uid) = book.remote(&id);
            if n % 10_000 == 0 {
                assert_eq!(book.real_id(sid, Some(uid)), id);
            }
        }
        assert_eq!(book.real_id(first_sid, Some(first_uid)), first);
        let (sid, uid) = book.remote("00000000000000000000");
        assert_eq!(book.real_id(sid, Some(uid)), "00000000000000000000");
        assert_eq!(book.forgotten(), 0);
    }

    #[test]
    fn other_ids_are_remembered_least_recently_used_first_and_counted_when_forgotten() {
        let book = IdBook::with_capacity(3);
        let ids = [
            "a:1",
            "a uuid 123e4567-e89b-12d3-a456-426614174000",
            "short",
        ];
        let sids: Vec<Sid> = ids.iter().map(|id| book.remote(id).0).collect();
        for (sid, id) in sids.iter().zip(ids) {
            assert_eq!(book.real_id(*sid, Some(Uid::ZERO)), id);
        }
        // "a:1" was used least recently: addressing the others keeps them.
        book.real_id(sids[1], None);
        book.real_id(sids[2], None);
        let (fourth, _) = book.remote("fourth!");
        assert_eq!(book.forgotten(), 1);
        assert_eq!(book.real_id(sids[0], None), sids[0].to_string());
        assert_eq!(book.real_id(sids[1], None), ids[1]);
        assert_eq!(book.real_id(fourth, None), "fourth!");
    }

    #[test]
    fn a_server_id_that_carries_nothing_is_not_read_as_an_id() {
        let book = IdBook::new();
        let sid: Sid = "AbCdEfGhIjKlMnOp".parse().expect("a valid Sid");
        for uid in [
            "-A--------------",
            "-Bxy------------",
            "-Cxyz----------x",
            "Abcdefghijklmnop",
        ] {
            let uid: Uid = uid.parse().expect("a valid Uid");
            assert_eq!(book.real_id(sid, Some(uid)), sid.to_string(), "{uid}");
        }
    }

    #[test]
    fn sender_exclusion_and_single_socket_targets_become_node_style_rooms() {
        let book = IdBook::new();
        let (node_sid, node_uid) = book.remote("loPT-NM8NeDNPth2AAAB");
        let local: Sid = "AbCdEfGhIjKlMnOp".parse().expect("a valid Sid");
        let mut broadcast = BroadcastOptions::new(local);
        broadcast.add_flag(BroadcastFlags::Broadcast);
        assert_eq!(
            wire_opts(&broadcast, &book).except,
            vec![Room::from("AbCdEfGhIjKlMnOp")]
        );
        let single = BroadcastOptions::new_remote(&socketioxide_core::adapter::RemoteSocketData {
            id: node_sid,
            server_id: node_uid,
            ns: "/".into(),
        });
        assert_eq!(
            wire_opts(&single, &book).rooms,
            vec![Room::from("loPT-NM8NeDNPth2AAAB")]
        );
    }

    #[cfg(feature = "server")]
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
