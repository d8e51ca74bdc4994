//! A node that hostile or careless peers cannot make leak, overflow or confuse
//! its clients: every table a peer fills is bounded and freed by a timer, every
//! count saturates, and what a client could not decode never reaches the host.
//!
//! Transcripts: a peer node (or hand-made bytes) publishes, our node handles
//! the message, and the test reads our node's events, stats and timers.

#![allow(clippy::unwrap_used)]

use crosscast_core::event_name::{CLIENT_RESERVED_EVENTS, SERVER_SIDE_RESERVED_EVENTS};
use crosscast_core::node::{Event, Outcome, Transmit};
use crosscast_core::{
    BroadcastOpts, ClassicResponse, Limits, Node, NodeConfig, Packet, Protocol, Time, UsageError,
    Value, msgpack,
};

const T0: Time = Time::from_millis(1_000);

fn config(uid: &str, protocol: &Protocol) -> NodeConfig {
    let mut config = NodeConfig::new(uid, "/", protocol.clone());
    // Membership off: the transcripts are about requests and acks only.
    config.heartbeat_interval_ms = 0;
    config
}

fn node(uid: &str, protocol: &Protocol) -> Node {
    Node::new(config(uid, protocol), T0).expect("valid config")
}

fn protocols() -> [Protocol; 2] {
    [Protocol::classic(), Protocol::sharded()]
}

fn drain_transmits(node: &mut Node) -> Vec<Transmit> {
    std::iter::from_fn(|| node.poll_transmit()).collect()
}

fn drain_events(node: &mut Node) -> Vec<Event> {
    std::iter::from_fn(|| node.poll_event()).collect()
}

/// Hands every message `from` published to `to`.
fn deliver(from: &mut Node, to: &mut Node, now: Time) {
    for t in drain_transmits(from) {
        to.handle_message(now, &t.channel, &t.payload);
    }
}

fn server_side_acks(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::ServerSideEmit { ack: Some(_), .. }))
        .count()
}

fn nested(levels: usize) -> Value {
    let mut v = Value::Int(1);
    for _ in 0..levels {
        v = Value::Array(vec![v]);
    }
    v
}

#[test]
fn ten_thousand_unanswered_server_side_acks_expire_after_the_requests_timeout() {
    for protocol in protocols() {
        let mut peer = node("PEER01", &protocol);
        let mut us = node("USUSUS", &protocol);
        drain_events(&mut us);
        for _ in 0..10_000 {
            peer.server_side_emit_with_ack(T0, vec![Value::from("unhandled")])
                .expect("a plain event name");
        }
        deliver(&mut peer, &mut us, T0);
        assert_eq!(server_side_acks(&drain_events(&mut us)), 10_000);
        assert_eq!(us.stats().server_side_acks_pending, 10_000);

        // The host never answers. The node's own timer frees every entry.
        let (deadline, _) = us.poll_timeout().expect("the entries are timed");
        assert!(deadline <= T0 + 5_000 + 1_000, "{protocol:?}: {deadline}");
        us.handle_timeout(deadline);
        assert_eq!(us.stats().server_side_acks_pending, 0, "{protocol:?}");
        assert_eq!(us.stats().server_side_acks_expired, 10_000);
        assert_eq!(us.poll_timeout(), None);
        // An answer after that is late, not an error, and publishes nothing.
        assert!(drain_transmits(&mut us).is_empty());
    }
}

#[test]
fn a_released_server_side_ack_is_freed_at_once_and_answers_nothing() {
    for protocol in protocols() {
        let mut peer = node("PEER01", &protocol);
        let mut us = node("USUSUS", &protocol);
        drain_events(&mut us);
        peer.server_side_emit_with_ack(T0, vec![Value::from("nobody-listens")])
            .unwrap();
        deliver(&mut peer, &mut us, T0);
        let ack = drain_events(&mut us)
            .into_iter()
            .find_map(|e| match e {
                Event::ServerSideEmit { ack, .. } => ack,
                _ => None,
            })
            .expect("an ack is wanted");
        assert_eq!(us.stats().server_side_acks_pending, 1);
        us.release_server_side_ack(T0, ack).unwrap();
        assert_eq!(us.stats().server_side_acks_pending, 0);
        assert_eq!(us.poll_timeout(), None, "its timer went with it");
        assert!(drain_transmits(&mut us).is_empty());
        // Answering it afterwards is late, and publishes nothing.
        us.handle_server_side_ack(T0, ack, Some(Value::Int(1)))
            .unwrap();
        assert!(drain_transmits(&mut us).is_empty());
        assert_eq!(us.stats().late_host_answers, 1);
    }
}

