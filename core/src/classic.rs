//! The classic adapter protocol (`createAdapter`, NODE-WIRE.md §3) and the
//! emitter's use of it (§5).
//!
//! Broadcasts are msgpack arrays `[uid, packet, opts]` on `K#N#[room#]`.
//! Requests and responses are maps on `K-request#N#` / `K-response#N#[uid#]`,
//! JSON except BROADCAST (7) requests and BROADCAST_ACK (9) responses.

use crate::error::DecodeError;
use crate::format::{Format, decode_detected};
use crate::limits::Limits;
use crate::msgpack;
use crate::options::{BroadcastOpts, OptsLayout};
use crate::packet::Packet;
use crate::room::{Room, rooms_from, rooms_to_value};
use crate::value::Value;

mod response;

pub use response::{ClassicResponse, RawResponse};

/// The uid the emitter puts in its messages.
pub const EMITTER_UID: &str = "emitter";

/// A broadcast on the classic broadcast channel.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassicBroadcast {
    /// The sender's uid (`"emitter"` for the emitter).
    pub uid: String,
    /// The packet; `nsp` is set when encoding.
    pub packet: Packet,
    /// Target options.
    pub opts: BroadcastOpts,
}

impl ClassicBroadcast {
    /// Encodes as the classic adapter does (opts key order `rooms, except, flags`).
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(OptsLayout::Adapter)
    }

    /// Encodes as the emitter does (opts key order `rooms, flags, except`).
    pub fn encode_as_emitter(&self) -> Vec<u8> {
        self.encode_with(OptsLayout::Emitter)
    }

    fn encode_with(&self, layout: OptsLayout) -> Vec<u8> {
        // Written directly: the broadcast is the hot path, and the packet data is
        // encoded without cloning it into a value tree.
        let mut out = Vec::with_capacity(96);
        out.push(0x93);
        msgpack::write_str(&self.uid, &mut out);
        let nsp = self.packet.nsp.as_deref().unwrap_or("/");
        msgpack::write_map_len(3, &mut out);
        msgpack::write_str("type", &mut out);
        msgpack::write_uint(crate::packet::EVENT as u64, &mut out);
        msgpack::write_str("data", &mut out);
        msgpack::write_array_len(self.packet.data.len(), &mut out);
        for item in &self.packet.data {
            msgpack::encode_into(item, &mut out);
        }
        msgpack::write_str("nsp", &mut out);
        msgpack::write_str(nsp, &mut out);
        msgpack::encode_into(&self.opts.to_value(layout), &mut out);
        out
    }

    /// Decodes a broadcast; always msgpack, trailing bytes refused.
    ///
    /// Lenient where Node is lenient (missing `opts` fields, missing `packet.nsp`
    /// which then means `/`), and an error where Node would throw (missing `opts`).
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        const WHAT: &str = "classic broadcast";
        let value = msgpack::decode(bytes, limits)?;
        let Value::Array(items) = value else {
            return Err(DecodeError::shape(WHAT, "not an array"));
        };
        let [uid, packet, opts, ..] = items.as_slice() else {
            return Err(DecodeError::shape(WHAT, "fewer than 3 elements"));
        };
        let uid = uid
            .as_str()
            .ok_or(DecodeError::shape(WHAT, "uid is not a string"))?
            .to_owned();
        let mut packet = Packet::from_value(packet)?;
        packet.nsp.get_or_insert_with(|| "/".to_owned());
        let opts = BroadcastOpts::from_value(opts)?;
        Ok(ClassicBroadcast { uid, packet, opts })
    }
}

/// Classic request types (`RequestType` of redis-adapter 8.x).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestType {
    /// 0: legacy list of socket ids.
    Sockets = 0,
    /// 1: every room of every node.
    AllRooms = 1,
    /// 2: sockets join rooms.
    RemoteJoin = 2,
    /// 3: sockets leave rooms.
    RemoteLeave = 3,
    /// 4: sockets disconnect.
    RemoteDisconnect = 4,
    /// 5: fetchSockets.
    RemoteFetch = 5,
    /// 6: server-side event.
    ServerSideEmit = 6,
    /// 7: broadcast with acknowledgements.
    Broadcast = 7,
    /// 8: client-count reply to 7 (response only).
    BroadcastClientCount = 8,
    /// 9: one client acknowledgement of 7 (response only).
    BroadcastAck = 9,
}

