//! A crosscast server that peers cannot make leak or confuse its clients, tried
//! against real processes: a real redis-server, crosscast servers, a Node.js
//! server on the official adapter, real Socket.IO clients.

#![allow(clippy::unwrap_used)]

mod server_support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crosscast_core::{Value, msgpack};
use crosscast_tests::redis_server::RedisServer;
use serde_json::json;
use server_support::{Client, Server, eventually, node_modules, repo_root};

/// The value of an unlabelled sample of `/metrics`.
fn metric(server: &Server, name: &str) -> u64 {
    let (status, body) = server.get("/metrics");
    assert_eq!(status, 200);
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {name} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Runs `interop/node/sse-flood.js`: a Node server on the official adapter fires
/// `count` serverSideEmitWithAck(`event`) calls and waits for each to settle.
fn node_flood(redis: &RedisServer, adapter: &str, event: &str, count: u64) -> serde_json::Value {
    node_modules();
    let out = Command::new("node")
        .arg(repo_root().join("interop/node/sse-flood.js"))
        .args(["--redis-url", &redis.url(), "--adapter", adapter])
        .args(["--count", &count.to_string(), "--event", event])
        .args(["--requests-timeout", "2000"])
        .stdin(Stdio::null())
        .output()
        .expect("run sse-flood.js");
    assert!(
        out.status.success(),
        "sse-flood.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

fn unanswered_server_side_acks_from_a_node_peer_leave_nothing_behind(adapter: &str) {
    let redis = RedisServer::start();
    let crosscast = Server::start(&["--redis-url", &redis.url(), "--adapter", adapter]);
    let _client = Client::connect(&crosscast.url());
    let before = rss_kib(crosscast.pid());
    let mut after = Vec::new();
    for round in 0..2 {
        let result = node_flood(&redis, adapter, "nobody-handles-this", 10_000);
        // crosscast does not answer an event it has no handler for, as Node does not.
        assert_eq!(
            result,
            json!({"fired": 10_000, "answered": 0, "timedOut": 10_000})
        );
        let received = metric(&crosscast, "crosscast_messages_received_total");
        let dropped = metric(&crosscast, "crosscast_messages_dropped_total");
        eprintln!("{adapter} round {round}: received {received}, dropped {dropped}");
        assert!(
            received + dropped >= 10_000 * (round + 1),
            "every call reached crosscast, or was counted as dropped at a full queue"
        );
        eventually("no server-side ack is pending on crosscast", || {
            (metric(&crosscast, "crosscast_server_side_acks_pending") == 0).then_some(())
        });
        after.push(rss_kib(crosscast.pid()));
    }
    eprintln!(
        "{adapter}: resident memory {before} KiB before, {} KiB after 10,000, {} KiB after 20,000",
        after[0], after[1]
    );
    // The second flood of 10,000 leaves memory where the first left it.
    assert!(
        after[1] <= after[0] + 4 * 1024,
        "{adapter}: {} KiB then {} KiB",
        after[0],
        after[1]
    );
}

#[test]
fn classic_ten_thousand_unanswered_server_side_acks_leave_nothing_behind() {
    unanswered_server_side_acks_from_a_node_peer_leave_nothing_behind("classic");
}

#[test]
fn sharded_ten_thousand_unanswered_server_side_acks_leave_nothing_behind() {
    unanswered_server_side_acks_from_a_node_peer_leave_nothing_behind("sharded");
}

/// crosscast's own requests timeout is a minute here, so its ack entries would expire only
/// after 61 s: a gauge back at 0 within seconds, with nothing expired, is the handler's
/// dropped `ServerSideAck` releasing each entry at once.
fn unhandled_server_side_acks_are_released_at_once_not_at_the_timeout(adapter: &str) {
    let redis = RedisServer::start();
    let crosscast = Server::start(&[
        "--redis-url",
        &redis.url(),
        "--adapter",
        adapter,
        "--requests-timeout",
        "60000",
    ]);
    let result = node_flood(&redis, adapter, "nobody-handles-this", 200);
    assert_eq!(result["fired"], 200);
    assert_eq!(result["answered"], 0);
    eventually("every entry released", || {
        (metric(&crosscast, "crosscast_server_side_acks_pending") == 0).then_some(())
    });
    assert_eq!(
        metric(&crosscast, "crosscast_server_side_acks_expired_total"),
        0,
        "released, not expired"
    );
}

#[test]
fn classic_unhandled_server_side_acks_are_released_at_once() {
    unhandled_server_side_acks_are_released_at_once_not_at_the_timeout("classic");
}

#[test]
fn sharded_unhandled_server_side_acks_are_released_at_once() {
    unhandled_server_side_acks_are_released_at_once_not_at_the_timeout("sharded");
}

/// Sends one command with binary-safe arguments over RESP2 and reads the reply line.
fn redis_command(port: u16, args: &[&[u8]]) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut command = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        command.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        command.extend_from_slice(arg);
        command.extend_from_slice(b"\r\n");
    }
    stream.write_all(&command).unwrap();
    let mut reply = [0u8; 64];
    let n = stream.read(&mut reply).unwrap();
    String::from_utf8_lossy(&reply[..n]).trim().to_owned()
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn opts(rooms: &[&str]) -> Value {
    map(vec![
        (
            "rooms",
            Value::Array(rooms.iter().map(|r| Value::from(*r)).collect()),
        ),
        ("except", Value::Array(vec![])),
        ("flags", map(vec![])),
    ])
}

/// Packets no Socket.IO client can decode, each inside a well-formed envelope.
fn undecodable_packets(nsp: Option<&str>) -> Vec<(&'static str, Value)> {
    let packet = |data: Value, kind: i64| {
        let mut entries = vec![("type", Value::Int(kind)), ("data", data)];
        if let Some(nsp) = nsp {
            entries.push(("nsp", Value::from(nsp)));
        }
        map(entries)
    };
    vec![
        ("empty data", packet(Value::Array(vec![]), 2)),
        ("data not an array", packet(Value::from("chat message"), 2)),
        ("null event name", packet(Value::Array(vec![Value::Nil]), 2)),
        (
            "reserved event name",
            packet(Value::Array(vec![Value::from("connect")]), 2),
        ),
        (
            "unknown packet type",
            packet(Value::Array(vec![Value::from("chat message")]), 9),
        ),
    ]
}

/// Every message on every channel a crosscast server of `adapter` listens on
/// that carries a packet to its clients: broadcasts to all, to a room, and
/// broadcasts with acks.
fn hostile_messages(adapter: &str) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    if adapter == "classic" {
        for (what, packet) in undecodable_packets(Some("/")) {
            for (channel, rooms) in [
                ("socket.io#/#", vec![]),
                ("socket.io#/#lobby#", vec!["lobby"]),
            ] {
                let bytes = msgpack::encode(&Value::Array(vec![
                    Value::from("EVIL01"),
                    packet.clone(),
                    opts(&rooms),
                ]));
                out.push((what.to_owned(), channel.to_owned(), bytes));
            }
            let request = map(vec![
                ("uid", Value::from("EVIL01")),
                ("requestId", Value::from("EVIL01.1")),
                ("type", Value::Int(7)),
                ("packet", packet.clone()),
                ("opts", opts(&[])),
            ]);
            out.push((
                format!("{what} (with acks)"),
                "socket.io-request#/#".to_owned(),
                msgpack::encode(&request),
            ));
        }
    } else {
        for (what, packet) in undecodable_packets(None) {
            // Type 3 is a broadcast; with a requestId, a broadcast with acks.
            for (with_acks, channel, rooms) in [
                (false, "socket.io#/#", vec![]),
                (false, "socket.io#/#lobby#", vec!["lobby"]),
                (true, "socket.io#/#", vec![]),
            ] {
                let mut data = vec![("packet", packet.clone()), ("opts", opts(&rooms))];
                if with_acks {
                    data.push(("requestId", Value::from("EVIL01.1")));
                }
                let message = map(vec![
                    ("uid", Value::from("EVIL01")),
                    ("nsp", Value::from("/")),
                    ("type", Value::Int(3)),
                    ("data", map(data)),
                ]);
                out.push((
                    what.to_owned(),
                    channel.to_owned(),
                    msgpack::encode(&message),
                ));
            }
        }
    }
    out
}

fn undecodable_packets_on_every_channel_leave_every_client_connected(adapter: &str) {
    let redis = RedisServer::start();
    let args = ["--redis-url", &redis.url(), "--adapter", adapter];
    let a = Server::start(&args);
    let b = Server::start(&args);
    let mut alice = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());
    assert_eq!(alice.request("join", json!(["lobby"])), json!(true));
    assert_eq!(bob.request("join", json!(["lobby"])), json!(true));
    eventually("both servers see each other", || {
        (bob.request("who", json!([])) == json!({"sockets": 2, "servers": 2})).then_some(())
    });
    let command: &[u8] = if adapter == "sharded" {
        b"SPUBLISH"
    } else {
        b"PUBLISH"
    };
    if adapter == "sharded" {
        // The room's own channel is subscribed shortly after the join.
        eventually("both servers subscribe the room channel", || {
            let numsub = redis.cli(&["PUBSUB", "SHARDNUMSUB", "socket.io#/#lobby#"]);
            numsub.ends_with('2').then_some(())
        });
    }
    let messages = hostile_messages(adapter);
    let errors_before = metric(&a, "crosscast_decode_errors_total");
    for (what, channel, bytes) in &messages {
        let reply = redis_command(redis.port(), &[command, channel.as_bytes(), bytes]);
        assert_eq!(reply, ":2", "{what} on {channel}: both servers hear it");
    }
    eventually("server a counted every hostile message", || {
        let errors = metric(&a, "crosscast_decode_errors_total") - errors_before;
        (errors >= messages.len() as u64).then_some(())
    });
    // Both clients are still connected: a chat message reaches both.
    alice.emit("chat message", json!(["still here?"]));
    assert_eq!(bob.next_event("chat message"), vec![json!("still here?")]);
    assert_eq!(alice.next_event("chat message"), vec![json!("still here?")]);
    bob.emit("chat message", json!(["yes"]));
    assert_eq!(alice.next_event("chat message"), vec![json!("yes")]);
}

