//! The sharded adapter protocol (`createShardedAdapter` on socket.io-adapter's
//! `ClusterAdapter`, NODE-WIRE.md §4): one envelope `{type, data, uid, nsp}`,
//! JSON unless the data of a binary-capable type holds binary, then msgpack.

use crate::error::DecodeError;
use crate::format::{Format, decode_detected};
use crate::limits::Limits;
use crate::options::{BroadcastOpts, OptsLayout};
use crate::packet::Packet;
use crate::room::{Room, rooms_from, rooms_to_value};
use crate::socket_info::SocketInfo;
use crate::value::Value;

/// One message of the sharded protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardedMessage {
    /// The sender's uid (16 hex characters for Node).
    pub uid: String,
    /// The namespace; Node 8.3.0 drops messages of other namespaces.
    pub nsp: String,
    /// The typed body.
    pub body: ShardedBody,
}

/// The typed part of a [`ShardedMessage`] (MessageType 1..13).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ShardedBody {
    /// 1: a node announces itself (heartbeat adapters; ignored by Node 8.3.0).
    InitialHeartbeat,
    /// 2: a node is alive (ignored by Node 8.3.0).
    Heartbeat,
    /// 3 without requestId.
    Broadcast {
        /// The packet (no `nsp` inside).
        packet: Packet,
        /// Targets and flags.
        opts: BroadcastOpts,
    },
    /// 3 with requestId: a broadcast whose client acks are collected.
    BroadcastWithAck {
        /// The request id (answers go to the sender's private channel).
        request_id: String,
        /// The packet.
        packet: Packet,
        /// Targets and flags.
        opts: BroadcastOpts,
    },
    /// 4: matching sockets join `rooms`.
    SocketsJoin {
        /// Which sockets.
        opts: BroadcastOpts,
        /// Rooms to join.
        rooms: Vec<Room>,
    },
    /// 5: matching sockets leave `rooms`.
    SocketsLeave {
        /// Which sockets.
        opts: BroadcastOpts,
        /// Rooms to leave.
        rooms: Vec<Room>,
    },
    /// 6: matching sockets disconnect.
    DisconnectSockets {
        /// Which sockets.
        opts: BroadcastOpts,
        /// Whether to close the underlying connection.
        close: bool,
    },
    /// 7: fetchSockets.
    FetchSockets {
        /// Which sockets.
        opts: BroadcastOpts,
        /// The request id.
        request_id: String,
    },
    /// 8: the answer to 7.
    FetchSocketsResponse {
        /// The request answered.
        request_id: String,
        /// The matching sockets.
        sockets: Vec<SocketInfo>,
    },
    /// 9: a server-side event; with a request id the receivers ack it.
    ServerSideEmit {
        /// Present when acks are expected.
        request_id: Option<String>,
        /// `[event, ...args]`.
        packet: Vec<Value>,
    },
    /// 10: one server's ack of 9.
    ServerSideEmitResponse {
        /// The request answered.
        request_id: String,
        /// The ack argument.
        packet: Value,
    },
    /// 11: a server's client count for 3 with requestId.
    BroadcastClientCount {
        /// The request answered.
        request_id: String,
        /// How many local clients were sent the packet.
        client_count: u64,
    },
    /// 12: one client ack for 3 with requestId.
    BroadcastAck {
        /// The request answered.
        request_id: String,
        /// The first argument of the client's ack.
        packet: Value,
    },
    /// 13: a node closes (heartbeat adapters; ignored by Node 8.3.0).
    AdapterClose,
    /// A type this version does not know; ignored.
    Unknown {
        /// The type number.
        kind: u64,
    },
}

impl ShardedBody {
    /// The MessageType number.
    pub fn type_number(&self) -> u64 {
        match self {
            ShardedBody::InitialHeartbeat => 1,
            ShardedBody::Heartbeat => 2,
            ShardedBody::Broadcast { .. } | ShardedBody::BroadcastWithAck { .. } => 3,
            ShardedBody::SocketsJoin { .. } => 4,
            ShardedBody::SocketsLeave { .. } => 5,
            ShardedBody::DisconnectSockets { .. } => 6,
            ShardedBody::FetchSockets { .. } => 7,
            ShardedBody::FetchSocketsResponse { .. } => 8,
            ShardedBody::ServerSideEmit { .. } => 9,
            ShardedBody::ServerSideEmitResponse { .. } => 10,
            ShardedBody::BroadcastClientCount { .. } => 11,
            ShardedBody::BroadcastAck { .. } => 12,
            ShardedBody::AdapterClose => 13,
            ShardedBody::Unknown { kind } => *kind,
        }
    }

