//! proptest strategies for the value model and the typed messages.
//!
//! A generated value is always in canonical form (see [`Value`]) and survives the
//! format its message is sent in: values that may travel as JSON carry no binary,
//! timestamp, extension, `u64` above `i64::MAX` or non-finite float; values that
//! travel as msgpack carry no integral float (notepack writes those as integers).

use crosscast_core::classic::{RequestBody, Target};
use crosscast_core::sharded::ShardedBody;
use crosscast_core::{BroadcastOpts, ClassicResponse, Flags, Packet, Room, SocketInfo, Value};
use proptest::collection::vec;
use proptest::prelude::*;

/// Largest integer that JSON carries exactly through a JavaScript number.
const SAFE_INT: u64 = (1 << 53) - 1;

/// Strings: short ones, ones around the 32-byte fixstr edge and ones past the
/// 256-byte str8 edge; any `char`, so non-ASCII and control characters too.
pub(crate) fn text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => "[a-z0-9_]{0,8}",
        3 => vec(any::<char>(), 0..12).prop_map(String::from_iter),
        1 => vec(any::<char>(), 28..40).prop_map(String::from_iter),
        1 => vec(prop_oneof![Just('é'), Just('中'), Just('😀'), Just('a')], 250..300)
            .prop_map(String::from_iter),
    ]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop_oneof![
        4 => vec(any::<u8>(), 0..20),
        1 => vec(any::<u8>(), 250..300),
    ]
}

/// Finite floats with a fractional part (an integral float is an integer on the wire).
pub(crate) fn fractional_float() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![any::<f64>(), (-1.0e6f64..1.0e6f64), (-1.0f64..1.0f64),]
        .prop_filter("finite and non-integral", |f| {
            f.is_finite() && f.fract() != 0.0
        })
}

fn int() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![
        3 => -40i64..200,
        2 => -70_000i64..70_000,
        2 => any::<i64>(),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        int().prop_map(Value::Int),
        fractional_float().prop_map(Value::Float),
        text().prop_map(Value::Str),
    ]
}

fn leaf() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        6 => json_leaf(),
        1 => ((i64::MAX as u64 + 1)..=u64::MAX).prop_map(Value::UInt),
        2 => bytes().prop_map(Value::Bin),
        1 => (any::<i64>(), 0u32..1_000_000_000)
            .prop_map(|(secs, nanos)| Value::Timestamp(crosscast_core::Timestamp { secs, nanos })),
        1 => (0u32..(1 << 30))
            .prop_map(|secs| Value::Timestamp(crosscast_core::Timestamp { secs: i64::from(secs), nanos: 0 })),
        1 => (
            any::<i8>().prop_filter("not a notepack type", |t| *t != 0 && *t != -1),
            prop_oneof![vec(any::<u8>(), 0..20), vec(any::<u8>(), 250..260)]
        )
            .prop_map(|(t, data)| Value::Ext(t, data)),
    ]
}

/// Map entries with unique keys, in generation order.
fn unique_entries(entries: Vec<(String, Value)>) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        if !out.iter().any(|(seen, _)| *seen == k) {
            out.push((k, v));
        }
    }
    out
}

fn tree(leaf: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    leaf.prop_recursive(3, 48, 20, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..20).prop_map(Value::Array),
            vec((text(), inner), 0..20).prop_map(|e| Value::Map(unique_entries(e))),
        ]
    })
    .boxed()
}

/// Any value a msgpack message can carry, up to 4 levels deep, containers up to
/// 19 items (past the 16 of fixarray/fixmap).
pub(crate) fn value() -> BoxedStrategy<Value> {
    tree(leaf().boxed())
}

/// Values `JSON.stringify` and `JSON.parse` carry unchanged.
pub(crate) fn json_value() -> BoxedStrategy<Value> {
    tree(json_leaf().boxed())
}

/// Values of a socketioxide parser payload: JSON-safe, with binaries anywhere
/// (they travel as attachments).
pub(crate) fn payload_value() -> BoxedStrategy<Value> {
    tree(prop_oneof![4 => json_leaf(), 1 => bytes().prop_map(Value::Bin)].boxed())
}

/// Event arguments for a JSON message.
pub(crate) fn json_args() -> impl Strategy<Value = Vec<Value>> {
    vec(json_value(), 0..4)
}

