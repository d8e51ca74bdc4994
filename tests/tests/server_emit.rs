//! `crosscast emit`: one event published into a running cluster, received by the clients of
//! crosscast servers and of the Node.js peer server, with rooms, exclusions and a key prefix;
//! classic (PUBLISH) and sharded (`--adapter sharded`: SPUBLISH of the sharded format), with
//! the arguments on the command line or, with `-`, as one JSON array on stdin.
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::RedisServer;
use serde_json::{Value, json};
use server_support::{
    Client, NodePeer, Server, assert_one_line_error, eventually, run, run_with_stdin,
};

fn emit(args: &[&str]) {
    let out = run(args, &[]);
    assert!(
        out.status.success(),
        "crosscast {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `base` followed by `rest`.
fn joined<'a>(base: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(rest).copied().collect()
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
    for adapter in ["classic", "sharded"] {
        let args = [
            "emit",
            "--redis-url",
            &redis.url(),
            "--adapter",
            adapter,
            "disconnect",
        ];
        let out = run(&args, &[]);
        let line = assert_one_line_error(&out);
        assert!(line.contains("reserved"), "{adapter}: {line}");
        // Bad input, refused before Redis is asked: exit 2 as every usage error.
        assert_eq!(out.status.code(), Some(2), "{adapter}: {line}");
    }
}

#[test]
fn sharded_emit_reaches_crosscast_and_node_sharded_servers() {
    let redis = RedisServer::start();
    let url = redis.url();
    let rust = Server::start(&["--redis-url", &url, "--adapter", "sharded"]);
    let node = NodePeer::start(&[
        "--redis-url",
        &url,
        "--adapter",
        "sharded",
        "--client",
        "redis",
    ]);
    let mut alice = Client::connect(&rust.url());
    let mut nora = Client::connect(node.url());
    let mut bob = Client::connect(&rust.url());
    let sharded = ["emit", "--redis-url", url.as_str(), "--adapter", "sharded"];
    eventually("both servers receive sharded emits", || {
        emit(&joined(&sharded, &["probe", "x"]));
        let all = [&mut alice, &mut nora, &mut bob]
            .into_iter()
            .all(|c| !c.pending("probe").is_empty());
        all.then_some(())
    });
    emit(&joined(&sharded, &["probe", "last"]));
    for c in [&mut alice, &mut nora, &mut bob] {
        c.events_until("probe", &json!("last"));
    }
    assert_eq!(nora.request("join", json!(["red"])), json!(true));
    assert_eq!(bob.request("join", json!(["red"])), json!(true));

    emit(&joined(&sharded, &["--to", "red", "note", "to red"]));
    emit(&joined(&sharded, &["--except", "red", "note", "not red"]));
    emit(&joined(&sharded, &["note", "{\"bye\":[1,null]}", "7"]));
    let end = json!({"bye": [1, null]});
    assert_eq!(alice.events_until("note", &end), vec![json!("not red")]);
    assert_eq!(nora.events_until("note", &end), vec![json!("to red")]);
    assert_eq!(bob.events_until("note", &end), vec![json!("to red")]);
    // Both servers hold the shard channel the emits went to.
    assert_eq!(
        redis.cli(&["PUBSUB", "SHARDNUMSUB", "socket.io#/#"]),
        "socket.io#/#\n2"
    );
}

#[test]
fn a_dash_reads_the_arguments_from_stdin_as_one_json_array() {
    let redis = RedisServer::start();
    let url = redis.url();
    let server = Server::start(&["--redis-url", &url]);
    let mut alice = Client::connect(&server.url());
    wait_subscribed(&url, "socket.io", &mut [&mut alice]);
    let dash = ["emit", "--redis-url", url.as_str(), "chat message", "-"];
    for (stdin, expected) in [
        (
            "[\"hi\", {\"a\":[1,null]}, 42, \"-\", \"not json?\"]\n",
            json!(["hi", {"a": [1, null]}, 42, "-", "not json?"]),
        ),
        ("  [ ]  ", json!([])),
        ("[[\"nested\"]]", json!([["nested"]])),
    ] {
        let out = run_with_stdin(&dash, &[], stdin.as_bytes());
        assert!(
            out.status.success(),
            "{stdin:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            Value::Array(alice.next_event("chat message")),
            expected,
            "{stdin:?}"
        );
    }
    // Sharded too.
    let sharded_server = Server::start(&["--redis-url", &url, "--adapter", "sharded"]);
    let mut sam = Client::connect(&sharded_server.url());
    let sharded = [
        "emit",
        "--redis-url",
        url.as_str(),
        "--adapter",
        "sharded",
        "note",
        "-",
    ];
    eventually("the sharded server receives emits", || {
        let out = run_with_stdin(&sharded, &[], b"[\"from stdin\"]");
        assert!(out.status.success());
        (!sam.pending("note").is_empty()).then_some(())
    });
}

#[test]
fn bad_stdin_is_one_line_exit_2_and_publishes_nothing() {
    let redis = RedisServer::start();
    let url = redis.url();
    let server = Server::start(&["--redis-url", &url]);
    let mut alice = Client::connect(&server.url());
    wait_subscribed(&url, "socket.io", &mut [&mut alice]);
    let dash = ["emit", "--redis-url", url.as_str(), "note", "-"];
    let too_big = format!("[\"{}\"]", "x".repeat(1_048_576));
    let cases: [(&[&str], &[u8], &str); 7] = [
        (&dash, b"", "empty"),
        (&dash, b"{\"a\":1}", "JSON array"),
        (&dash, b"\"just a string\"", "JSON array"),
        (&dash, b"[\"unterminated", "stdin"),
        (&dash, b"[1] [2]", "stdin"),
        (&dash, too_big.as_bytes(), "1048576"),
        (
            &["emit", "--redis-url", url.as_str(), "note", "-", "more"],
            b"[1]",
            "only",
        ),
    ];
    for (args, stdin, mentions) in cases {
        let out = run_with_stdin(args, &[], stdin);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{mentions}: {line}");
        assert!(
            line.contains(mentions),
            "{line:?} does not mention {mentions}"
        );
        assert!(
            line.contains("`-`"),
            "{line:?} does not name the `-` argument"
        );
    }
    emit(&["emit", "--redis-url", &url, "note", "end"]);
    assert_eq!(
        alice.events_until("note", &json!("end")),
        Vec::<Value>::new()
    );
}