    /// The request id of a response type (8, 10, 11, 12).
    pub fn response_request_id(&self) -> Option<&str> {
        match self {
            ShardedBody::FetchSocketsResponse { request_id, .. }
            | ShardedBody::ServerSideEmitResponse { request_id, .. }
            | ShardedBody::BroadcastClientCount { request_id, .. }
            | ShardedBody::BroadcastAck { request_id, .. } => Some(request_id),
            _ => None,
        }
    }

    fn data(&self) -> Option<Value> {
        let id = |request_id: &str| ("requestId".to_owned(), Value::Str(request_id.to_owned()));
        let opts = |o: &BroadcastOpts| ("opts".to_owned(), o.to_value(OptsLayout::Adapter));
        let packet = |p: &Packet| ("packet".to_owned(), p.to_value());
        Some(Value::Map(match self {
            ShardedBody::InitialHeartbeat
            | ShardedBody::Heartbeat
            | ShardedBody::AdapterClose
            | ShardedBody::Unknown { .. } => return None,
            ShardedBody::Broadcast { packet: p, opts: o } => vec![packet(p), opts(o)],
            ShardedBody::BroadcastWithAck {
                request_id,
                packet: p,
                opts: o,
            } => vec![packet(p), id(request_id), opts(o)],
            ShardedBody::SocketsJoin { opts: o, rooms }
            | ShardedBody::SocketsLeave { opts: o, rooms } => {
                vec![opts(o), ("rooms".into(), rooms_to_value(rooms))]
            }
            ShardedBody::DisconnectSockets { opts: o, close } => {
                vec![opts(o), ("close".into(), Value::Bool(*close))]
            }
            ShardedBody::FetchSockets {
                opts: o,
                request_id,
            } => vec![opts(o), id(request_id)],
            ShardedBody::FetchSocketsResponse {
                request_id,
                sockets,
            } => vec![
                id(request_id),
                (
                    "sockets".into(),
                    Value::Array(sockets.iter().map(SocketInfo::to_value).collect()),
                ),
            ],
            ShardedBody::ServerSideEmit { request_id, packet } => {
                let mut m = Vec::with_capacity(2);
                if let Some(request_id) = request_id {
                    m.push(id(request_id));
                }
                m.push(("packet".into(), Value::Array(packet.clone())));
                m
            }
            ShardedBody::ServerSideEmitResponse { request_id, packet }
            | ShardedBody::BroadcastAck { request_id, packet } => {
                vec![id(request_id), ("packet".into(), packet.clone())]
            }
            ShardedBody::BroadcastClientCount {
                request_id,
                client_count,
            } => vec![
                id(request_id),
                ("clientCount".into(), Value::from(*client_count)),
            ],
        }))
    }
}

impl ShardedMessage {
    /// The format Node picks: msgpack when the type may carry binary (3, 8, 9, 10,
    /// 12) and its data does, JSON otherwise.
    pub fn format(&self) -> Format {
        format_for(self.body.type_number(), self.body.data().as_ref())
    }

    /// Encodes with Node's key order `type, data, uid, nsp`.
    pub fn encode(&self) -> Vec<u8> {
        let kind = self.body.type_number();
        let data = self.body.data();
        let format = format_for(kind, data.as_ref());
        let mut m = Vec::with_capacity(4);
        m.push(("type".to_owned(), Value::from(kind)));
        if let Some(d) = data {
            m.push(("data".to_owned(), d));
        }
        m.push(("uid".to_owned(), Value::Str(self.uid.clone())));
        m.push(("nsp".to_owned(), Value::Str(self.nsp.clone())));
        format.encode(&Value::Map(m))
    }

