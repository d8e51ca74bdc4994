//! What a request's completion tells its host: the node picks the request
//! behind `rooms`, counts the servers, and words the error of a timeout, so
//! that no host does cluster arithmetic or composes a message of its own.
//!
//! Transcripts: node A asks a cluster of three (A and two peers); peer B
//! answers, peer C is silent; A's completion is read.

#![allow(clippy::unwrap_used)]

use crosscast_core::node::{Completion, Event, Outcome, Question, RequestId, Transmit};
use crosscast_core::{
    BroadcastOpts, ClassicRequest, Limits, Node, NodeConfig, Packet, Protocol, ShardedMessage,
    SocketInfo, Time, Value,
};

const T0: Time = Time::from_millis(1_000);
const TIMEOUT_MS: u64 = 5_000;

fn node(uid: &str, protocol: &Protocol) -> Node {
    let mut config = NodeConfig::new(uid, "/", protocol.clone());
    config.heartbeat_interval_ms = 0;
    config.requests_timeout_ms = TIMEOUT_MS;
    Node::new(config, T0).unwrap()
}

fn drain_transmits(node: &mut Node) -> Vec<Transmit> {
    std::iter::from_fn(|| node.poll_transmit()).collect()
}

fn drain_events(node: &mut Node) -> Vec<Event> {
    std::iter::from_fn(|| node.poll_event()).collect()
}

/// A and B, their start-up outputs drained.
fn pair(protocol: &Protocol) -> (Node, Node) {
    let mut a = node("AAAAAA", protocol);
    let mut b = node("BBBBBB", protocol);
    drain_events(&mut a);
    drain_transmits(&mut b);
    drain_events(&mut b);
    (a, b)
}

/// A asks; the host of A says the cluster has `servers` servers.
fn answer_server_count(a: &mut Node, servers: u64) {
    for event in drain_events(a) {
        if let Event::Question(Question::ServerCount { id, .. }) = event {
            a.answer_server_count(T0, id, servers).unwrap();
        }
    }
}

/// B answers every question and event of what A published: one socket in
/// `lobby` and `b-room`, a server-side ack of `"from-b"`, one client that acks.
fn b_answers(a: &mut Node, b: &mut Node) {
    for t in drain_transmits(a) {
        b.handle_message(T0, &t.channel, &t.payload);
    }
    for event in drain_events(b) {
        match event {
            Event::Question(Question::LocalSockets { id, .. }) => {
                let socket = SocketInfo {
                    id: "sid-of-b".into(),
                    handshake: None,
                    rooms: vec!["sid-of-b".into(), "lobby".into(), "b-room".into()],
                    data: None,
                };
                b.answer_local_sockets(T0, id, vec![socket]).unwrap();
            }
            Event::Question(Question::LocalRooms { id }) => {
                let rooms = vec!["sid-of-b".into(), "lobby".into(), "b-room".into()];
                b.answer_local_rooms(T0, id, rooms).unwrap();
            }
            Event::ServerSideEmit { ack: Some(ack), .. } => {
                b.handle_server_side_ack(T0, ack, Some(Value::from("from-b")))
                    .unwrap();
            }
            Event::BroadcastWithAck { ack, .. } => {
                b.handle_remote_client_count(T0, ack, 1).unwrap();
                b.handle_remote_ack(T0, ack, Value::from("ack-of-b"))
                    .unwrap();
            }
            _ => {}
        }
    }
    for t in drain_transmits(b) {
        a.handle_message(T0, &t.channel, &t.payload);
    }
}

fn completion(a: &mut Node, request: RequestId) -> Option<Completion> {
    drain_events(a).into_iter().find_map(|e| match e {
        Event::Completed(c) if c.request == request => Some(c),
        _ => None,
    })
}

/// A's request `start` with B answering and C silent, run to its deadline.
fn timed_out(protocol: &Protocol, start: impl FnOnce(&mut Node) -> RequestId) -> Completion {
    let (mut a, mut b) = pair(protocol);
    let request = start(&mut a);
    answer_server_count(&mut a, 3);
    b_answers(&mut a, &mut b);
    assert_eq!(completion(&mut a, request), None, "C has not answered yet");
    a.handle_timeout(T0 + TIMEOUT_MS);
    completion(&mut a, request).expect("the deadline ends the request")
}

#[test]
fn a_fetch_without_every_answer_fails_with_the_official_adapters_words() {
    for (protocol, error) in [
        (
            Protocol::classic(),
            "timeout reached while waiting for fetchSockets response",
        ),
        (
            Protocol::sharded(),
            "timeout reached: only 1 responses received out of 2",
        ),
    ] {
        let done = timed_out(&protocol, |a| a.fetch_sockets(T0, &BroadcastOpts::all()));
        assert!(done.timed_out);
        assert_eq!(done.error.as_deref(), Some(error), "{protocol:?}");
        assert_eq!((done.servers_answered, done.servers_expected), (1, 2));
        assert_eq!(done.missing, 1);
        let Outcome::Fetch(sockets) = done.outcome else {
            panic!("{protocol:?}: {:?}", done.outcome)
        };
        assert_eq!(sockets.len(), 1, "what arrived is kept beside the error");
    }
}

#[test]
fn a_server_side_emit_without_every_ack_fails_and_keeps_the_acks_that_came() {
    for protocol in [Protocol::classic(), Protocol::sharded()] {
        let done = timed_out(&protocol, |a| {
            a.server_side_emit_with_ack(T0, vec![Value::from("ping")])
                .unwrap()
        });
        assert_eq!(
            done.error.as_deref(),
            Some("timeout reached: only 1 responses received out of 2"),
            "{protocol:?}"
        );
        assert_eq!(
            done.outcome,
            Outcome::ServerSideEmit(vec![Value::from("from-b")])
        );
    }
}

