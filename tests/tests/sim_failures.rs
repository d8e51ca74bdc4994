//! Failures on the simulated cluster, in both protocols: dead and hung peers,
//! lost and late responses, restarts with a new uid, messages from a newer
//! protocol version, garbage, and a lossy, duplicating, reordering bus.

use crosscast_core::node::{Outcome, Protocol, PublishKind, RequestId};
use crosscast_core::{BroadcastOpts, Value};
use crosscast_tests::sim::{Cluster, Faults, Wire};

fn protocols() -> [(&'static str, Protocol); 2] {
    [
        ("classic", Protocol::classic()),
        ("sharded", Protocol::sharded()),
    ]
}

fn cluster(protocol: Protocol) -> Cluster {
    let mut c = Cluster::new(3, protocol, 11);
    c.connect(0, "a0", &[]);
    c.connect(1, "b0", &[]);
    c.connect(2, "c0", &[]);
    c.run_for(100);
    c
}

fn fetched(c: &Cluster, i: usize, id: RequestId) -> (Vec<String>, u64, bool) {
    let done = c.completion(i, id).expect("completed");
    let Outcome::Fetch(sockets) = &done.outcome else {
        panic!("{done:?}")
    };
    let mut ids: Vec<String> = sockets.iter().map(|s| s.id.clone()).collect();
    ids.sort();
    (ids, done.missing, done.timed_out)
}

/// Whether a delivery is a response of node `from` (a message on a response or
/// private channel).
fn is_response_from(w: &Wire, from: usize) -> bool {
    w.from == from
        && (w.channel.contains("-response#")
            || w.channel.matches('#').count() == 3 && !w.channel.ends_with("#/#"))
}

#[test]
fn a_peer_killed_mid_request_ends_it_early_with_the_partial_result() {
    for (name, protocol) in protocols() {
        let mut c = cluster(protocol);
        c.faults.delay_ms = (20, 20);
        let id = c.fetch_sockets(0, BroadcastOpts::all());
        c.run_for(10);
        c.kill(2); // before the request reaches it; its subscriptions vanish
        c.run_for(1500);
        let (ids, missing, timed_out) = fetched(&c, 0, id);
        assert_eq!(ids, vec!["b0"], "{name}");
        assert_eq!(
            (missing, timed_out),
            (1, false),
            "{name}: partial, not timed out"
        );
        assert_eq!(c.hosts[0].node.stats().requests_partial, 1, "{name}");
        assert_eq!(c.hosts[0].node.stats().requests_timed_out, 0, "{name}");
    }
}

#[test]
fn a_hung_crosscast_peer_is_noticed_by_its_silence_in_sharded_mode() {
    // A hung peer keeps its Redis connection, so the server count still counts
    // it; its stopped heartbeats are what tells it is gone. Sharded responses
    // carry the responder's uid, so the node knows it never answered.
    let mut c = cluster(Protocol::sharded());
    let id = c.fetch_sockets(0, BroadcastOpts::all());
    c.isolate(2, 1);
    c.run_for(4500);
    let (ids, missing, timed_out) = fetched(&c, 0, id);
    assert_eq!(ids, vec!["b0"]);
    assert_eq!(
        (missing, timed_out),
        (1, false),
        "completed before the 5 s timeout"
    );
    assert!(
        c.hosts[0].peer_log.contains(&"down n2g0".to_owned()),
        "{:?}",
        c.hosts[0].peer_log
    );
}

#[test]
fn a_hung_peer_in_classic_mode_is_waited_for_until_the_deadline() {
    // Classic responses carry no uid: with the hung peer still subscribed, the
    // node cannot know whether it answered, so it keeps Node's behaviour.
    let mut c = cluster(Protocol::classic());
    let id = c.fetch_sockets(0, BroadcastOpts::all());
    c.isolate(2, 1);
    c.run_for(4900);
    assert!(c.completion(0, id).is_none());
    c.run_for(200);
    assert_eq!(fetched(&c, 0, id), (vec!["b0".to_owned()], 1, true));
}

#[test]
fn a_lost_response_ends_the_request_at_its_deadline_with_what_arrived() {
    for (name, protocol) in protocols() {
        let mut c = cluster(protocol);
        c.drop_rules
            .push(Box::new(|w: &Wire| is_response_from(w, 2)));
        let id = c.fetch_sockets(0, BroadcastOpts::all());
        c.run_for(4990);
        assert!(
            c.completion(0, id).is_none(),
            "{name}: no early end, node 2 is alive"
        );
        c.run_for(20);
        assert_eq!(
            fetched(&c, 0, id),
            (vec!["b0".to_owned()], 1, true),
            "{name}"
        );
        assert_eq!(c.hosts[0].node.stats().requests_timed_out, 1, "{name}");
    }
}

#[test]
fn a_response_after_the_deadline_is_dropped_and_counted() {
    for (name, protocol) in protocols() {
        let mut c = cluster(protocol);
        c.delay_rules.push(Box::new(
            |w: &Wire| if is_response_from(w, 2) { 6000 } else { 0 },
        ));
        let id = c.server_side_emit_with_ack(0, "stats", vec![]);
        c.run_for(5100);
        let done = c.completion(0, id).expect("completed").clone();
        assert_eq!(
            done.outcome,
            Outcome::ServerSideEmit(vec![Value::from("ack from 1")]),
            "{name}"
        );
        assert!(done.timed_out, "{name}");
        assert_eq!(c.hosts[0].node.stats().late_responses, 0, "{name}");
        c.run_for(2000);
        assert_eq!(
            c.hosts[0].node.stats().late_responses,
            1,
            "{name}: the late answer was seen"
        );
        assert_eq!(
            c.completion(0, id),
            Some(&done),
            "{name}: and changed nothing"
        );
    }
}

#[test]
fn a_peer_restarting_with_a_new_uid_leaves_and_joins_again() {
    for (name, protocol) in protocols() {
        let mut c = cluster(protocol);
        assert!(
            c.hosts[0].peer_log.contains(&"up n2g0".to_owned()),
            "{name}: {:?}",
            c.hosts[0].peer_log
        );
        c.kill(2);
        c.restart(2);
        c.connect(2, "c1", &[]);
        c.run_for(100);
        assert!(
            c.hosts[0].peer_log.contains(&"up n2g1".to_owned()),
            "{name}: the new uid is heard at once"
        );
        c.run_for(4000);
        assert!(
            c.hosts[0].peer_log.contains(&"down n2g0".to_owned()),
            "{name}: the old uid goes silent"
        );
        let id = c.fetch_sockets(0, BroadcastOpts::all());
        c.run_for(50);
        assert_eq!(
            fetched(&c, 0, id),
            (vec!["b0".to_owned(), "c1".to_owned()], 0, false),
            "{name}"
        );
        c.broadcast(2, "back", vec![], BroadcastOpts::all());
        c.run_for(50);
        assert_eq!(c.received("a0"), vec![vec![Value::from("back")]], "{name}");
    }
}

#[test]
fn a_closing_crosscast_peer_is_dropped_at_once() {
    for (name, protocol) in protocols() {
        let mut c = cluster(protocol);
        let now = c.now;
        c.hosts[2].node.close(now);
        // Drain the close through the cluster by running a tiny step.
        c.broadcast(2, "after close", vec![], BroadcastOpts::all());
        c.run_for(20);
        assert!(
            c.hosts[0]
                .peer_log
                .contains(&"down n2g0 (closed)".to_owned()),
            "{name}: {:?}",
            c.hosts[0].peer_log
        );
        assert!(
            c.received("a0").is_empty(),
            "{name}: a closed node publishes nothing"
        );
    }
}

#[test]
fn messages_of_a_newer_protocol_version_are_tolerated() {
    let mut c = cluster(Protocol::sharded());
    // A known type with unknown fields is applied; an unknown type is ignored.
    let extra = br#"{"type":3,"data":{"packet":{"type":2,"data":["future"],"v":9},"opts":{"rooms":[],"except":[],"flags":{"priority":5}},"trace":"x"},"uid":"futurefuturefutu","nsp":"/","version":2}"#;
    c.inject(PublishKind::SPublish, "socket.io#/#", extra.to_vec());
    c.inject(
        PublishKind::SPublish,
        "socket.io#/#",
        br#"{"type":42,"data":{"x":1},"uid":"futurefuturefutu","nsp":"/"}"#.to_vec(),
    );
    c.run_for(20);
    assert_eq!(c.received("a0"), vec![vec![Value::from("future")]]);
    assert_eq!(c.hosts[0].node.stats().ignored_unknown_type, 1);
    assert_eq!(c.hosts[0].node.stats().decode_errors, 0);

    let mut c = cluster(Protocol::classic());
    let request = br#"{"uid":"future","requestId":"f1","type":42,"future":true}"#;
    c.inject(
        PublishKind::Publish,
        "socket.io-request#/#",
        request.to_vec(),
    );
    let mut broadcast = vec![0x94, 0xa6];
    broadcast.extend_from_slice(b"future");
    // packet {type:2, data:["new", <ext 7>], nsp:"/", extra:1}, opts {rooms:[],except:[],flags:{}}, 4th element
    broadcast.extend_from_slice(&[0x84, 0xa4]);
    broadcast.extend_from_slice(b"type");
    broadcast.extend_from_slice(&[0x02, 0xa4]);
    broadcast.extend_from_slice(b"data");
    broadcast.extend_from_slice(&[0x92, 0xa3]);
    broadcast.extend_from_slice(b"new");
    broadcast.extend_from_slice(&[0xd4, 0x07, 0x01, 0xa3]);
    broadcast.extend_from_slice(b"nsp");
    broadcast.extend_from_slice(&[0xa1, b'/', 0xa5]);
    broadcast.extend_from_slice(b"extra");
    broadcast.extend_from_slice(&[0x01, 0x80, 0xc0]);
    c.inject(PublishKind::Publish, "socket.io#/#", broadcast);
    c.run_for(20);
    assert_eq!(
        c.received("b0"),
        vec![vec![Value::from("new"), Value::Ext(7, vec![1])]]
    );
    assert_eq!(c.hosts[1].node.stats().ignored_unknown_type, 1);
}

#[test]
fn garbage_on_every_channel_is_counted_and_the_node_keeps_serving() {
    for (name, protocol) in protocols() {
        let mut c = cluster(protocol.clone());
        let (kind, channels): (PublishKind, &[&str]) = match protocol {
            Protocol::Classic { .. } => (
                PublishKind::Publish,
                &[
                    "socket.io#/#",
                    "socket.io#/#room#",
                    "socket.io-request#/#",
                    "socket.io-response#/#",
                    "socket.io-response#/#n0g0#",
                    "socket.io-crosscast#/#",
                ],
            ),
            _ => (
                PublishKind::SPublish,
                &["socket.io#/#", "socket.io#/#n0g0#"],
            ),
        };
        let garbage: [&[u8]; 6] = [
            b"",
            b"\xc1",
            b"{not json",
            b"\x93\xa1x",
            b"\xdd\xff\xff\xff\xff",
            b"[1,2,3]",
        ];
        for channel in channels {
            for g in garbage {
                c.inject(kind, channel, g.to_vec());
            }
        }
        c.run_for(20);
        let errors = c.hosts[0].node.stats().decode_errors;
        assert!(errors >= channels.len() as u64 * 5, "{name}: {errors}");
        c.broadcast(1, "still alive", vec![], BroadcastOpts::all());
        let id = c.fetch_sockets(0, BroadcastOpts::all());
        c.run_for(50);
        assert_eq!(
            c.received("a0"),
            vec![vec![Value::from("still alive")]],
            "{name}"
        );
        assert_eq!(
            fetched(&c, 0, id),
            (vec!["b0".to_owned(), "c0".to_owned()], 0, false),
            "{name}"
        );
    }
}

#[test]
fn requests_complete_or_time_out_on_a_lossy_duplicating_reordering_bus() {
    for (name, protocol) in protocols() {
        for seed in 0..20 {
            let mut c = Cluster::new(4, protocol.clone(), seed);
            for i in 0..4 {
                c.connect(i, &format!("s{i}"), &[]);
            }
            c.faults = Faults {
                delay_ms: (1, 80),
                loss: 0.05,
                duplicate: 0.05,
            };
            c.run_for(200);
            let ids: Vec<RequestId> = (0..5)
                .map(|_| c.fetch_sockets(0, BroadcastOpts::all()))
                .collect();
            let sse = c.server_side_emit_with_ack(1, "x", vec![]);
            c.run_for(6000);
            for id in ids {
                let (found, missing, timed_out) = fetched(&c, 0, id);
                let mut unique = found.clone();
                unique.dedup();
                if matches!(protocol, Protocol::Sharded { .. }) {
                    assert_eq!(
                        unique, found,
                        "{name}/{seed}: a duplicate answer is counted once"
                    );
                }
                assert!(
                    timed_out || missing == 0 || found.len() < 3,
                    "{name}/{seed}"
                );
                assert!(
                    found
                        .iter()
                        .all(|s| ["s1", "s2", "s3"].contains(&s.as_str())),
                    "{name}/{seed}: {found:?}"
                );
            }
            assert!(
                c.completion(1, sse).is_some(),
                "{name}/{seed}: no request waits forever"
            );
            assert_eq!(c.hosts[0].node.pending_requests(), 0, "{name}/{seed}");
        }
    }
}
