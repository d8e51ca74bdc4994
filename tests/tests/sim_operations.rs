//! Every cluster operation, in both protocols, on a simulated three-node cluster:
//! transcripts of who must receive what.

use crosscast_core::node::{Outcome, Protocol};
use crosscast_core::{BroadcastOpts, Room, Value};
use crosscast_tests::sim::Cluster;

fn protocols() -> [(&'static str, Protocol); 2] {
    [
        ("classic", Protocol::classic()),
        ("sharded", Protocol::sharded()),
    ]
}

/// Three nodes; a0 and a1 on node 0, b0 on node 1 (in room1), c0 on node 2 (in room1, room2).
fn three_nodes(protocol: Protocol) -> Cluster {
    let mut c = Cluster::new(3, protocol, 7);
    c.connect(0, "a0", &[]);
    c.connect(0, "a1", &["room2"]);
    c.connect(1, "b0", &["room1"]);
    c.connect(2, "c0", &["room1", "room2"]);
    c.run_for(50);
    c
}

fn got(c: &Cluster, sid: &str) -> Vec<String> {
    c.received(sid)
        .iter()
        .map(|data| {
            data.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn a_broadcast_to_all_reaches_every_socket_of_the_cluster_once() {
    for (name, protocol) in protocols() {
        let mut c = three_nodes(protocol);
        c.broadcast(
            0,
            "chat message",
            vec![Value::from("hi")],
            BroadcastOpts::all(),
        );
        c.run_for(20);
        for sid in ["a0", "a1", "b0", "c0"] {
            assert_eq!(
                got(&c, sid),
                vec![r#""chat message" "hi""#],
                "{name}: {sid}"
            );
        }
    }
}

#[test]
fn a_broadcast_to_a_room_reaches_only_its_members_and_except_excludes() {
    for (name, protocol) in protocols() {
        let mut c = three_nodes(protocol);
        c.broadcast(1, "r1", vec![], BroadcastOpts::to_rooms(["room1"]));
        c.broadcast(
            1,
            "r2-not-c0",
            vec![],
            BroadcastOpts::to_rooms(["room2"]).except(["c0"]),
        );
        c.broadcast(
            2,
            "not-room1",
            vec![],
            BroadcastOpts::all().except(["room1"]),
        );
        c.broadcast(
            0,
            "to-b0",
            vec![Value::Bin(vec![1, 2, 3])],
            BroadcastOpts::to_rooms(["b0"]),
        );
        c.run_for(20);
        assert_eq!(got(&c, "a0"), vec![r#""not-room1""#], "{name}");
        assert_eq!(
            got(&c, "a1"),
            vec![r#""r2-not-c0""#, r#""not-room1""#],
            "{name}"
        );
        assert_eq!(
            got(&c, "b0"),
            vec![r#""r1""#, r#""to-b0" {"type":"Buffer","data":[1,2,3]}"#],
            "{name}"
        );
        assert_eq!(got(&c, "c0"), vec![r#""r1""#], "{name}");
        let bin = &c.received("b0")[1][1];
        assert_eq!(bin, &Value::Bin(vec![1, 2, 3]), "{name}: binary survives");
    }
}

#[test]
fn sharded_dynamic_mode_publishes_single_room_broadcasts_on_the_room_channel() {
    let mut c = three_nodes(Protocol::sharded());
    c.broadcast(1, "r1", vec![], BroadcastOpts::to_rooms(["room1"]));
    let (_, channel, _) = c.published.last().expect("published");
    assert_eq!(channel, "socket.io#/#room1#");
    c.run_for(20);
    // Only subscribers of room1's channel hear it: node 0 has no room1 and is
    // not subscribed, so it never receives the message at all.
    let heard_by_0 = c.hosts[0].node.stats().received;
    c.run_for(20);
    assert_eq!(c.hosts[0].node.stats().received, heard_by_0);
    assert_eq!(got(&c, "c0"), vec![r#""r1""#]);
    assert!(got(&c, "a0").is_empty());
}

#[test]
fn broadcast_with_acks_collects_every_remote_client_ack() {
    for (name, protocol) in protocols() {
        let mut c = three_nodes(protocol);
        let id = c.broadcast_with_ack(0, "ask", BroadcastOpts::all(), 1000);
        c.run_for(50);
        let done = c.completion(0, id).expect("completed");
        assert_eq!(
            done.outcome,
            Outcome::BroadcastAck {
                client_counts: vec![1, 1],
                clients: 2,
                acks: 2
            },
            "{name}"
        );
        assert_eq!((done.missing, done.timed_out), (0, false), "{name}");
        let mut acks: Vec<String> = c.hosts[0].acks.iter().map(|(_, v)| v.to_string()).collect();
        acks.sort();
        assert_eq!(acks, vec![r#""ack b0""#, r#""ack c0""#], "{name}");
        assert_eq!(got(&c, "b0"), vec![r#""ask""#], "{name}");
    }
}

#[test]
fn broadcast_with_acks_times_out_when_a_client_never_acks() {
    for (name, protocol) in protocols() {
        let mut c = three_nodes(protocol);
        c.hosts[2].sockets.get_mut("c0").expect("c0").ack_with = None;
        let id = c.broadcast_with_ack(0, "ask", BroadcastOpts::to_rooms(["room1"]), 300);
        c.run_for(250);
        assert!(
            c.completion(0, id).is_none(),
            "{name}: still waiting for c0"
        );
        c.run_for(100);
        let done = c.completion(0, id).expect("completed at the timeout");
        assert_eq!(
            done.outcome,
            Outcome::BroadcastAck {
                client_counts: vec![1, 1],
                clients: 2,
                acks: 1
            },
            "{name}"
        );
        assert_eq!((done.missing, done.timed_out), (1, true), "{name}");
    }
}

#[test]
fn fetch_sockets_returns_the_remote_sockets_matching_the_options() {
    for (name, protocol) in protocols() {
        let mut c = three_nodes(protocol);
        let all = c.fetch_sockets(0, BroadcastOpts::all());
        let room1 = c.fetch_sockets(2, BroadcastOpts::to_rooms(["room1"]));
        c.run_for(50);
        let ids = |outcome: &Outcome| match outcome {
            Outcome::Fetch(sockets) => {
                let mut ids: Vec<String> = sockets.iter().map(|s| s.id.clone()).collect();
                ids.sort();
                ids
            }
            other => panic!("{other:?}"),
        };
        let done = c.completion(0, all).expect("fetch completed");
        assert_eq!(ids(&done.outcome), vec!["b0", "c0"], "{name}");
        assert_eq!((done.missing, done.timed_out), (0, false), "{name}");
        let done = c.completion(2, room1).expect("fetch completed");
        assert_eq!(ids(&done.outcome), vec!["b0"], "{name}");
        if let Outcome::Fetch(sockets) = &done.outcome {
            assert_eq!(
                sockets[0].data,
                Some(Value::map([("user", Value::from("b0"))]))
            );
            assert!(sockets[0].rooms.contains(&Room::from("room1")));
        }
    }
}

#[test]
fn remote_join_leave_and_disconnect_apply_on_every_server() {
    for (name, protocol) in protocols() {
        let mut c = three_nodes(protocol);
        c.sockets_join(0, BroadcastOpts::to_rooms(["room1"]), &["vip"]);
        c.run_for(20);
        for sid in ["b0", "c0"] {
            assert!(
                c.socket(sid).expect(sid).rooms.contains(&Room::from("vip")),
                "{name}: {sid} joined"
            );
        }
        assert!(
            !c.socket("a0")
                .expect("a0")
                .rooms
                .contains(&Room::from("vip")),
            "{name}"
        );
        c.broadcast(0, "to vip", vec![], BroadcastOpts::to_rooms(["vip"]));
        c.run_for(20);
        assert_eq!(
            got(&c, "c0"),
            vec![r#""to vip""#],
            "{name}: the new room is live"
        );
        c.sockets_leave(1, BroadcastOpts::all(), &["vip"]);
        c.run_for(20);
        assert!(
            !c.socket("c0")
                .expect("c0")
                .rooms
                .contains(&Room::from("vip")),
            "{name}: left"
        );
        c.disconnect_sockets(2, BroadcastOpts::to_rooms(["room2"]), true);
        c.run_for(20);
        assert!(
            c.socket("a1").expect("a1").disconnected,
            "{name}: remote disconnect"
        );
        assert!(
            c.socket("c0").expect("c0").disconnected,
            "{name}: local disconnect"
        );
        assert!(!c.socket("b0").expect("b0").disconnected, "{name}");
    }
}

#[test]
fn server_side_emit_reaches_every_other_server_and_acks_come_back() {
    for (name, protocol) in protocols() {
        let mut c = three_nodes(protocol);
        c.server_side_emit(1, "hello", vec![Value::from(1)]);
        let id = c.server_side_emit_with_ack(1, "stats", vec![]);
        c.run_for(50);
        assert!(c.hosts[1].server_events.is_empty(), "{name}: not to itself");
        for i in [0, 2] {
            assert_eq!(
                c.hosts[i].server_events,
                vec![
                    vec![Value::from("hello"), Value::from(1)],
                    vec![Value::from("stats")]
                ],
                "{name}: node {i}"
            );
        }
        let done = c.completion(1, id).expect("completed");
        let Outcome::ServerSideEmit(mut values) = done.outcome.clone() else {
            panic!("{done:?}")
        };
        values.sort_by_key(|v| v.to_string());
        assert_eq!(
            values,
            vec![Value::from("ack from 0"), Value::from("ack from 2")],
            "{name}"
        );
        assert_eq!(done.missing, 0);
    }
}

#[test]
fn all_rooms_and_server_count() {
    for (name, protocol) in protocols() {
        let mut c = three_nodes(protocol.clone());
        let count = c.server_count(0);
        let rooms = c.all_rooms(0);
        c.run_for(50);
        assert_eq!(
            c.completion(0, count).expect("count").outcome,
            Outcome::ServerCount(3),
            "{name}"
        );
        let Outcome::AllRooms(rooms) = c.completion(0, rooms).expect("rooms").outcome.clone()
        else {
            panic!("{name}")
        };
        // One answer in both protocols: classic asks allRooms, sharded (which has no
        // such message) collects the rooms of every remote socket from a fetchSockets.
        let names: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
        assert_eq!(names, vec!["b0", "c0", "room1", "room2"], "{name}");
    }
}

#[test]
fn a_lone_server_completes_its_requests_at_once() {
    for (name, protocol) in protocols() {
        let mut c = Cluster::new(1, protocol, 1);
        let fetch = c.fetch_sockets(0, BroadcastOpts::all());
        let sse = c.server_side_emit_with_ack(0, "x", vec![]);
        c.run_for(5);
        for id in [fetch, sse] {
            let done = c.completion(0, id).expect("completed");
            assert_eq!((done.missing, done.timed_out), (0, false), "{name}");
        }
    }
}