#[test]
fn rooms_without_every_answer_fails_in_both_protocols() {
    for protocol in [Protocol::classic(), Protocol::sharded()] {
        let done = timed_out(&protocol, |a| a.rooms(T0, &BroadcastOpts::all()));
        assert_eq!(
            done.error.as_deref(),
            Some("timeout reached while waiting for allRooms response"),
            "{protocol:?}"
        );
    }
}

#[test]
fn a_request_every_server_answers_has_no_error() {
    for protocol in [Protocol::classic(), Protocol::sharded()] {
        let (mut a, mut b) = pair(&protocol);
        let request = a.fetch_sockets(T0, &BroadcastOpts::all());
        answer_server_count(&mut a, 2);
        b_answers(&mut a, &mut b);
        let done = completion(&mut a, request).expect("B was the only peer");
        assert!(!done.timed_out);
        assert_eq!(done.error, None, "{protocol:?}");
        assert_eq!((done.servers_answered, done.servers_expected), (1, 1));
    }
}

/// The request behind `rooms(opts)`, read off the wire: its type number.
fn rooms_request_type(protocol: &Protocol, opts: &BroadcastOpts) -> u64 {
    let mut a = node("AAAAAA", protocol);
    drain_transmits(&mut a);
    a.rooms(T0, opts);
    let sent = drain_transmits(&mut a);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let limits = Limits::default();
    match protocol {
        Protocol::Classic { .. } => {
            let request = ClassicRequest::decode(&sent[0].payload, &limits).unwrap();
            u64::try_from(request.type_number()).unwrap()
        }
        _ => ShardedMessage::decode(&sent[0].payload, &limits)
            .unwrap()
            .body
            .type_number(),
    }
}

#[test]
fn the_node_picks_the_request_behind_rooms() {
    let lobby = BroadcastOpts::to_rooms(["lobby"]);
    // Classic: allRooms (1) for every socket, fetchSockets (5) for a filter.
    assert_eq!(
        rooms_request_type(&Protocol::classic(), &BroadcastOpts::all()),
        1
    );
    assert_eq!(rooms_request_type(&Protocol::classic(), &lobby), 5);
    // Sharded has no allRooms message: always FETCH_SOCKETS (7).
    assert_eq!(
        rooms_request_type(&Protocol::sharded(), &BroadcastOpts::all()),
        7
    );
    assert_eq!(rooms_request_type(&Protocol::sharded(), &lobby), 7);
}

#[test]
fn rooms_is_the_union_of_the_rooms_whichever_request_carried_it() {
    for protocol in [Protocol::classic(), Protocol::sharded()] {
        for opts in [BroadcastOpts::all(), BroadcastOpts::to_rooms(["lobby"])] {
            let (mut a, mut b) = pair(&protocol);
            let request = a.rooms(T0, &opts);
            answer_server_count(&mut a, 2);
            b_answers(&mut a, &mut b);
            let done = completion(&mut a, request).expect("B answered");
            assert_eq!(
                done.outcome,
                Outcome::AllRooms(vec!["b-room".into(), "lobby".into(), "sid-of-b".into()]),
                "{protocol:?} {opts:?}"
            );
        }
    }
}

#[test]
fn a_broadcast_with_acks_reports_each_servers_client_count() {
    for protocol in [Protocol::classic(), Protocol::sharded()] {
        let (mut a, mut b) = pair(&protocol);
        let request = a
            .broadcast_with_ack(T0, Packet::event("ask", []), &BroadcastOpts::all(), 1_000)
            .unwrap();
        answer_server_count(&mut a, 2);
        b_answers(&mut a, &mut b);
        let done = completion(&mut a, request).expect("B counted and acked");
        assert_eq!(
            done.outcome,
            Outcome::BroadcastAck {
                client_counts: vec![1],
                clients: 1,
                acks: 1
            },
            "{protocol:?}"
        );
        // socket.io words this timeout itself: the node never does.
        assert_eq!(done.error, None);
    }
}

#[test]
fn acks_beyond_the_clients_a_peer_counted_are_dropped_and_counted() {
    for protocol in [Protocol::classic(), Protocol::sharded()] {
        let (mut a, mut b) = pair(&protocol);
        // A long timeout: the request stays open while B's flood arrives.
        let request = a
            .broadcast_with_ack(T0, Packet::event("ask", []), &BroadcastOpts::all(), 60_000)
            .unwrap();
        answer_server_count(&mut a, 3);
        for t in drain_transmits(&mut a) {
            b.handle_message(T0, &t.channel, &t.payload);
        }
        // B says it reached 2 clients, then sends 1,000 acks.
        let ack = drain_events(&mut b)
            .into_iter()
            .find_map(|e| match e {
                Event::BroadcastWithAck { ack, .. } => Some(ack),
                _ => None,
            })
            .expect("B delivers the broadcast");
        b.handle_remote_client_count(T0, ack, 2).unwrap();
        for n in 0..1_000 {
            b.handle_remote_ack(T0, ack, Value::Int(n)).unwrap();
        }
        for t in drain_transmits(&mut b) {
            a.handle_message(T0, &t.channel, &t.payload);
        }
        let acks: Vec<Value> = drain_events(&mut a)
            .into_iter()
            .filter_map(|e| match e {
                Event::AckReceived { request: r, value } if r == request => Some(value),
                _ => None,
            })
            .collect();
        assert_eq!(acks, vec![Value::Int(0), Value::Int(1)], "{protocol:?}");
        assert_eq!(a.stats().dropped_excess_acks, 998, "{protocol:?}");
    }
}