    /// Decodes an envelope, JSON or msgpack by the first byte.
    ///
    /// Fails on a missing `uid`, `nsp` or `type`, and on a known type whose
    /// `data` lacks what Node would read (Node would throw there). An unknown
    /// type decodes to [`ShardedBody::Unknown`].
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        const WHAT: &str = "sharded message";
        let v = decode_detected(bytes, limits)?;
        if !matches!(v, Value::Map(_)) {
            return Err(DecodeError::shape(WHAT, "not a map"));
        }
        let uid = v
            .get("uid")
            .and_then(Value::as_str)
            .ok_or(DecodeError::shape(WHAT, "uid is not a string"))?
            .to_owned();
        let nsp = v
            .get("nsp")
            .and_then(Value::as_str)
            .ok_or(DecodeError::shape(WHAT, "nsp is not a string"))?
            .to_owned();
        let kind = v
            .get("type")
            .and_then(Value::as_u64)
            .ok_or(DecodeError::shape(WHAT, "type is not a number"))?;
        let body = match kind {
            1 => ShardedBody::InitialHeartbeat,
            2 => ShardedBody::Heartbeat,
            13 => ShardedBody::AdapterClose,
            3..=12 => decode_body(kind, v.get("data"))?,
            other => ShardedBody::Unknown { kind: other },
        };
        Ok(ShardedMessage { uid, nsp, body })
    }
}

fn format_for(kind: u64, data: Option<&Value>) -> Format {
    let binary_capable = matches!(kind, 3 | 8 | 9 | 10 | 12);
    if binary_capable && data.is_some_and(Value::has_binary) {
        Format::Msgpack
    } else {
        Format::Json
    }
}

fn decode_body(kind: u64, data: Option<&Value>) -> Result<ShardedBody, DecodeError> {
    const WHAT: &str = "sharded message data";
    let data = match data {
        Some(d @ Value::Map(_)) => d,
        _ => return Err(DecodeError::shape(WHAT, "data is not a map")),
    };
    let opts = || -> Result<BroadcastOpts, DecodeError> {
        BroadcastOpts::from_value(
            data.get("opts")
                .ok_or(DecodeError::shape(WHAT, "no opts"))?,
        )
    };
    let request_id = || -> Result<String, DecodeError> {
        match data.get("requestId") {
            Some(Value::Str(s)) => Ok(s.clone()),
            // Node only checks for undefined: null is a present request id.
            Some(Value::Nil) => Ok(String::new()),
            _ => Err(DecodeError::shape(WHAT, "requestId is not a string")),
        }
    };
    let packet = || -> Result<Packet, DecodeError> {
        Packet::from_value(
            data.get("packet")
                .ok_or(DecodeError::shape(WHAT, "no packet"))?,
        )
    };
    Ok(match kind {
        3 => match data.get("requestId") {
            None => ShardedBody::Broadcast {
                packet: packet()?,
                opts: opts()?,
            },
            Some(_) => ShardedBody::BroadcastWithAck {
                request_id: request_id()?,
                packet: packet()?,
                opts: opts()?,
            },
        },
        4 => ShardedBody::SocketsJoin {
            opts: opts()?,
            rooms: rooms_from(data.get("rooms"), WHAT)?,
        },
        5 => ShardedBody::SocketsLeave {
            opts: opts()?,
            rooms: rooms_from(data.get("rooms"), WHAT)?,
        },
        6 => ShardedBody::DisconnectSockets {
            opts: opts()?,
            close: data.get("close").and_then(Value::as_bool).unwrap_or(false),
        },
        7 => ShardedBody::FetchSockets {
            opts: opts()?,
            request_id: request_id()?,
        },
        8 => ShardedBody::FetchSocketsResponse {
            request_id: request_id()?,
            sockets: SocketInfo::list_from(data.get("sockets")),
        },
        9 => ShardedBody::ServerSideEmit {
            request_id: match data.get("requestId") {
                None => None,
                Some(_) => Some(request_id()?),
            },
            packet: match data.get("packet") {
                Some(Value::Array(items)) => items.clone(),
                _ => return Err(DecodeError::shape(WHAT, "packet is not an array")),
            },
        },
        10 => ShardedBody::ServerSideEmitResponse {
            request_id: request_id()?,
            packet: data.get("packet").cloned().unwrap_or(Value::Nil),
        },
        11 => ShardedBody::BroadcastClientCount {
            request_id: request_id()?,
            client_count: data.get("clientCount").and_then(Value::as_u64).unwrap_or(0),
        },
        12 => ShardedBody::BroadcastAck {
            request_id: request_id()?,
            packet: data.get("packet").cloned().unwrap_or(Value::Nil),
        },
        other => ShardedBody::Unknown { kind: other },
    })
}
