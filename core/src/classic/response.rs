//! Responses on `K-response#N#[uid#]`: what Node answers to each request
//! type, and the raw form read before the pending request tells its type.

use super::RequestType;
use crate::error::DecodeError;
use crate::format::{Format, decode_detected};
use crate::limits::Limits;
use crate::room::{Room, rooms_to_value};
use crate::socket_info::SocketInfo;
use crate::value::Value;

/// A response on `K-response#N#[uid#]`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ClassicResponse {
    /// To SOCKETS (0): `{requestId, sockets:[sid…]}`.
    Sockets {
        /// The request answered.
        request_id: String,
        /// Socket ids.
        sockets: Vec<String>,
    },
    /// To ALL_ROOMS (1): `{requestId, rooms:[…]}`.
    AllRooms {
        /// The request answered.
        request_id: String,
        /// Every local room, socket ids included.
        rooms: Vec<Room>,
    },
    /// To REMOTE_FETCH (5): `{requestId, sockets:[{id, handshake, rooms, data}]}`.
    Fetch {
        /// The request answered.
        request_id: String,
        /// The matching local sockets.
        sockets: Vec<SocketInfo>,
    },
    /// To SERVER_SIDE_EMIT (6) with a requestId: `{type:6, requestId, data}`.
    ServerSideEmit {
        /// The request answered.
        request_id: String,
        /// The first argument of the handler's ack; omitted when `None`.
        data: Option<Value>,
    },
    /// To BROADCAST (7), once: `{type:8, requestId, clientCount}`.
    ClientCount {
        /// The request answered.
        request_id: String,
        /// How many local clients were sent the packet.
        client_count: u64,
    },
    /// To BROADCAST (7), once per client ack: msgpack `{type:9, requestId, packet}`.
    Ack {
        /// The request answered.
        request_id: String,
        /// The first argument of the client's ack.
        packet: Value,
    },
    /// To a legacy sid-form join/leave/disconnect: `{requestId}`.
    Done {
        /// The request answered.
        request_id: String,
    },
}

impl ClassicResponse {
    /// The request id this answers.
    pub fn request_id(&self) -> &str {
        match self {
            ClassicResponse::Sockets { request_id, .. }
            | ClassicResponse::AllRooms { request_id, .. }
            | ClassicResponse::Fetch { request_id, .. }
            | ClassicResponse::ServerSideEmit { request_id, .. }
            | ClassicResponse::ClientCount { request_id, .. }
            | ClassicResponse::Ack { request_id, .. }
            | ClassicResponse::Done { request_id } => request_id,
        }
    }

    /// The format Node uses: msgpack for BROADCAST_ACK (9), JSON otherwise. A
    /// server-side-emit ack or fetch answer holding binary goes as msgpack too, so
    /// the binary survives (Node accepts both formats on response channels).
    pub fn format(&self) -> Format {
        match self {
            ClassicResponse::Ack { .. } => Format::Msgpack,
            ClassicResponse::ServerSideEmit { data: Some(d), .. } if d.has_binary() => {
                Format::Msgpack
            }
            ClassicResponse::Fetch { sockets, .. }
                if sockets
                    .iter()
                    .any(|s| s.data.as_ref().is_some_and(Value::has_binary)) =>
            {
                Format::Msgpack
            }
            _ => Format::Json,
        }
    }

    /// Encodes with Node's key order.
    pub fn encode(&self) -> Vec<u8> {
        self.format().encode(&self.to_value())
    }

