//! What one client may do to a `crosscast serve`, against real processes: `x:sse` refuses
//! what a Node peer must never receive, and the limits (connections, payload, event rate,
//! cluster requests in flight, rooms) refuse a client that exceeds them, with a clear answer
//! and a count in `/metrics`, while the other clients carry on. The limits are set through
//! their environment variables (the flags are the same arguments; see `server_cli.rs`).
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::RedisServer;
use serde_json::{Value, json};
use server_support::{Client, NodePeer, RawSubscriber, Server, eventually, http_post};

/// The value of `crosscast_client_refused_total{reason="<reason>"}`.
fn refused(server: &Server, reason: &str) -> u64 {
    let text = server.get("/metrics").1;
    let name = format!("crosscast_client_refused_total{{reason=\"{reason}\"}}");
    text.lines()
        .find_map(|l| l.strip_prefix(name.as_str())?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in {text}"))
}

/// The `error` text of an ack `{error}`; panics on anything else.
fn error_of(ack: &Value) -> String {
    ack["error"]
        .as_str()
        .unwrap_or_else(|| panic!("expected {{error}}, got {ack}"))
        .to_owned()
}

/// The names a Node server gives a meaning to when another server sends them.
const RESERVED: [&str; 8] = [
    "connect",
    "connection",
    "new_namespace",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
    "error",
];

#[test]
fn x_sse_never_sends_a_reserved_event_to_a_node_peer() {
    let redis = RedisServer::start();
    let url = redis.url();
    let rust = Server::start_with_env(
        &["--redis-url", &url, "--requests-timeout", "2000"],
        &[("CROSSCAST_CLIENT_SSE", "stats")],
    );
    // peer-server.js reads `socket.handshake.auth` in its connection handler: a replayed
    // `connection` would crash it.
    let node = NodePeer::start(&["--redis-url", &url]);
    let mut on_node = Client::connect(node.url());
    let mut browser = Client::connect(&rust.url());
    eventually("crosscast sees 2 sockets on 2 servers", || {
        let who = browser.request("who", json!([]));
        (who == json!({"sockets": 2, "servers": 2})).then_some(())
    });
    // Every request of the cluster goes through these channels; a pattern subscriber is not
    // counted as a server.
    let mut requests = RawSubscriber::psubscribe(redis.port(), "socket.io-request#*");

    let names: Vec<&str> = RESERVED.iter().copied().chain(["hello"]).collect();
    let answers: Vec<Value> = names
        .iter()
        .map(|name| browser.request("x:sse", json!([name, []])))
        .collect();

    // crosscast published no server-side event: the first request after the refusals is
    // the `stats` that the allowlist lets through, answered by the Node peer.
    assert_eq!(
        browser.request("x:sse", json!(["stats", []])),
        json!([{"sockets": 1}])
    );
    let (channel, first) = requests.next_raw();
    let first = String::from_utf8_lossy(&first).into_owned();
    assert!(
        first.contains("stats"),
        "{channel}: {first} (something else was sent first)"
    );
    // The Node peer is still up and serves a new client.
    let mut newcomer = Client::try_connect(node.url())
        .unwrap_or_else(|e| panic!("the Node peer no longer accepts clients: {e}"));
    assert_eq!(
        newcomer.request("who", json!([])),
        json!({"sockets": 3, "servers": 2})
    );
    on_node.emit("chat message", json!(["node still chats"]));
    assert_eq!(
        browser.next_event("chat message"),
        vec![json!("node still chats")]
    );
    for (name, answer) in names.iter().zip(&answers) {
        let refusal = error_of(answer);
        assert!(
            refusal.contains(name) && refusal.contains("--client-sse"),
            "{name}: {refusal}"
        );
    }
    assert_eq!(refused(&rust, "sse"), names.len() as u64);

    // A Node socket's id (20 characters) is not a room a crosscast client may join.
    let node_id = on_node.id.clone();
    let refusal = error_of(&browser.request("join", json!([node_id])));
    assert!(refusal.contains("socket id"), "{refusal}");
    assert!(node.url().starts_with("http://127.0.0.1:"));
}

#[test]
fn a_flooding_client_is_disconnected_while_the_others_chat_on() {
    // The default limits: 100 events per second, a burst of 200.
    let server = Server::start(&[]);
    let mut flooder = Client::connect(&server.url());
    let mut bob = Client::connect(&server.url());
    let mut carol = Client::connect(&server.url());

    flooder.flood("chat message", json!(["flood"]), 5_000);
    let wanted: Vec<Value> = (0..10).map(|i| json!(format!("bob {i}"))).collect();
    for message in &wanted {
        bob.emit("chat message", json!([message]));
        // Bob's own copy first: his next message then follows this one everywhere.
        let mut seen = bob.events_until("chat message", message);
        seen.retain(|m| *m != json!("flood"));
        assert_eq!(seen, Vec::<Value>::new());
    }
    let before_last = carol.events_until("chat message", wanted.last().unwrap());
    let from_bob: Vec<Value> = before_last
        .iter()
        .filter(|m| **m != json!("flood"))
        .cloned()
        .collect();
    assert_eq!(from_bob, wanted[..wanted.len() - 1]);
    let floods = before_last.len() - from_bob.len();
    assert!(floods < 5_000, "{floods} flood messages were delivered");

    // Disconnected: "io server disconnect", or "transport close" when its outgoing queue is
    // full of its own echoes.
    let reason = flooder.next_disconnect();
    assert!(!reason.is_empty());
    assert!(refused(&server, "rate") > 0);
    assert_eq!(refused(&server, "flood"), 1);
    // Bob and Carol are still connected.
    bob.emit("chat message", json!(["still here"]));
    carol.events_until("chat message", &json!("still here"));
}

#[test]
fn an_event_over_the_rate_gets_an_error_ack() {
    let server = Server::start_with_env(
        &[],
        &[
            ("CROSSCAST_MAX_EVENTS_PER_SECOND", "1"),
            ("CROSSCAST_EVENTS_BURST", "3"),
        ],
    );
    let mut alice = Client::connect(&server.url());
    // Six at once: the burst (3) passes; the rest is over the rate unless seconds pass.
    let ids: Vec<u64> = (0..6)
        .map(|_| alice.request_start("who", json!([])))
        .collect();
    let acks: Vec<Value> = ids.into_iter().map(|id| alice.ack(id)).collect();
    for ack in &acks[..3] {
        assert_eq!(*ack, json!({"sockets": 1, "servers": 1}));
    }
    let refusals: Vec<String> = acks[3..]
        .iter()
        .filter(|a| a.get("error").is_some())
        .map(error_of)
        .collect();
    assert!(!refusals.is_empty(), "{acks:?}");
    for refusal in &refusals {
        assert!(refusal.contains("rate limit"), "{refusal}");
    }
    assert_eq!(refused(&server, "rate"), refusals.len() as u64);
    assert_eq!(refused(&server, "flood"), 0);
}

#[test]
fn joining_another_sockets_id_room_is_refused() {
    let server = Server::start(&[]);
    let mut alice = Client::connect(&server.url());
    let mut bob = Client::connect(&server.url());
    let mut carol = Client::connect(&server.url());
    let bob_id = bob.id.clone();
    let too_long = "x".repeat(257);
    for room in [
        bob_id.as_str(),
        "abcdefghijklmnopqrst", // the shape of a Node socket id
        "abcdefghij-_klmn",     // the shape of a socketioxide socket id
        "connection",
        "",
        too_long.as_str(),
    ] {
        let refusal = error_of(&alice.request("join", json!([room])));
        assert!(!refusal.is_empty(), "{room}");
    }
    assert_eq!(refused(&server, "room"), 6);

    // Bob's private messages reach Bob only.
    carol.emit("room message", json!([{"room": bob_id, "msg": "private"}]));
    assert_eq!(bob.next_event("chat message"), vec![json!("private")]);
    bob.emit("chat message", json!(["after"]));
    assert_eq!(
        alice.events_until("chat message", &json!("after")),
        Vec::<Value>::new()
    );
    // A socket cannot leave its own id room either: it stays addressable.
    let alice_id = alice.id.clone();
    error_of(&alice.request("leave", json!([alice_id])));
    carol.emit(
        "room message",
        json!([{"room": alice_id, "msg": "to alice"}]),
    );
    assert_eq!(alice.next_event("chat message"), vec![json!("to alice")]);
}

#[test]
fn rooms_per_socket_are_bounded() {
    let server = Server::start_with_env(&[], &[("CROSSCAST_MAX_ROOMS_PER_SOCKET", "3")]);
    let mut alice = Client::connect(&server.url());
    for room in ["a", "b", "c"] {
        assert_eq!(alice.request("join", json!([room])), json!(true));
    }
    let refusal = error_of(&alice.request("join", json!(["d"])));
    assert!(refusal.contains("at most 3 rooms"), "{refusal}");
    // A room it is in already is no new room.
    assert_eq!(alice.request("join", json!(["a"])), json!(true));
    assert_eq!(alice.request("leave", json!(["a"])), json!(true));
    assert_eq!(alice.request("join", json!(["d"])), json!(true));
    assert_eq!(refused(&server, "rooms"), 1);
    // Another socket has its own bound.
    let mut bob = Client::connect(&server.url());
    assert_eq!(bob.request("join", json!(["a"])), json!(true));
}

#[test]
fn connections_over_the_cap_are_refused_at_connect() {
    let server = Server::start_with_env(&[], &[("CROSSCAST_MAX_CONNECTIONS", "2")]);
    let mut alice = Client::connect(&server.url());
    let bob = Client::connect(&server.url());
    let refusal = match Client::try_connect(&server.url()) {
        Ok(extra) => panic!("a third client connected: {}", extra.id),
        Err(message) => message,
    };
    assert!(refusal.contains("too many connections"), "{refusal}");
    assert_eq!(refused(&server, "connections"), 1);
    assert_eq!(
        alice.request("who", json!([])),
        json!({"sockets": 2, "servers": 1})
    );

    // One leaves: there is room again.
    drop(bob);
    let mut carol = eventually("a new client connects once bob left", || {
        Client::try_connect(&server.url()).ok()
    });
    assert_eq!(
        carol.request("who", json!([])),
        json!({"sockets": 2, "servers": 1})
    );
}

#[test]
fn a_message_over_the_payload_cap_closes_its_connection_only() {
    // The default --max-payload: 1,000,000 bytes.
    let server = Server::start(&[]);
    let mut alice = Client::connect(&server.url());
    let mut bob = Client::connect(&server.url());
    let mut carol = Client::connect(&server.url());

    let below = "y".repeat(900_000);
    bob.emit("chat message", json!([below]));
    assert_eq!(bob.next_event("chat message"), vec![json!(below)]);

    alice.emit("chat message", json!(["x".repeat(1_100_000)]));
    let reason = alice.next_disconnect();
    assert!(reason.starts_with("transport"), "{reason}");
    eventually("the refusal is counted", || {
        (refused(&server, "payload") == 1).then_some(())
    });

    // Binary attachments count together: two of 600,000 bytes are one packet too many.
    let bin = {
        let chunk = "AAAA".repeat(200_000); // 600,000 bytes in base64
        json!({"$bin": chunk})
    };
    carol.emit("chat message", json!([{"a": bin.clone(), "b": bin}]));
    let reason = carol.next_disconnect();
    assert!(!reason.is_empty());
    eventually("the binary refusal is counted", || {
        (refused(&server, "packet") == 1).then_some(())
    });

    bob.emit("chat message", json!(["bob chats on"]));
    assert_eq!(bob.next_event("chat message"), vec![json!("bob chats on")]);
}

#[test]
fn a_long_polling_body_over_the_payload_cap_is_refused() {
    let server = Server::start_with_env(&[], &[("CROSSCAST_MAX_PAYLOAD", "1000")]);
    let (status, open) = server.get("/socket.io/?EIO=4&transport=polling");
    assert_eq!(status, 200, "{open}");
    let handshake: Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
    let sid = handshake["sid"].as_str().unwrap();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");

    let (status, body) = http_post(server.addr(), &path, &format!("4{}", "x".repeat(2_000)));
    assert_eq!(status, 413, "{body}");
    assert_eq!(refused(&server, "payload"), 1);
}

#[test]
fn cluster_requests_in_flight_per_socket_are_capped() {
    let redis = RedisServer::start();
    let url = redis.url();
    // The default: 4 requests in flight per socket.
    let rust = Server::start_with_env(
        &["--redis-url", &url, "--requests-timeout", "2000"],
        &[("CROSSCAST_CLIENT_SSE", "hang")],
    );
    // A Node peer never answers a server-side event it has no listener for.
    let node = NodePeer::start(&["--redis-url", &url]);
    let mut alice = Client::connect(&rust.url());
    let mut bob = Client::connect(&rust.url());
    eventually("crosscast sees 2 servers", || {
        let who = alice.request("who", json!([]));
        (who["servers"] == 2).then_some(())
    });
    let mut requests = RawSubscriber::psubscribe(redis.port(), "socket.io-request#*");

    let hanging: Vec<u64> = (0..4)
        .map(|_| alice.request_start("x:sse", json!(["hang", []])))
        .collect();
    // All four are in flight once the cluster has seen them.
    for _ in 0..4 {
        let (_, request) = requests.next_raw();
        assert!(String::from_utf8_lossy(&request).contains("hang"));
    }
    let refusal = error_of(&alice.request("who", json!([])));
    assert!(refusal.contains("too many requests"), "{refusal}");
    assert_eq!(refused(&rust, "requests"), 1);
    // The bound is per socket.
    assert_eq!(bob.request("who", json!([]))["servers"], 2);

    // The four end with the requests timeout; then Alice may ask again.
    for id in hanging {
        let ack = alice.ack(id);
        assert!(error_of(&ack).contains("timed out"), "{ack}");
    }
    assert_eq!(alice.request("who", json!([]))["servers"], 2);
    assert!(node.url().starts_with("http://"));
}