#[test]
fn classic_undecodable_packets_on_every_channel_leave_every_client_connected() {
    undecodable_packets_on_every_channel_leave_every_client_connected("classic");
}

#[test]
fn sharded_undecodable_packets_on_every_channel_leave_every_client_connected() {
    undecodable_packets_on_every_channel_leave_every_client_connected("sharded");
}

/// `levels` nested arrays around a string.
fn nested(levels: usize) -> serde_json::Value {
    let mut v = json!("core");
    for _ in 0..levels {
        v = json!([v]);
    }
    v
}

fn deep_values_a_server_accepts_reach_every_server(adapter: &str) {
    let redis = RedisServer::start();
    let args = ["--redis-url", &redis.url(), "--adapter", adapter];
    let a = Server::start(&args);
    let b = Server::start(&args);
    let mut alice = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());
    eventually("both servers see each other", || {
        (bob.request("who", json!([])) == json!({"sockets": 2, "servers": 2})).then_some(())
    });
    // 100 levels: past the old limit of 64, below what socketioxide accepts.
    let deep = nested(100);
    alice.emit("chat message", json!([deep]));
    assert_eq!(alice.next_event("chat message"), vec![deep.clone()]);
    assert_eq!(
        bob.next_event("chat message"),
        vec![deep],
        "what reached the sender's server reached the other one"
    );
    assert_eq!(metric(&a, "crosscast_operations_refused_total"), 0);
}

#[test]
fn classic_deep_values_a_server_accepts_reach_every_server() {
    deep_values_a_server_accepts_reach_every_server("classic");
}

#[test]
fn sharded_deep_values_a_server_accepts_reach_every_server() {
    deep_values_a_server_accepts_reach_every_server("sharded");
}