#[test]
fn a_full_ack_table_drops_further_requests_and_counts_them() {
    for protocol in protocols() {
        let mut peer = node("PEER01", &protocol);
        let mut config = config("USUSUS", &protocol);
        config.limits.max_pending = 3;
        let mut us = Node::new(config, T0).unwrap();
        drain_events(&mut us);
        for _ in 0..5 {
            peer.server_side_emit_with_ack(T0, vec![Value::from("e")])
                .unwrap();
        }
        // Remote broadcasts with acks fill their own table, bounded the same way.
        for _ in 0..5 {
            peer.broadcast_with_ack(T0, Packet::event("e", []), &BroadcastOpts::all(), 1_000)
                .unwrap();
        }
        deliver(&mut peer, &mut us, T0);
        let events = drain_events(&mut us);
        assert_eq!(server_side_acks(&events), 3, "{protocol:?}");
        let acked_broadcasts = events
            .iter()
            .filter(|e| matches!(e, Event::BroadcastWithAck { .. }))
            .count();
        assert_eq!(acked_broadcasts, 3);
        assert_eq!(us.stats().server_side_acks_pending, 3);
        assert_eq!(us.stats().remote_acks_pending, 3);
        assert_eq!(us.stats().dropped_table_full, 4);
    }
}

#[test]
fn reserved_server_side_event_names_are_refused_and_nothing_is_published() {
    for protocol in protocols() {
        let mut us = node("USUSUS", &protocol);
        drain_transmits(&mut us);
        for name in SERVER_SIDE_RESERVED_EVENTS {
            assert_eq!(
                us.server_side_emit(vec![Value::from(name), Value::Int(1)]),
                Err(UsageError::ReservedEvent(name.to_owned()))
            );
            assert_eq!(
                us.server_side_emit_with_ack(T0, vec![Value::from(name)]),
                Err(UsageError::ReservedEvent(name.to_owned()))
            );
        }
        assert!(drain_transmits(&mut us).is_empty());
        assert_eq!(us.pending_requests(), 0, "no request was started");
        assert_eq!(
            us.stats().refused_reserved_event,
            2 * SERVER_SIDE_RESERVED_EVENTS.len() as u64
        );
        us.server_side_emit(vec![Value::from("stats")]).unwrap();
        assert_eq!(drain_transmits(&mut us).len(), 1);
    }
}

#[test]
fn what_the_cluster_carries_is_one_depth_and_deeper_is_refused_to_the_sender() {
    for protocol in protocols() {
        let mut us = node("USUSUS", &protocol);
        let mut peer = node("PEER01", &protocol);
        drain_events(&mut peer);
        // 128 levels, the data array included: published, and decoded by the peer.
        let deepest = Packet::event("deep", [nested(127)]);
        us.broadcast(deepest.clone(), &BroadcastOpts::all())
            .unwrap();
        deliver(&mut us, &mut peer, T0);
        let delivered = drain_events(&mut peer)
            .into_iter()
            .find_map(|e| match e {
                Event::Broadcast { packet, .. } => Some(packet),
                _ => None,
            })
            .expect("the deepest carried value arrives");
        assert_eq!(delivered.data, deepest.data, "{protocol:?}");
        assert_eq!(peer.stats().decode_errors, 0);

        // One level more: refused, counted, nothing published.
        let too_deep = Packet::event("deep", [nested(128)]);
        assert_eq!(
            us.broadcast(too_deep.clone(), &BroadcastOpts::all()),
            Err(UsageError::TooDeep {
                limit: Limits::MAX_VALUE_DEPTH
            })
        );
        assert!(
            us.broadcast_with_ack(T0, too_deep, &BroadcastOpts::all(), 1_000)
                .is_err()
        );
        assert!(
            us.server_side_emit(vec![Value::from("e"), nested(128)])
                .is_err()
        );
        assert!(drain_transmits(&mut us).is_empty());
        assert_eq!(us.pending_requests(), 0);
        assert_eq!(us.stats().refused_too_deep, 3);
    }
}

