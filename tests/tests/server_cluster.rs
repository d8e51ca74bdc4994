//! Two `crosscast serve` processes on one private `redis-server`, classic and sharded, and a
//! mixed cluster with the Node.js peer server: every client of the cluster chats with every
//! other, rooms span servers, `who` counts the cluster, and `stats` server-side events are
//! answered.
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::RedisServer;
use serde_json::{Value, json};
use server_support::{Client, NodePeer, Server, eventually};

/// Two servers on `redis` with `adapter`, and one client on each, once both clients see a
/// cluster of two servers.
fn pair(redis: &RedisServer, adapter: &str) -> (Server, Server, Client, Client) {
    let url = redis.url();
    let args = [
        "--redis-url",
        &url,
        "--adapter",
        adapter,
        "--client-sse",
        "stats",
    ];
    let a = Server::start(&args);
    let b = Server::start(&args);
    let mut alice = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());
    for client in [&mut alice, &mut bob] {
        eventually(
            "both servers see a cluster of 2 sockets on 2 servers",
            || {
                let who = client.request("who", json!([]));
                (who == json!({"sockets": 2, "servers": 2})).then_some(())
            },
        );
    }
    (a, b, alice, bob)
}

fn chat_crosses_servers(adapter: &str) {
    let redis = RedisServer::start();
    let (a, b, mut alice, mut bob) = pair(&redis, adapter);
    alice.emit("chat message", json!(["from a"]));
    assert_eq!(bob.next_event("chat message"), vec![json!("from a")]);
    assert_eq!(alice.next_event("chat message"), vec![json!("from a")]);
    bob.emit("chat message", json!([{"bin": {"$bin": "AQID"}, "n": 1}]));
    let expected = vec![json!({"bin": {"$bin": "AQID"}, "n": 1})];
    assert_eq!(alice.next_event("chat message"), expected);
    assert_eq!(bob.next_event("chat message"), expected);

    for server in [&a, &b] {
        let (status, health) = server.get("/healthz");
        assert_eq!(status, 200, "{health}");
        let health: Value = serde_json::from_str(&health).unwrap();
        assert_eq!(health["adapter"], adapter);
        assert_eq!(health["uid"], server.uid());
        assert_eq!(health["redis"]["connected"], true);
        let metrics = server.get("/metrics").1;
        for name in [
            "crosscast_messages_published_total",
            "crosscast_messages_received_total",
        ] {
            assert!(sample(&metrics, name) >= 1, "{name}: {metrics}");
        }
        assert_eq!(sample(&metrics, "crosscast_decode_errors_total"), 0);
    }
}

/// The value of the sample `name` (with labels) in a Prometheus text.
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in {text}"))
}

#[test]
fn classic_chat_crosses_servers() {
    chat_crosses_servers("classic");
}

#[test]
fn sharded_chat_crosses_servers() {
    chat_crosses_servers("sharded");
}

// Socket.IO handlers run concurrently, so two events of one client may be processed in either
// order: before sending a marker, a sender waits for its own copy of the previous message
// (its server delivered it locally and queued it for the others before the marker).
fn rooms_span_servers(adapter: &str) {
    let redis = RedisServer::start();
    let (a, _b, mut alice, mut bob) = pair(&redis, adapter);
    let mut carol = Client::connect(&a.url());
    assert_eq!(alice.request("join", json!(["lobby"])), json!(true));
    assert_eq!(bob.request("join", json!(["lobby"])), json!(true));
    // The sharded adapter subscribes a room's channel when the room appears: wait until a
    // room message from b reaches alice on a.
    eventually("a room message from server b reaches server a", || {
        bob.emit("room message", json!([{"room": "lobby", "msg": "probe"}]));
        bob.next_event("chat message");
        bob.emit("chat message", json!(["probe end"]));
        let got = alice.events_until("chat message", &json!("probe end"));
        bob.events_until("chat message", &json!("probe end"));
        carol.events_until("chat message", &json!("probe end"));
        got.contains(&json!("probe")).then_some(())
    });

    bob.emit(
        "room message",
        json!([{"room": "lobby", "msg": "hi lobby"}]),
    );
    assert_eq!(bob.next_event("chat message"), vec![json!("hi lobby")]);
    bob.emit("chat message", json!(["everyone"]));
    assert_eq!(
        alice.events_until("chat message", &json!("everyone")),
        vec![json!("hi lobby")]
    );
    assert_eq!(
        carol.events_until("chat message", &json!("everyone")),
        Vec::<Value>::new()
    );
    assert_eq!(
        bob.events_until("chat message", &json!("everyone")),
        Vec::<Value>::new()
    );

    // A socket id is a room too: alice on server a reaches bob on server b directly.
    let bob_id = bob.id.clone();
    alice.emit("room message", json!([{"room": bob_id, "msg": "direct"}]));
    assert_eq!(
        bob.events_until("chat message", &json!("direct")),
        Vec::<Value>::new()
    );
}