/// Which sockets a join/leave/disconnect request targets.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Target {
    /// The opts form of socket.io 4: every socket matching the options.
    Opts(BroadcastOpts),
    /// The legacy form: one socket by id; its owner replies `{requestId}`.
    Socket {
        /// The socket id.
        sid: String,
    },
}

/// A request on `K-request#N#`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassicRequest {
    /// The sender's uid; the emitter omits it on join/leave/disconnect.
    pub uid: Option<String>,
    /// Present when an answer is expected.
    pub request_id: Option<String>,
    /// What is asked.
    pub body: RequestBody,
}

/// The typed part of a [`ClassicRequest`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum RequestBody {
    /// 0: the ids of the sockets in `rooms`.
    Sockets {
        /// Target rooms; empty means all.
        rooms: Vec<Room>,
    },
    /// 1: every room.
    AllRooms,
    /// 2: matching sockets join `rooms` (legacy form: one room).
    Join {
        /// Which sockets.
        target: Target,
        /// Rooms to join.
        rooms: Vec<Room>,
    },
    /// 3: matching sockets leave `rooms`.
    Leave {
        /// Which sockets.
        target: Target,
        /// Rooms to leave.
        rooms: Vec<Room>,
    },
    /// 4: matching sockets disconnect; `close` closes the underlying connection.
    Disconnect {
        /// Which sockets.
        target: Target,
        /// Whether to close the connection.
        close: bool,
    },
    /// 5: the matching sockets, with handshake, rooms and data.
    Fetch {
        /// Which sockets.
        opts: BroadcastOpts,
    },
    /// 6: a server-side event `[event, ...args]`.
    ServerSideEmit {
        /// `[event, ...args]`.
        data: Vec<Value>,
    },
    /// 7: a broadcast whose client acks are collected.
    Broadcast {
        /// The packet.
        packet: Packet,
        /// Targets and flags (`flags.timeout` is the requester's timeout).
        opts: BroadcastOpts,
    },
    /// A request type this version does not know: ignored, like Node does.
    Unknown {
        /// The type number.
        kind: i64,
    },
}

impl ClassicRequest {
    /// The request type number.
    pub fn type_number(&self) -> i64 {
        match &self.body {
            RequestBody::Sockets { .. } => 0,
            RequestBody::AllRooms => 1,
            RequestBody::Join { .. } => 2,
            RequestBody::Leave { .. } => 3,
            RequestBody::Disconnect { .. } => 4,
            RequestBody::Fetch { .. } => 5,
            RequestBody::ServerSideEmit { .. } => 6,
            RequestBody::Broadcast { .. } => 7,
            RequestBody::Unknown { kind } => *kind,
        }
    }

    /// The format Node uses for this request: msgpack for BROADCAST (7), JSON
    /// otherwise. A server-side event with binary arguments is sent as msgpack,
    /// which Node accepts and which keeps the binary intact.
    pub fn format(&self) -> Format {
        match &self.body {
            RequestBody::Broadcast { .. } => Format::Msgpack,
            RequestBody::ServerSideEmit { data } if data.iter().any(Value::has_binary) => {
                Format::Msgpack
            }
            _ => Format::Json,
        }
    }

    /// Encodes with Node's key order: `uid, requestId, type, <rest>`.
    pub fn encode(&self) -> Vec<u8> {
        self.format().encode(&self.to_value())
    }

    fn to_value(&self) -> Value {
        let mut m: Vec<(String, Value)> = Vec::with_capacity(6);
        if let Some(uid) = &self.uid {
            m.push(("uid".into(), Value::Str(uid.clone())));
        }
        if let Some(id) = &self.request_id {
            m.push(("requestId".into(), Value::Str(id.clone())));
        }
        m.push(("type".into(), Value::Int(self.type_number())));
        let target = |m: &mut Vec<(String, Value)>, target: &Target| match target {
            Target::Opts(opts) => m.push(("opts".into(), opts.to_value(OptsLayout::NoFlags))),
            Target::Socket { sid } => m.push(("sid".into(), Value::Str(sid.clone()))),
        };
        let join_rooms =
            |m: &mut Vec<(String, Value)>, target: &Target, rooms: &[Room]| match target {
                Target::Opts(_) => m.push(("rooms".into(), rooms_to_value(rooms))),
                Target::Socket { .. } => m.push((
                    "room".into(),
                    rooms.first().map(Room::to_value).unwrap_or(Value::Nil),
                )),
            };
        match &self.body {
            RequestBody::Sockets { rooms } => m.push(("rooms".into(), rooms_to_value(rooms))),
            RequestBody::AllRooms | RequestBody::Unknown { .. } => {}
            RequestBody::Join { target: t, rooms } | RequestBody::Leave { target: t, rooms } => {
                target(&mut m, t);
                join_rooms(&mut m, t, rooms);
            }
            RequestBody::Disconnect { target: t, close } => {
                target(&mut m, t);
                m.push(("close".into(), Value::Bool(*close)));
            }
            RequestBody::Fetch { opts } => {
                m.push(("opts".into(), opts.to_value(OptsLayout::NoFlags)))
            }
            RequestBody::ServerSideEmit { data } => {
                m.push(("data".into(), Value::Array(data.clone())))
            }
            RequestBody::Broadcast { packet, opts } => {
                m.push(("packet".into(), packet.to_value()));
                m.push(("opts".into(), opts.to_value(OptsLayout::Adapter)));
            }
        }
        Value::Map(m)
    }