/// A well-formed classic broadcast from `PEER01` whose packet is `packet`.
fn classic_broadcast_with(packet: Value) -> Vec<u8> {
    msgpack::encode(&Value::Array(vec![
        Value::from("PEER01"),
        packet,
        Value::Map(vec![
            ("rooms".into(), Value::Array(vec![])),
            ("except".into(), Value::Array(vec![])),
            ("flags".into(), Value::Map(vec![])),
        ]),
    ]))
}

/// A well-formed sharded broadcast from `PEER01` whose packet is `packet`.
fn sharded_broadcast_with(packet: Value) -> Vec<u8> {
    msgpack::encode(&Value::Map(vec![
        ("uid".into(), Value::from("PEER01")),
        ("nsp".into(), Value::from("/")),
        ("type".into(), Value::Int(3)),
        (
            "data".into(),
            Value::Map(vec![
                ("packet".into(), packet),
                (
                    "opts".into(),
                    Value::Map(vec![
                        ("rooms".into(), Value::Array(vec![])),
                        ("except".into(), Value::Array(vec![])),
                        ("flags".into(), Value::Map(vec![])),
                    ]),
                ),
            ]),
        ),
    ]))
}

fn packet_value(data: Vec<Value>, extra: Option<(&str, Value)>) -> Value {
    let mut entries = vec![
        ("type".to_owned(), Value::Int(2)),
        ("data".to_owned(), Value::Array(data)),
        ("nsp".to_owned(), Value::from("/")),
    ];
    entries.extend(extra.map(|(k, v)| (k.to_owned(), v)));
    Value::Map(entries)
}

#[test]
fn packets_no_client_could_decode_are_counted_and_never_reach_the_host() {
    let mut undecodable = vec![
        ("empty data", packet_value(vec![], None)),
        ("event name null", packet_value(vec![Value::Nil], None)),
        (
            "event name an array",
            packet_value(vec![Value::Array(vec![]), Value::Int(1)], None),
        ),
        (
            "data not an array",
            Value::Map(vec![
                ("type".into(), Value::Int(2)),
                ("data".into(), Value::from("chat message")),
                ("nsp".into(), Value::from("/")),
            ]),
        ),
        (
            "unknown packet type",
            Value::Map(vec![
                ("type".into(), Value::Int(9)),
                ("data".into(), Value::Array(vec![Value::from("e")])),
                ("nsp".into(), Value::from("/")),
            ]),
        ),
        (
            "attachments not a count",
            packet_value(
                vec![Value::from("e")],
                Some(("attachments", Value::from("x"))),
            ),
        ),
    ];
    for name in CLIENT_RESERVED_EVENTS {
        undecodable.push((name, packet_value(vec![Value::from(name)], None)));
    }
    for (protocol, encode) in [
        (
            Protocol::classic(),
            classic_broadcast_with as fn(Value) -> Vec<u8>,
        ),
        (Protocol::sharded(), sharded_broadcast_with),
    ] {
        let mut us = node("USUSUS", &protocol);
        drain_events(&mut us);
        // The broadcast channel of both protocols with Node's defaults.
        let channel = "socket.io#/#";
        for (what, packet) in &undecodable {
            let before = us.stats().decode_errors;
            us.handle_message(T0, channel, &encode(packet.clone()));
            assert_eq!(us.stats().decode_errors, before + 1, "{protocol:?} {what}");
            assert!(drain_events(&mut us).is_empty(), "{protocol:?} {what}");
        }
        // The same envelope with a decodable packet is delivered.
        us.handle_message(
            T0,
            channel,
            &encode(packet_value(vec![Value::from("ok"), Value::Int(1)], None)),
        );
        assert!(matches!(
            drain_events(&mut us).as_slice(),
            [Event::Broadcast { .. }]
        ));
        // A number as event name is what socket.io-parser accepts too.
        us.handle_message(
            T0,
            channel,
            &encode(packet_value(vec![Value::Int(7)], None)),
        );
        assert_eq!(drain_events(&mut us).len(), 1);
    }
}