#[test]
fn classic_rooms_span_servers() {
    rooms_span_servers("classic");
}

#[test]
fn sharded_rooms_span_servers() {
    rooms_span_servers("sharded");
}

#[test]
fn stats_server_side_event_is_answered_by_the_other_servers() {
    let redis = RedisServer::start();
    let (a, _b, mut alice, bob) = pair(&redis, "classic");
    let _second_on_a = Client::connect(&a.url());
    // From b's point of view the other server (a) has 2 sockets.
    let mut bob = bob;
    assert_eq!(
        bob.request("x:sse", json!(["stats", []])),
        json!([{"sockets": 2}])
    );
    assert_eq!(
        alice.request("x:sse", json!(["stats", []])),
        json!([{"sockets": 1}])
    );
}

#[test]
fn mixed_cluster_with_the_node_peer_server() {
    let redis = RedisServer::start();
    let url = redis.url();
    let rust = Server::start(&["--redis-url", &url, "--client-sse", "stats"]);
    let node = NodePeer::start(&["--redis-url", &url]);
    let mut on_rust = Client::connect(&rust.url());
    let mut on_node = Client::connect(node.url());
    eventually("the Node server sees 2 sockets on 2 servers", || {
        let who = on_node.request("who", json!([]));
        (who == json!({"sockets": 2, "servers": 2})).then_some(())
    });
    eventually("crosscast sees 2 sockets on 2 servers", || {
        let who = on_rust.request("who", json!([]));
        (who == json!({"sockets": 2, "servers": 2})).then_some(())
    });
    on_node.emit("chat message", json!(["from node"]));
    assert_eq!(on_rust.next_event("chat message"), vec![json!("from node")]);
    assert_eq!(on_node.next_event("chat message"), vec![json!("from node")]);
    on_rust.emit("chat message", json!(["from rust"]));
    assert_eq!(on_node.next_event("chat message"), vec![json!("from rust")]);

    // Node's serverSideEmitWithAck('stats') is answered by crosscast with its local count.
    assert_eq!(
        on_node.request("x:sse", json!(["stats", []])),
        json!([{"sockets": 1}])
    );
    // And crosscast's is answered by the Node server.
    assert_eq!(
        on_rust.request("x:sse", json!(["stats", []])),
        json!([{"sockets": 1}])
    );
}

/// A socket's events are handled in the order they arrived: one sender's burst of
/// numbered messages reaches every client of both servers in the order it was sent, as
/// from a Node.js server (socketioxide runs each event's handler as its own task; two
/// events of one socket raced to the broadcast on a multi-thread runtime).
#[test]
fn one_senders_messages_arrive_in_the_order_it_sent_them_on_every_server() {
    // Under the 128 packets a socket buffers, so that none is dropped as overload.
    const N: u64 = 120;
    let redis = RedisServer::start();
    let url = redis.url();
    let args = [
        "--redis-url",
        &url,
        "--max-events-per-second",
        "1000000",
        "--events-burst",
        "1000000",
    ];
    let a = Server::start(&args);
    let b = Server::start(&args);
    let mut sender = Client::connect(&a.url());
    let mut here = Client::connect(&a.url());
    let mut there = Client::connect(&b.url());
    eventually(
        "both servers see a cluster of 3 sockets on 2 servers",
        || {
            let who = there.request("who", json!([]));
            (who == json!({"sockets": 3, "servers": 2})).then_some(())
        },
    );
    sender.flood_numbered("chat message", N as u32);
    for (name, client) in [
        ("the sender", &mut sender),
        ("a client of its server", &mut here),
        ("a client of the other server", &mut there),
    ] {
        let mut got: Vec<u64> = client
            .events_until("chat message", &json!(N - 1))
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        got.push(N - 1);
        let out_of_order = got.windows(2).filter(|w| w[1] < w[0]).count();
        assert_eq!(
            out_of_order, 0,
            "{name}: {out_of_order} messages came out of order"
        );
        assert_eq!(
            got,
            (0..N).collect::<Vec<_>>(),
            "{name}: every message once, in order"
        );
    }
}