    fn to_value(&self) -> Value {
        let id = |request_id: &str| ("requestId".to_owned(), Value::Str(request_id.to_owned()));
        let ty = |n: i64| ("type".to_owned(), Value::Int(n));
        Value::Map(match self {
            ClassicResponse::Sockets {
                request_id,
                sockets,
            } => vec![
                id(request_id),
                (
                    "sockets".into(),
                    Value::Array(sockets.iter().map(|s| Value::Str(s.clone())).collect()),
                ),
            ],
            ClassicResponse::AllRooms { request_id, rooms } => {
                vec![id(request_id), ("rooms".into(), rooms_to_value(rooms))]
            }
            ClassicResponse::Fetch {
                request_id,
                sockets,
            } => vec![
                id(request_id),
                (
                    "sockets".into(),
                    Value::Array(sockets.iter().map(SocketInfo::to_value).collect()),
                ),
            ],
            ClassicResponse::ServerSideEmit { request_id, data } => {
                let mut m = vec![ty(6), id(request_id)];
                if let Some(d) = data {
                    m.push(("data".into(), d.clone()));
                }
                m
            }
            ClassicResponse::ClientCount {
                request_id,
                client_count,
            } => vec![
                ty(8),
                id(request_id),
                ("clientCount".into(), Value::from(*client_count)),
            ],
            ClassicResponse::Ack { request_id, packet } => {
                vec![ty(9), id(request_id), ("packet".into(), packet.clone())]
            }
            ClassicResponse::Done { request_id } => vec![id(request_id)],
        })
    }

    /// Decodes a response. Responses are routed by `requestId`; what they mean
    /// depends on the request that is pending, so `expecting` names the request
    /// type the caller stored for that id (Node ignores the response's own `type`
    /// except to tell 8 from 9). A missing or malformed field decodes as empty.
    pub fn decode(
        bytes: &[u8],
        limits: &Limits,
        expecting: RequestType,
    ) -> Result<Self, DecodeError> {
        let raw = RawResponse::decode(bytes, limits)?;
        Ok(raw.interpret(expecting))
    }
}

/// A response decoded far enough to read its `requestId`, before the pending
/// request tells how to interpret it.
#[derive(Clone, Debug, PartialEq)]
pub struct RawResponse {
    /// The request it answers.
    pub request_id: String,
    value: Value,
}

impl RawResponse {
    /// Decodes JSON or msgpack by the first byte; fails without a string `requestId`.
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        const WHAT: &str = "classic response";
        let value = decode_detected(bytes, limits)?;
        let request_id = value
            .get("requestId")
            .and_then(Value::as_str)
            .ok_or(DecodeError::shape(WHAT, "requestId is not a string"))?
            .to_owned();
        Ok(RawResponse { request_id, value })
    }

    /// The response's own `type` field, if any.
    pub fn type_number(&self) -> Option<u64> {
        self.value.get("type").and_then(Value::as_u64)
    }

    /// Interprets the response for a pending request of type `expecting`.
    pub fn interpret(self, expecting: RequestType) -> ClassicResponse {
        let RawResponse { request_id, value } = self;
        match expecting {
            RequestType::Sockets => ClassicResponse::Sockets {
                request_id,
                sockets: value
                    .get("sockets")
                    .and_then(Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            RequestType::AllRooms => ClassicResponse::AllRooms {
                request_id,
                rooms: value
                    .get("rooms")
                    .and_then(Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|r| Room::from_value(r).ok())
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            RequestType::RemoteFetch => ClassicResponse::Fetch {
                request_id,
                sockets: SocketInfo::list_from(value.get("sockets")),
            },
            RequestType::ServerSideEmit => ClassicResponse::ServerSideEmit {
                request_id,
                data: value.get("data").cloned(),
            },
            RequestType::Broadcast
            | RequestType::BroadcastClientCount
            | RequestType::BroadcastAck => match value.get("type").and_then(Value::as_u64) {
                Some(8) => ClassicResponse::ClientCount {
                    request_id,
                    client_count: value
                        .get("clientCount")
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                },
                Some(9) => ClassicResponse::Ack {
                    request_id,
                    packet: value.get("packet").cloned().unwrap_or(Value::Nil),
                },
                _ => ClassicResponse::Done { request_id },
            },
            RequestType::RemoteJoin | RequestType::RemoteLeave | RequestType::RemoteDisconnect => {
                ClassicResponse::Done { request_id }
            }
        }
    }
}
