//! The exact bytes and channels a node publishes, and what it makes of what
//! it hears, for every operation in every protocol dialect.
//!
//! Two nodes, A and B, share a pretend Redis that hands every published
//! message to both of them (so each also hears itself, as on a real Redis).
//! A runs every operation of the app; each node's host answers every question
//! with fixed data. The whole exchange is written down as a transcript (the
//! command, channel and hex payload of every publish, every event, the stats)
//! and compared with the transcript pinned in `tests/dialects/<name>.txt`.
//!
//! To pin a deliberate change of behaviour, run with `CROSSCAST_BLESS=1` and
//! review the diff of the pinned files.

#![allow(clippy::unwrap_used)]

mod support;

use std::fmt::Write as _;

use crosscast_core::classic::{RequestBody, Target};
use crosscast_core::{
    BroadcastOpts, ClassicRequest, Node, Packet, Protocol, Room, ShardedBody, ShardedMessage, Value,
};
use support::cluster::{Cluster, T0, check, dialects, hex};

fn flagged(rooms: &[&str], except: &[&str]) -> BroadcastOpts {
    let mut opts = BroadcastOpts::to_rooms(rooms.iter().copied()).except(except.iter().copied());
    opts.flags.volatile = Some(true);
    opts.flags.compress = Some(false);
    opts
}

/// Every operation of the app on A, answered by B.
fn operations(protocol: &Protocol) -> String {
    let mut c = Cluster::new(protocol);
    let mut now = T0;
    c.note("start");
    c.pump(now);

    c.note("rooms come and go");
    c.a.handle_room_added(&Room::from("lobby"));
    c.a.handle_room_added(&Room::from("lobby"));
    c.a.handle_room_added(&Room::from("sid-of-AAAAAA"));
    c.b.handle_room_added(&Room::from("r1"));
    c.a.handle_room_removed(&Room::from("gone"));
    c.pump(now);

    c.note("broadcasts");
    c.a.broadcast(Packet::event("all", [Value::Int(1)]), &BroadcastOpts::all())
        .unwrap();
    c.a.broadcast(
        Packet::event("one", [Value::Bin(vec![1, 2, 3])]),
        &BroadcastOpts::to_rooms(["lobby"]),
    )
    .unwrap();
    c.a.broadcast(Packet::event("some", []), &flagged(&["r1", "r2"], &["r3"]))
        .unwrap();
    c.pump(now);

    c.note("broadcast with ack");
    c.a.broadcast_with_ack(
        now,
        Packet::event("ask", [Value::from("q")]),
        &BroadcastOpts::to_rooms(["lobby"]),
        2_000,
    )
    .unwrap();
    c.pump(now);

    c.note("join, leave, disconnect");
    c.a.sockets_join(&BroadcastOpts::to_rooms(["lobby"]), vec![Room::from("vip")]);
    c.a.sockets_leave(&flagged(&[], &["r3"]), vec![Room::from("lobby")]);
    c.a.disconnect_sockets(&BroadcastOpts::all(), true);
    c.pump(now);

    c.note("fetch sockets");
    let mut fetch = BroadcastOpts::to_rooms(["lobby"]);
    fetch.flags.timeout = Some(3_000);
    c.a.fetch_sockets(now, &fetch);
    c.pump(now);

    c.note("rooms of every socket");
    c.a.rooms(now, &BroadcastOpts::all());
    c.pump(now);

    c.note("rooms of the sockets in a room");
    c.a.rooms(now, &BroadcastOpts::to_rooms(["lobby"]));
    c.pump(now);

    c.note("server-side emit");
    c.a.server_side_emit(vec![Value::from("hello"), Value::Int(1)])
        .unwrap();
    c.a.server_side_emit_with_ack(now, vec![Value::from("ping")])
        .unwrap();
    c.pump(now);

    c.note("server count");
    c.a.server_count(now);
    c.pump(now);

    c.note("a request nobody answers times out");
    c.a.fetch_sockets(now, &BroadcastOpts::all());
    while let Some(event) = c.a.poll_event() {
        let _ = writeln!(c.log, "A event (unanswered) {event:?}");
    }
    for t in std::iter::from_fn(|| c.a.poll_transmit()) {
        let _ = writeln!(
            c.log,
            "A (dropped) {:?} {} {}",
            t.kind,
            t.channel,
            hex(&t.payload)
        );
    }
    now = now + 10_000;
    let _ = writeln!(c.log, "A timeout {:?}", c.a.poll_timeout());
    c.a.handle_timeout(now);
    c.b.handle_timeout(now);
    c.pump(now);

    c.note("close");
    c.a.close(now);
    c.pump(now);
    c.a.fetch_sockets(now, &BroadcastOpts::all());
    c.pump(now);
    c.finish()
}