#[test]
fn a_peer_timeout_of_any_size_keeps_remote_ack_state_at_most_the_cap() {
    for protocol in protocols() {
        let mut peer = node("PEER01", &protocol);
        let mut us = node("USUSUS", &protocol);
        drain_events(&mut us);
        peer.broadcast_with_ack(T0, Packet::event("e", []), &BroadcastOpts::all(), u64::MAX)
            .unwrap();
        deliver(&mut peer, &mut us, T0);
        let timeout = drain_events(&mut us)
            .into_iter()
            .find_map(|e| match e {
                Event::BroadcastWithAck { timeout_ms, .. } => Some(timeout_ms),
                _ => None,
            })
            .expect("delivered");
        assert_eq!(
            timeout,
            Limits::DEFAULT_MAX_REMOTE_TIMEOUT_MS,
            "{protocol:?}"
        );
        let (deadline, _) = us.poll_timeout().expect("the entry is timed");
        assert!(deadline <= T0 + Limits::DEFAULT_MAX_REMOTE_TIMEOUT_MS + 1_000);
        us.handle_timeout(deadline);
        assert_eq!(us.stats().remote_acks_pending, 0);
    }
}

#[test]
fn client_counts_that_would_overflow_saturate_instead_of_panicking() {
    let protocol = Protocol::classic();
    let mut us = node("USUSUS", &protocol);
    drain_events(&mut us);
    let request = us
        .broadcast_with_ack(T0, Packet::event("e", []), &BroadcastOpts::all(), 5_000)
        .unwrap();
    drain_transmits(&mut us);
    let question = drain_events(&mut us)
        .into_iter()
        .find_map(|e| match e {
            Event::Question(crosscast_core::node::Question::ServerCount { id, .. }) => Some(id),
            _ => None,
        })
        .expect("the node asks for the server count");
    us.answer_server_count(T0, question, 4).unwrap();
    let wire_id = format!("USUSUS.{}", request.to_raw());
    // Three servers each claim i64::MAX clients: their sum does not fit a u64.
    for _ in 0..3 {
        let count = ClassicResponse::ClientCount {
            request_id: wire_id.clone(),
            client_count: i64::MAX as u64,
        }
        .encode();
        us.handle_message(T0, "socket.io-response#/#", &count);
    }
    // Still waiting for u64::MAX acks (saturated), so the deadline ends it.
    let (deadline, _) = us.poll_timeout().unwrap();
    us.handle_timeout(deadline + 5_000);
    let completed = drain_events(&mut us)
        .into_iter()
        .find_map(|e| match e {
            Event::Completed(c) => Some(c),
            _ => None,
        })
        .expect("the request completes at its deadline");
    assert!(completed.timed_out, "{completed:?}");
    assert_eq!(
        completed.outcome,
        Outcome::BroadcastAck {
            client_counts: vec![i64::MAX as u64; 3],
            clients: u64::MAX,
            acks: 0
        }
    );
    assert_eq!(completed.missing, u64::MAX);
}