/// Arguments that are either JSON-safe, or hold a binary (so the message goes
/// as msgpack) and may then hold anything.
pub(crate) fn maybe_binary_args() -> impl Strategy<Value = Vec<Value>> {
    prop_oneof![
        json_args(),
        (vec(value(), 0..3), bytes(), any::<prop::sample::Index>()).prop_map(
            |(mut args, bin, at)| {
                let at = at.index(args.len() + 1);
                args.insert(at, Value::Bin(bin));
                args
            }
        ),
    ]
}

/// A JSON-safe value or one that holds a binary.
fn maybe_binary_value() -> BoxedStrategy<Value> {
    prop_oneof![
        json_value(),
        (vec(value(), 0..3), bytes()).prop_map(|(mut items, bin)| {
            items.push(Value::Bin(bin));
            Value::Array(items)
        }),
    ]
    .boxed()
}

fn room() -> impl Strategy<Value = Room> + Clone {
    prop_oneof![text().prop_map(Room::Str), int().prop_map(Room::Int)]
}

fn rooms() -> impl Strategy<Value = Vec<Room>> + Clone {
    vec(room(), 0..4)
}

const KNOWN_FLAGS: [&str; 4] = ["volatile", "compress", "timeout", "expectSingleResponse"];

/// Flags; `extra` holds JSON-safe values under keys that are not known flags.
fn flags() -> impl Strategy<Value = Flags> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0..=SAFE_INT),
        proptest::option::of(any::<bool>()),
        vec(("[a-z]{1,6}", json_value()), 0..3),
    )
        .prop_map(
            |(volatile, compress, timeout, expect_single_response, extra)| {
                let extra = unique_entries(extra)
                    .into_iter()
                    .filter(|(k, _)| !KNOWN_FLAGS.contains(&k.as_str()))
                    .collect();
                Flags {
                    volatile,
                    compress,
                    timeout,
                    expect_single_response,
                    extra,
                }
            },
        )
}

/// Broadcast options; without flags when `with_flags` is false (layouts that
/// drop them).
pub(crate) fn broadcast_opts(with_flags: bool) -> BoxedStrategy<BroadcastOpts> {
    let flags = if with_flags {
        flags().boxed()
    } else {
        Just(Flags::default()).boxed()
    };
    (rooms(), rooms(), flags)
        .prop_map(|(rooms, except, flags)| {
            let mut opts = BroadcastOpts::to_rooms(rooms).except(except);
            opts.flags = flags;
            opts
        })
        .boxed()
}

/// An EVENT packet `[event, ...args]`, with or without a namespace.
pub(crate) fn packet() -> impl Strategy<Value = Packet> {
    (text(), maybe_binary_args(), proptest::option::of(text())).prop_map(|(event, args, nsp)| {
        let mut packet = Packet::event(event, args);
        packet.nsp = nsp;
        packet
    })
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        broadcast_opts(false).prop_map(Target::Opts),
        text().prop_map(|sid| Target::Socket { sid }),
    ]
}

/// Rooms of a join/leave: a list for the opts form, exactly one room for the
/// legacy sid form (which carries a single `room`).
fn join_rooms(target: &Target) -> BoxedStrategy<Vec<Room>> {
    match target {
        Target::Socket { .. } => room().prop_map(|r| vec![r]).boxed(),
        _ => rooms().boxed(),
    }
}

/// Every [`RequestBody`], each in a shape that its format carries unchanged.
pub(crate) fn request_body() -> BoxedStrategy<RequestBody> {
    prop_oneof![
        rooms().prop_map(|rooms| RequestBody::Sockets { rooms }),
        Just(RequestBody::AllRooms),
        target().prop_flat_map(|t| join_rooms(&t).prop_map(move |rooms| RequestBody::Join {
            target: t.clone(),
            rooms
        })),
        target().prop_flat_map(
            |t| join_rooms(&t).prop_map(move |rooms| RequestBody::Leave {
                target: t.clone(),
                rooms
            })
        ),
        (target(), any::<bool>())
            .prop_map(|(target, close)| RequestBody::Disconnect { target, close }),
        broadcast_opts(false).prop_map(|opts| RequestBody::Fetch { opts }),
        (text(), maybe_binary_args()).prop_map(|(event, args)| {
            let mut data = vec![Value::Str(event)];
            data.extend(args);
            RequestBody::ServerSideEmit { data }
        }),
        (packet(), broadcast_opts(true))
            .prop_map(|(packet, opts)| RequestBody::Broadcast { packet, opts }),
        (8..=i64::MAX).prop_map(|kind| RequestBody::Unknown { kind }),
    ]
    .boxed()
}

