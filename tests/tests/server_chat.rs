//! The chat app of `crosscast serve` on one node (the embedded in-memory mode), with real
//! Socket.IO clients.
#![allow(clippy::unwrap_used)]

mod server_support;

use serde_json::json;
use server_support::{Client, Server};

#[test]
fn chat_message_reaches_every_client_sender_included() {
    let server = Server::start(&[]);
    let mut alice = Client::connect(&server.url());
    let mut bob = Client::connect(&server.url());
    alice.emit("chat message", json!(["hello from alice"]));
    assert_eq!(
        alice.next_event("chat message"),
        vec![json!("hello from alice")]
    );
    assert_eq!(
        bob.next_event("chat message"),
        vec![json!("hello from alice")]
    );
}

#[test]
fn structured_and_binary_messages_survive() {
    let server = Server::start(&[]);
    let mut alice = Client::connect(&server.url());
    let mut bob = Client::connect(&server.url());
    let value = json!({"text": "hi", "n": 3, "bin": {"$bin": "AAEC/w=="}, "list": [true, null]});
    alice.emit("chat message", json!([value.clone()]));
    assert_eq!(bob.next_event("chat message"), vec![value]);
}

// Socket.IO handlers run concurrently, so two events of one client may be processed in either
// order: before sending a marker, a sender waits for its own copy of the previous message.

#[test]
fn rooms_join_leave_and_room_messages() {
    let server = Server::start(&[]);
    let mut alice = Client::connect(&server.url());
    let mut bob = Client::connect(&server.url());
    let mut carol = Client::connect(&server.url());
    assert_eq!(bob.request("join", json!(["lobby"])), json!(true));
    assert_eq!(carol.request("join", json!(["lobby"])), json!(true));

    alice.emit(
        "room message",
        json!([{"room": "lobby", "msg": "to the lobby"}]),
    );
    assert_eq!(bob.next_event("chat message"), vec![json!("to the lobby")]);
    assert_eq!(
        carol.next_event("chat message"),
        vec![json!("to the lobby")]
    );

    assert_eq!(carol.request("leave", json!(["lobby"])), json!(true));
    bob.emit("room message", json!([{"room": "lobby", "msg": "second"}]));
    assert_eq!(bob.next_event("chat message"), vec![json!("second")]);
    bob.emit("chat message", json!(["everyone"]));
    // Carol left before "second"; alice never joined: neither got a room message.
    assert_eq!(
        carol.events_until("chat message", &json!("everyone")),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(
        alice.events_until("chat message", &json!("everyone")),
        Vec::<serde_json::Value>::new()
    );
}

#[test]
fn sockets_are_in_the_room_of_their_own_id() {
    let server = Server::start(&[]);
    let mut alice = Client::connect(&server.url());
    let mut bob = Client::connect(&server.url());
    let mut carol = Client::connect(&server.url());
    let bob_id = bob.id.clone();
    alice.emit("room message", json!([{"room": bob_id, "msg": "direct"}]));
    assert_eq!(bob.next_event("chat message"), vec![json!("direct")]);
    bob.emit("chat message", json!(["after"]));
    assert_eq!(
        carol.events_until("chat message", &json!("after")),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(
        alice.events_until("chat message", &json!("after")),
        Vec::<serde_json::Value>::new()
    );
}

#[test]
fn who_counts_sockets_and_servers() {
    let server = Server::start(&[]);
    let mut alice = Client::connect(&server.url());
    assert_eq!(
        alice.request("who", json!([])),
        json!({"sockets": 1, "servers": 1})
    );
    let _bob = Client::connect(&server.url());
    assert_eq!(
        alice.request("who", json!([])),
        json!({"sockets": 2, "servers": 1})
    );
}

#[test]
fn server_side_emit_on_a_single_node_has_no_answers() {
    let server = Server::start(&["--client-sse", "stats"]);
    let mut alice = Client::connect(&server.url());
    assert_eq!(alice.request("x:sse", json!(["stats", []])), json!([]));
}

/// The `error` text of an ack `{error}`; panics on anything else.
fn error_of(ack: &serde_json::Value) -> String {
    ack["error"]
        .as_str()
        .unwrap_or_else(|| panic!("expected {{error}}, got {ack}"))
        .to_owned()
}

#[test]
fn x_sse_is_off_without_an_allowlist() {
    let server = Server::start(&[]);
    let mut alice = Client::connect(&server.url());
    let refused = error_of(&alice.request("x:sse", json!(["stats", []])));
    assert!(refused.contains("--client-sse"), "{refused}");
}

#[test]
fn x_sse_sends_only_the_events_of_the_allowlist() {
    let server = Server::start_with_env(&[], &[("CROSSCAST_CLIENT_SSE", "stats,hello")]);
    let mut alice = Client::connect(&server.url());
    assert_eq!(alice.request("x:sse", json!(["hello", [1]])), json!([]));
    for event in ["other", "connection", "new_namespace"] {
        let refused = error_of(&alice.request("x:sse", json!([event, []])));
        assert!(refused.contains(event), "{refused}");
    }
    let metrics = server.get("/metrics").1;
    assert!(
        metrics.contains("crosscast_client_refused_total{reason=\"sse\"} 3"),
        "{metrics}"
    );
}