    /// Decodes a request, JSON or msgpack by the first byte.
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        const WHAT: &str = "classic request";
        let v = decode_detected(bytes, limits)?;
        if !matches!(v, Value::Map(_)) {
            return Err(DecodeError::shape(WHAT, "not a map"));
        }
        let uid = optional_string(&v, "uid", WHAT)?;
        // `"requestId": null` counts as present in Node (with-ack); keep it as "".
        let request_id = match v.get("requestId") {
            None => None,
            Some(Value::Nil) => Some(String::new()),
            Some(Value::Str(s)) => Some(s.clone()),
            Some(_) => return Err(DecodeError::shape(WHAT, "requestId is not a string")),
        };
        let kind = v
            .get("type")
            .and_then(Value::as_u64)
            .ok_or(DecodeError::shape(WHAT, "type is not a number"))?;
        let target = || -> Result<Target, DecodeError> {
            match v.get("opts") {
                Some(opts) => Ok(Target::Opts(BroadcastOpts::from_value(opts)?)),
                None => match v.get("sid") {
                    Some(Value::Str(sid)) => Ok(Target::Socket { sid: sid.clone() }),
                    _ => Err(DecodeError::shape(WHAT, "neither opts nor sid")),
                },
            }
        };
        let join_rooms = |target: &Target| -> Result<Vec<Room>, DecodeError> {
            match target {
                Target::Opts(_) => rooms_from(v.get("rooms"), WHAT),
                Target::Socket { .. } => match v.get("room") {
                    Some(room) => Ok(vec![Room::from_value(room)?]),
                    None => Err(DecodeError::shape(WHAT, "legacy form without room")),
                },
            }
        };
        let body = match kind {
            0 => RequestBody::Sockets {
                rooms: rooms_from(v.get("rooms"), WHAT)?,
            },
            1 => RequestBody::AllRooms,
            2 | 3 => {
                let target = target()?;
                let rooms = join_rooms(&target)?;
                if kind == 2 {
                    RequestBody::Join { target, rooms }
                } else {
                    RequestBody::Leave { target, rooms }
                }
            }
            4 => RequestBody::Disconnect {
                target: target()?,
                close: v.get("close").and_then(Value::as_bool).unwrap_or(false),
            },
            5 => RequestBody::Fetch {
                opts: match v.get("opts") {
                    Some(opts) => BroadcastOpts::from_value(opts)?,
                    None => BroadcastOpts::default(),
                },
            },
            6 => RequestBody::ServerSideEmit {
                data: match v.get("data") {
                    Some(Value::Array(items)) => items.clone(),
                    _ => return Err(DecodeError::shape(WHAT, "data is not an array")),
                },
            },
            7 => RequestBody::Broadcast {
                packet: Packet::from_value(
                    v.get("packet")
                        .ok_or(DecodeError::shape(WHAT, "no packet"))?,
                )?,
                opts: BroadcastOpts::from_value(
                    v.get("opts").ok_or(DecodeError::shape(WHAT, "no opts"))?,
                )?,
            },
            other => RequestBody::Unknown {
                kind: i64::try_from(other).unwrap_or(i64::MAX),
            },
        };
        Ok(ClassicRequest {
            uid,
            request_id,
            body,
        })
    }
}

fn optional_string(
    v: &Value,
    key: &str,
    what: &'static str,
) -> Result<Option<String>, DecodeError> {
    match v.get(key) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(DecodeError::shape(what, "field is not a string")),
    }
}