/// Socket descriptions; the data of one may hold binary (the answer then goes
/// as msgpack), everything else is JSON-safe.
pub(crate) fn socket_infos() -> impl Strategy<Value = Vec<SocketInfo>> {
    let info = |data: BoxedStrategy<Option<Value>>| {
        (text(), proptest::option::of(json_value()), rooms(), data).prop_map(
            |(id, handshake, rooms, data)| SocketInfo {
                id,
                handshake,
                rooms,
                data,
            },
        )
    };
    (
        vec(info(proptest::option::of(json_value()).boxed()), 0..4),
        proptest::option::of(info(maybe_binary_value().prop_map(Some).boxed())),
    )
        .prop_map(|(mut infos, extra)| {
            infos.extend(extra);
            infos
        })
}

/// Every [`ClassicResponse`] variant.
pub(crate) fn classic_response() -> BoxedStrategy<ClassicResponse> {
    prop_oneof![
        (text(), vec(text(), 0..4)).prop_map(|(request_id, sockets)| ClassicResponse::Sockets {
            request_id,
            sockets
        }),
        (text(), rooms())
            .prop_map(|(request_id, rooms)| ClassicResponse::AllRooms { request_id, rooms }),
        (text(), socket_infos()).prop_map(|(request_id, sockets)| ClassicResponse::Fetch {
            request_id,
            sockets
        }),
        (text(), proptest::option::of(maybe_binary_value()))
            .prop_map(|(request_id, data)| ClassicResponse::ServerSideEmit { request_id, data }),
        (text(), 0..=SAFE_INT).prop_map(|(request_id, client_count)| {
            ClassicResponse::ClientCount {
                request_id,
                client_count,
            }
        }),
        (text(), value())
            .prop_map(|(request_id, packet)| ClassicResponse::Ack { request_id, packet }),
        text().prop_map(|request_id| ClassicResponse::Done { request_id }),
    ]
    .boxed()
}

/// Every [`ShardedBody`]; JSON-only types carry JSON-safe values, the
/// binary-capable ones may carry binary (and then anything).
pub(crate) fn sharded_body() -> BoxedStrategy<ShardedBody> {
    // The flags of flags() are JSON-safe, so options survive either format.
    prop_oneof![
        Just(ShardedBody::InitialHeartbeat),
        Just(ShardedBody::Heartbeat),
        (packet(), broadcast_opts(true))
            .prop_map(|(packet, opts)| ShardedBody::Broadcast { packet, opts }),
        (text(), packet(), broadcast_opts(true)).prop_map(|(request_id, packet, opts)| {
            ShardedBody::BroadcastWithAck {
                request_id,
                packet,
                opts,
            }
        }),
        (broadcast_opts(true), rooms())
            .prop_map(|(opts, rooms)| ShardedBody::SocketsJoin { opts, rooms }),
        (broadcast_opts(true), rooms())
            .prop_map(|(opts, rooms)| ShardedBody::SocketsLeave { opts, rooms }),
        (broadcast_opts(true), any::<bool>())
            .prop_map(|(opts, close)| ShardedBody::DisconnectSockets { opts, close }),
        (broadcast_opts(true), text())
            .prop_map(|(opts, request_id)| ShardedBody::FetchSockets { opts, request_id }),
        (text(), socket_infos()).prop_map(|(request_id, sockets)| {
            ShardedBody::FetchSocketsResponse {
                request_id,
                sockets,
            }
        }),
        (proptest::option::of(text()), text(), maybe_binary_args()).prop_map(
            |(request_id, event, args)| {
                let mut packet = vec![Value::Str(event)];
                packet.extend(args);
                ShardedBody::ServerSideEmit { request_id, packet }
            }
        ),
        (text(), maybe_binary_value()).prop_map(|(request_id, packet)| {
            ShardedBody::ServerSideEmitResponse { request_id, packet }
        }),
        (text(), 0..=SAFE_INT).prop_map(|(request_id, client_count)| {
            ShardedBody::BroadcastClientCount {
                request_id,
                client_count,
            }
        }),
        (text(), maybe_binary_value())
            .prop_map(|(request_id, packet)| ShardedBody::BroadcastAck { request_id, packet }),
        Just(ShardedBody::AdapterClose),
        prop_oneof![Just(0u64), 14..=SAFE_INT].prop_map(|kind| ShardedBody::Unknown { kind }),
    ]
    .boxed()
}