#[test]
fn reserved_server_side_events_of_other_servers_never_reach_the_host() {
    use crosscast_core::classic::RequestBody;
    use crosscast_core::{ClassicRequest, ShardedBody, ShardedMessage};
    for name in SERVER_SIDE_RESERVED_EVENTS {
        let data = vec![Value::from(name), Value::Int(1)];
        let classic = ClassicRequest {
            uid: Some("PEER01".into()),
            request_id: None,
            body: RequestBody::ServerSideEmit { data: data.clone() },
        }
        .encode();
        let mut us = node("USUSUS", &Protocol::classic());
        drain_events(&mut us);
        us.handle_message(T0, "socket.io-request#/#", &classic);
        assert!(drain_events(&mut us).is_empty(), "classic {name}");
        assert_eq!(us.stats().refused_reserved_event, 1);

        let sharded = ShardedMessage {
            uid: "PEER01".into(),
            nsp: "/".into(),
            body: ShardedBody::ServerSideEmit {
                request_id: Some("PEER01.1".into()),
                packet: data,
            },
        }
        .encode();
        let mut us = node("USUSUS", &Protocol::sharded());
        drain_events(&mut us);
        us.handle_message(T0, "socket.io#/#", &sharded);
        assert!(drain_events(&mut us).is_empty(), "sharded {name}");
        assert_eq!(us.stats().server_side_acks_pending, 0);
        assert_eq!(us.stats().refused_reserved_event, 1);
    }
}

#[test]
fn undecodable_packets_on_a_sharded_room_channel_are_counted_too() {
    let mut us = node("USUSUS", &Protocol::sharded());
    us.handle_room_added(&crosscast_core::Room::from("lobby"));
    drain_events(&mut us);
    us.handle_message(
        T0,
        "socket.io#/#lobby#",
        &sharded_broadcast_with(packet_value(vec![], None)),
    );
    assert_eq!(us.stats().decode_errors, 1, "{:?}", us.stats());
    assert!(drain_events(&mut us).is_empty());
}

#[test]
fn the_emitter_refuses_what_a_node_receiver_would_replay_or_could_not_decode() {
    use crosscast_core::emitter::Emitter;
    let emitter = Emitter::new("socket.io", "/");
    for name in SERVER_SIDE_RESERVED_EVENTS {
        assert!(emitter.server_side_emit(name, vec![]).is_err(), "{name}");
    }
    assert!(emitter.server_side_emit("stats", vec![]).is_ok());
    assert_eq!(
        emitter
            .broadcast(&BroadcastOpts::all(), "deep", vec![nested(128)])
            .map(drop),
        Err(UsageError::TooDeep {
            limit: Limits::MAX_VALUE_DEPTH
        })
    );
    assert!(
        emitter
            .broadcast(&BroadcastOpts::all(), "deep", vec![nested(127)])
            .is_ok()
    );
}

#[test]
fn heartbeats_of_ever_new_uids_fill_the_member_table_only_to_its_bound() {
    let mut config = NodeConfig::new("USUSUS", "/", Protocol::sharded());
    config.limits.max_pending = 8;
    let mut us = Node::new(config, T0).unwrap();
    drain_events(&mut us);
    for i in 0..100 {
        // A peer with membership on announces itself when it starts.
        let peer_config = NodeConfig::new(format!("PEER{i:04}"), "/", Protocol::sharded());
        let mut peer = Node::new(peer_config, T0).unwrap();
        deliver(&mut peer, &mut us, T0);
    }
    assert_eq!(us.peers().len(), 8);
    assert_eq!(us.stats().dropped_table_full, 92);
    // The tracked ones expire with their heartbeats; room is made for others.
    us.handle_timeout(T0 + 10_000);
    assert!(us.peers().is_empty());
}

#[test]
fn a_full_question_table_drops_further_peer_requests_and_counts_them() {
    for protocol in protocols() {
        let mut peer = node("PEER01", &protocol);
        let mut config = config("USUSUS", &protocol);
        config.limits.max_pending = 3;
        let mut us = Node::new(config, T0).unwrap();
        drain_events(&mut us);
        // Each fetchSockets of the peer is a question to our host.
        for _ in 0..5 {
            peer.fetch_sockets(T0, &BroadcastOpts::all());
        }
        deliver(&mut peer, &mut us, T0);
        let asked = drain_events(&mut us)
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::Question(crosscast_core::node::Question::LocalSockets { .. })
                )
            })
            .count();
        assert_eq!(asked, 3, "{protocol:?}");
        assert_eq!(us.stats().questions_pending, 3);
        assert_eq!(us.stats().dropped_table_full, 2);
        // The questions expire with the requests timeout; the table empties.
        us.handle_timeout(T0 + 60_000);
        assert_eq!(us.stats().questions_pending, 0);
    }
}
