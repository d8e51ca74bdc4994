//! `crosscast emit`: one event published into a running cluster, received by the clients of
//! crosscast servers and of the Node.js peer server, with rooms, exclusions and a key prefix.
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::RedisServer;
use serde_json::json;
use server_support::{Client, NodePeer, Server, assert_one_line_error, eventually, run};

fn emit(args: &[&str]) {
    let out = run(args, &[]);
    assert!(
        out.status.success(),
        "crosscast {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until every client's server is subscribed: an emitted probe reaches all of them.
fn wait_subscribed(url: &str, key: &str, clients: &mut [&mut Client]) {
    eventually("every server receives emitted events", || {
        emit(&["emit", "--redis-url", url, "--key", key, "probe", "x"]);
        let all = clients.iter_mut().all(|c| !c.pending("probe").is_empty());
        all.then_some(())
    });
    // Let the probes still in flight arrive and be ignored: each client sees one more.
    emit(&["emit", "--redis-url", url, "--key", key, "probe", "last"]);
    for c in clients.iter_mut() {
        c.events_until("probe", &json!("last"));
    }
}

#[test]
fn emit_reaches_every_client_of_the_cluster_with_json_arguments() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Server::start(&["--redis-url", &url]);
    let b = Server::start(&["--redis-url", &url]);
    let mut alice = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());
    wait_subscribed(&url, "socket.io", &mut [&mut alice, &mut bob]);

    emit(&[
        "emit",
        "--redis-url",
        &url,
        "chat message",
        "hello",
        "{\"a\":[1,null]}",
        "42",
        "-1.5",
        "true",
    ]);
    let expected = vec![
        json!("hello"),
        json!({"a": [1, null]}),
        json!(42),
        json!(-1.5),
        json!(true),
    ];
    assert_eq!(alice.next_event("chat message"), expected);
    assert_eq!(bob.next_event("chat message"), expected);
}

#[test]
fn emit_to_rooms_and_except_rooms() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Server::start(&["--redis-url", &url]);
    let b = Server::start(&["--redis-url", &url]);
    let mut alice = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());
    let mut carol = Client::connect(&b.url());
    wait_subscribed(&url, "socket.io", &mut [&mut alice, &mut bob, &mut carol]);
    assert_eq!(alice.request("join", json!(["red"])), json!(true));
    assert_eq!(bob.request("join", json!(["red"])), json!(true));
    assert_eq!(bob.request("join", json!(["blue"])), json!(true));
    assert_eq!(carol.request("join", json!(["blue"])), json!(true));

    emit(&["emit", "--redis-url", &url, "--to", "red", "note", "to red"]);
    emit(&[
        "emit",
        "--redis-url",
        &url,
        "--to",
        "blue",
        "--except",
        "red",
        "note",
        "blue not red",
    ]);
    emit(&[
        "emit",
        "--redis-url",
        &url,
        "--except",
        "blue",
        "note",
        "not blue",
    ]);
    let carol_id = carol.id.clone();
    emit(&[
        "emit",
        "--redis-url",
        &url,
        "--to",
        &carol_id,
        "note",
        "to carol",
    ]);
    emit(&["emit", "--redis-url", &url, "note", "end"]);
    assert_eq!(
        alice.events_until("note", &json!("end")),
        vec![json!("to red"), json!("not blue")]
    );
    assert_eq!(
        bob.events_until("note", &json!("end")),
        vec![json!("to red")]
    );
    assert_eq!(
        carol.events_until("note", &json!("end")),
        vec![json!("blue not red"), json!("to carol")]
    );
}

#[test]
fn emit_with_a_key_prefix_from_the_flag_or_the_environment() {
    let redis = RedisServer::start();
    let url = redis.url();
    let server = Server::start_with_env(&["--redis-url", &url], &[("CROSSCAST_KEY", "app")]);
    let mut alice = Client::connect(&server.url());
    wait_subscribed(&url, "app", &mut [&mut alice]);
    emit(&["emit", "--redis-url", &url, "note", "default key"]);
    let out = run(
        &["emit", "--redis-url", &url, "note", "env key"],
        &[("CROSSCAST_KEY", "app")],
    );
    assert!(out.status.success());
    emit(&["emit", "--redis-url", &url, "--key", "app", "note", "end"]);
    assert_eq!(
        alice.events_until("note", &json!("end")),
        vec![json!("env key")]
    );
}

#[test]
fn emit_reaches_the_node_peer_server() {
    let redis = RedisServer::start();
    let url = redis.url();
    let node = NodePeer::start(&["--redis-url", &url]);
    let mut client = Client::connect(node.url());
    wait_subscribed(&url, "socket.io", &mut [&mut client]);
    emit(&[
        "emit",
        "--redis-url",
        &url,
        "chat message",
        "{\"from\":\"rust\"}",
    ]);
    assert_eq!(
        client.next_event("chat message"),
        vec![json!({"from": "rust"})]
    );
}

#[test]
fn reserved_events_are_refused() {
    let redis = RedisServer::start();
    let out = run(&["emit", "--redis-url", &redis.url(), "disconnect"], &[]);
    let line = assert_one_line_error(&out);
    assert!(line.contains("reserved"), "{line}");
}