/// What B makes of messages no node sends but Node's servers and emitters do,
/// and of malformed or foreign ones.
fn inbound(protocol: &Protocol) -> String {
    let mut c = Cluster::new(protocol);
    let now = T0;
    c.pump(now);
    let classic = |request_id: Option<&str>, body: RequestBody| {
        ClassicRequest {
            uid: Some("NODEJS".to_owned()),
            request_id: request_id.map(str::to_owned),
            body,
        }
        .encode()
    };
    match protocol {
        Protocol::Classic { .. } => {
            c.note("legacy requests of a Node server");
            c.inject(
                now,
                "socket.io-request#/#",
                &classic(
                    Some("r1"),
                    RequestBody::Sockets {
                        rooms: vec![Room::from("lobby")],
                    },
                ),
            );
            c.inject(
                now,
                "socket.io-request#/#",
                &classic(Some("r2"), RequestBody::AllRooms),
            );
            c.inject(
                now,
                "socket.io-request#/#",
                &classic(
                    Some("r3"),
                    RequestBody::Join {
                        target: Target::Socket {
                            sid: "sid-of-BBBBBB".to_owned(),
                        },
                        rooms: vec![Room::from("vip")],
                    },
                ),
            );
            c.inject(
                now,
                "socket.io-request#/#",
                &classic(
                    None,
                    RequestBody::Disconnect {
                        target: Target::Socket {
                            sid: "sid-of-BBBBBB".to_owned(),
                        },
                        close: false,
                    },
                ),
            );
            c.inject(
                now,
                "socket.io-request#/#",
                &classic(Some("r4"), RequestBody::Unknown { kind: 99 }),
            );
            c.inject(
                now,
                "socket.io-request#/#",
                &classic(
                    Some("r5"),
                    RequestBody::ServerSideEmit {
                        data: vec![Value::from("connect")],
                    },
                ),
            );
            c.note("an emitter's join, a broadcast with acks without request id");
            let emitter_join = ClassicRequest {
                uid: None,
                request_id: None,
                body: RequestBody::Join {
                    target: Target::Opts(BroadcastOpts::to_rooms(["lobby"])),
                    rooms: vec![Room::from("vip")],
                },
            }
            .encode();
            c.inject(now, "socket.io-request#/#", &emitter_join);
            c.inject(
                now,
                "socket.io-request#/#",
                &classic(
                    None,
                    RequestBody::Broadcast {
                        packet: Packet::event("e", []),
                        opts: BroadcastOpts::all(),
                    },
                ),
            );
            c.note("a response naming A's server-count request, then a duplicate answer");
            let count = c.a.server_count(now);
            let wire = format!("AAAAAA.{}", count.to_raw());
            let body = format!(r#"{{"requestId":"{wire}","rooms":[]}}"#);
            c.inject_quietly(true, now, "socket.io-response#/#", body.as_bytes());
            let fetch = c.a.fetch_sockets(now, &BroadcastOpts::all());
            let wire = format!("AAAAAA.{}", fetch.to_raw());
            let body = format!(r#"{{"requestId":"{wire}","sockets":[]}}"#);
            c.inject_quietly(true, now, "socket.io-response#/#", body.as_bytes());
            c.inject_quietly(true, now, "socket.io-response#/#", body.as_bytes());
            c.pump(now);
            c.note("responses for nobody");
            c.inject(
                now,
                "socket.io-response#/#",
                br#"{"type":4,"requestId":"ZZZZZZ.1","rooms":[]}"#,
            );
            c.inject(
                now,
                "socket.io-response#/#",
                br#"{"type":4,"requestId":"BBBBBB.1","rooms":[]}"#,
            );
            c.inject(
                now,
                "socket.io-response#/#CCCCCC#",
                br#"{"type":4,"requestId":"CCCCCC.1","rooms":[]}"#,
            );
            c.note("the membership channel: other types, namespaces, a close");
            let on_members = |uid: &str, nsp: &str, body: ShardedBody| {
                ShardedMessage {
                    uid: uid.to_owned(),
                    nsp: nsp.to_owned(),
                    body,
                }
                .encode()
            };
            c.inject(
                now,
                "socket.io-crosscast#/#",
                &on_members(
                    "PEER02",
                    "/",
                    ShardedBody::Broadcast {
                        packet: Packet::event("e", []),
                        opts: BroadcastOpts::all(),
                    },
                ),
            );
            c.inject(
                now,
                "socket.io-crosscast#/#",
                &on_members("PEER02", "/x", ShardedBody::Heartbeat),
            );
            c.inject(
                now,
                "socket.io-crosscast#/#",
                &on_members("PEER02", "/", ShardedBody::InitialHeartbeat),
            );
            c.inject(
                now,
                "socket.io-crosscast#/#",
                &on_members("PEER02", "/", ShardedBody::AdapterClose),
            );
            c.note("foreign and malformed");
            c.inject(now, "socket.io#/other#", b"\x93\xa6NODEJS\x80\x80");
            c.inject(now, "socket.io-crosscast#/#", b"{");
            c.inject(now, "elsewhere", b"{}");
            c.inject(now, "socket.io-request#/#", b"not json");
        }
        _ => {
            let sharded = |uid: &str, nsp: &str, body: ShardedBody| {
                ShardedMessage {
                    uid: uid.to_owned(),
                    nsp: nsp.to_owned(),
                    body,
                }
                .encode()
            };
            c.note("requests of a Node server");
            let mut opts = BroadcastOpts::to_rooms(["lobby"]);
            opts.flags.timeout = Some(9_000);
            c.inject(
                now,
                "socket.io#/#",
                &sharded(
                    "NODEJS",
                    "/",
                    ShardedBody::FetchSockets {
                        opts: opts.clone(),
                        request_id: "NODEJS.1".to_owned(),
                    },
                ),
            );
            c.inject(
                now,
                "socket.io#/#lobby#",
                &sharded(
                    "NODEJS",
                    "/",
                    ShardedBody::SocketsLeave {
                        opts: opts.clone(),
                        rooms: vec![Room::from("lobby")],
                    },
                ),
            );
            c.inject(
                now,
                "socket.io#/#",
                &sharded(
                    "NODEJS",
                    "/",
                    ShardedBody::DisconnectSockets {
                        opts: BroadcastOpts::all(),
                        close: true,
                    },
                ),
            );
            c.inject(
                now,
                "socket.io#/#",
                &sharded(
                    "NODEJS",
                    "/",
                    ShardedBody::ServerSideEmit {
                        request_id: Some("NODEJS.2".to_owned()),
                        packet: vec![Value::from("connect")],
                    },
                ),
            );
            c.inject(
                now,
                "socket.io#/#",
                &sharded(
                    "NODEJS",
                    "/",
                    ShardedBody::ServerSideEmit {
                        request_id: None,
                        packet: vec![Value::from("news"), Value::Int(3)],
                    },
                ),
            );
            c.note("own, other namespace, unknown type, a response on the main channel");
            let broadcast = ShardedBody::Broadcast {
                packet: Packet::event("e", []),
                opts: BroadcastOpts::all(),
            };
            c.inject(
                now,
                "socket.io#/#",
                &sharded("BBBBBB", "/", broadcast.clone()),
            );
            c.inject(now, "socket.io#/#", &sharded("NODEJS", "/x", broadcast));
            c.inject(
                now,
                "socket.io#/#",
                &sharded("NODEJS", "/", ShardedBody::Unknown { kind: 99 }),
            );
            c.inject(
                now,
                "socket.io#/#",
                &sharded(
                    "NODEJS",
                    "/",
                    ShardedBody::BroadcastClientCount {
                        request_id: "BBBBBB.1".to_owned(),
                        client_count: 3,
                    },
                ),
            );
            c.note("the private channel reads responses only");
            c.inject(
                now,
                "socket.io#/#BBBBBB#",
                &sharded("NODEJS", "/x", ShardedBody::Heartbeat),
            );
            c.inject(
                now,
                "socket.io#/#BBBBBB#",
                &sharded(
                    "NODEJS",
                    "/x",
                    ShardedBody::FetchSocketsResponse {
                        request_id: "ZZ.1".to_owned(),
                        sockets: vec![],
                    },
                ),
            );
            c.note("a response naming A's server-count request, then a duplicate answer");
            let count = c.a.server_count(now);
            let count_response = sharded(
                "PEER02",
                "/",
                ShardedBody::FetchSocketsResponse {
                    request_id: format!("AAAAAA.{}", count.to_raw()),
                    sockets: vec![],
                },
            );
            c.inject_quietly(true, now, "socket.io#/#AAAAAA#", &count_response);
            let ack =
                c.a.server_side_emit_with_ack(now, vec![Value::from("q")])
                    .unwrap();
            let ack_response = sharded(
                "PEER02",
                "/",
                ShardedBody::ServerSideEmitResponse {
                    request_id: format!("AAAAAA.{}", ack.to_raw()),
                    packet: Value::Int(5),
                },
            );
            c.inject_quietly(true, now, "socket.io#/#AAAAAA#", &ack_response);
            c.inject_quietly(true, now, "socket.io#/#AAAAAA#", &ack_response);
            c.pump(now);
            c.note("foreign and malformed");
            c.inject(now, "socket.io#/#", b"\x81");
            c.inject(now, "socket.io#/#BBBBBB#", b"\xc1");
            c.inject(now, "elsewhere", b"{}");
        }
    }
    c.finish()
}

#[test]
fn every_operation_publishes_the_pinned_bytes_on_the_pinned_channels() {
    for (name, protocol) in dialects() {
        check(&format!("{name}-operations"), &operations(&protocol));
    }
}

#[test]
fn inbound_messages_of_node_servers_and_strangers_have_the_pinned_effects() {
    for (name, protocol) in dialects() {
        check(&format!("{name}-inbound"), &inbound(&protocol));
    }
}

#[test]
fn a_node_is_plain_data_whatever_its_dialect() {
    fn plain<T: Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    plain::<Node>();
}
