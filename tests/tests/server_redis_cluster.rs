//! `crosscast serve` and `crosscast emit` on a real 3-master Redis Cluster, classic and
//! sharded, in one cluster with the Node.js peer server on the official adapter (node-redis's
//! cluster client): a chat message from a client of each server reaches the clients of the
//! others, `who` counts every server, and `emit` reaches them all.
//!
//! The seed rule: `--redis-cluster URL,URL,...` (or `CROSSCAST_REDIS_CLUSTER`), or
//! `--redis-url` given more than once; one `--redis-url` is a standalone Redis.
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::RedisCluster;
use serde_json::{Value, json};
use server_support::{Client, NodePeer, Server, assert_one_line_error, eventually, run};

/// Waits until every client sees `sockets` sockets on `servers` servers.
fn wait_who(clients: &mut [&mut Client], sockets: u64, servers: u64) {
    let expected = json!({"sockets": sockets, "servers": servers});
    for client in clients.iter_mut() {
        eventually(&format!("who answers {expected}"), || {
            let who = client.request("who", json!([]));
            (who == expected).then_some(())
        });
    }
}

/// Each client in turn says something; every client (the sender too) hears it.
fn everyone_hears_everyone(clients: &mut [&mut Client]) {
    for from in 0..clients.len() {
        let text = json!({"hello": "cluster", "from": from});
        clients[from].emit("chat message", json!([text]));
        for (i, to) in clients.iter_mut().enumerate() {
            assert_eq!(
                to.next_event("chat message"),
                vec![text.clone()],
                "client {i} hears client {from}"
            );
        }
    }
}

/// Repeats `send` of a probe until every one of `hearers` heard `event` (subscriptions are
/// made in the background), then sends `"last"` and drops every `event` up to it.
fn until_heard(hearers: &mut [&mut Client], event: &str, mut send: impl FnMut(&str)) {
    let mut heard = vec![false; hearers.len()];
    eventually(&format!("every client hears {event:?}"), || {
        send("probe");
        for (i, client) in hearers.iter_mut().enumerate() {
            heard[i] |= !client.pending(event).is_empty();
        }
        heard.iter().all(|h| *h).then_some(())
    });
    send("last");
    for client in hearers.iter_mut() {
        client.events_until(event, &json!("last"));
    }
}

/// The first arguments of the next `n` `event`s, sorted (messages on different channels may
/// arrive in any order through a Redis Cluster's bus).
fn next_sorted(client: &mut Client, event: &str, n: usize) -> Vec<String> {
    let mut got: Vec<String> = (0..n)
        .map(|_| client.next_event(event)[0].to_string())
        .collect();
    got.sort();
    got
}

fn sorted(values: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = values.iter().map(Value::to_string).collect();
    v.sort();
    v
}

/// A room whose channel (sharded: `socket.io#/#<room>#`) lives on another master than the
/// main channel `socket.io#/#`.
fn room_on_another_master(cluster: &RedisCluster) -> String {
    let main = cluster.master_of("socket.io#/#");
    (0..200)
        .map(|i| format!("slot-room-{i}"))
        .find(|room| cluster.master_of(&format!("socket.io#/#{room}#")) != main)
        .expect("200 room names all hash to the main channel's master")
}

/// Two crosscast servers (one with `--redis-cluster`, one with repeated `--redis-url`, both
/// given only some of the nodes: the rest is discovered) and a Node.js server, all on the
/// cluster with `adapter`; one client on each.
fn mixed_cluster(cluster: &RedisCluster, adapter: &str) -> (Vec<Server>, NodePeer, Vec<Client>) {
    let urls = cluster.urls();
    let seeds = urls.join(",");
    let a = Server::start(&["--redis-cluster", &seeds, "--adapter", adapter]);
    let b = Server::start(&[
        "--redis-url",
        &urls[1],
        "--redis-url",
        &urls[2],
        "--adapter",
        adapter,
    ]);
    let node = NodePeer::start(&["--adapter", adapter, "--redis-cluster", &seeds]);
    let clients = vec![
        Client::connect(&a.url()),
        Client::connect(&b.url()),
        Client::connect(node.url()),
    ];
    (vec![a, b], node, clients)
}

fn chat_on_a_redis_cluster(adapter: &str) {
    let cluster = RedisCluster::start(3);
    let (servers, _node, mut clients) = mixed_cluster(&cluster, adapter);
    let [alice, bob, nora] = &mut clients[..] else {
        unreachable!()
    };
    wait_who(&mut [alice, bob, nora], 3, 3);
    everyone_hears_everyone(&mut [alice, bob, nora]);

    // A room on its own slot: only its members hear the room message, on every server.
    let room = room_on_another_master(&cluster);
    assert_eq!(nora.request("join", json!([room])), json!(true));
    assert_eq!(bob.request("join", json!([room])), json!(true));
    until_heard(&mut [nora, bob], "chat message", |text| {
        alice.emit("room message", json!([{"room": room, "msg": text}]));
    });
    alice.emit("chat message", json!(["to all"]));
    // Alice is not in the room: the first chat message she hears is the one to all.
    assert_eq!(alice.next_event("chat message"), vec![json!("to all")]);

    for server in &servers {
        let (status, health) = server.get("/healthz");
        assert_eq!(status, 200, "{health}");
        let health: Value = serde_json::from_str(&health).unwrap();
        assert_eq!(health["adapter"], adapter, "{health}");
        assert_eq!(health["redis"]["connected"], true, "{health}");
        let log = server.stderr();
        assert!(!log.contains("panicked"), "{log}");
    }
}

#[test]
fn classic_servers_of_both_kinds_chat_on_a_redis_cluster() {
    chat_on_a_redis_cluster("classic");
}

#[test]
fn sharded_servers_of_both_kinds_chat_on_a_redis_cluster() {
    chat_on_a_redis_cluster("sharded");
}

#[test]
fn the_cluster_seeds_come_from_the_environment_too() {
    let cluster = RedisCluster::start(3);
    let seeds = cluster.urls()[..2].join(",");
    let a = Server::start_with_env(
        &["--adapter", "sharded"],
        &[("CROSSCAST_REDIS_CLUSTER", &seeds)],
    );
    let b = Server::start(&[
        "--adapter",
        "sharded",
        "--redis-cluster",
        &cluster.urls()[2],
    ]);
    let mut alice = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());
    wait_who(&mut [&mut alice, &mut bob], 2, 2);
    everyone_hears_everyone(&mut [&mut alice, &mut bob]);
}

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

fn emit_on_a_redis_cluster(adapter: &str) {
    let cluster = RedisCluster::start(3);
    let seeds = cluster.urls().join(",");
    let (_servers, _node, mut clients) = mixed_cluster(&cluster, adapter);
    let [alice, bob, nora] = &mut clients[..] else {
        unreachable!()
    };
    wait_who(&mut [alice, bob, nora], 3, 3);
    let base = [
        "emit",
        "--redis-cluster",
        seeds.as_str(),
        "--adapter",
        adapter,
    ];
    until_heard(&mut [alice, bob, nora], "probe", |text| {
        emit(&joined(&base, &["probe", text]));
    });

    let room = room_on_another_master(&cluster);
    assert_eq!(bob.request("join", json!([room])), json!(true));
    assert_eq!(nora.request("join", json!([room])), json!(true));
    until_heard(&mut [bob, nora], "room probe", |text| {
        emit(&joined(&base, &["--to", &room, "room probe", text]));
    });
    emit(&joined(&base, &["--to", &room, "note", "to the room"]));
    emit(&joined(&base, &["--except", &room, "note", "not the room"]));
    emit(&joined(&base, &["note", "{\"to\":\"all\"}", "42"]));
    let all = json!({"to": "all"});
    assert_eq!(
        next_sorted(alice, "note", 2),
        sorted(&[json!("not the room"), all.clone()])
    );
    for member in [bob, nora] {
        assert_eq!(
            next_sorted(member, "note", 2),
            sorted(&[json!("to the room"), all.clone()])
        );
    }
}

#[test]
fn classic_emit_reaches_every_server_of_a_redis_cluster() {
    emit_on_a_redis_cluster("classic");
}

#[test]
fn sharded_emit_reaches_every_server_of_a_redis_cluster() {
    emit_on_a_redis_cluster("sharded");
}

/// Arguments, environment, and a word the error must mention.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_cluster_seeds_are_one_line_and_exit_2() {
    let cases: [Case<'_>; 7] = [
        (&["serve", "--redis-cluster", ""], &[], "--redis-cluster"),
        (
            &[
                "serve",
                "--redis-cluster",
                "redis://127.0.0.1:1,,redis://127.0.0.1:2",
            ],
            &[],
            "--redis-cluster",
        ),
        (
            &["serve", "--redis-cluster", "http://127.0.0.1:1"],
            &[],
            "--redis-cluster",
        ),
        (
            &["serve"],
            &[("CROSSCAST_REDIS_CLUSTER", "not a url")],
            "CROSSCAST_REDIS_CLUSTER",
        ),
        (
            &[
                "serve",
                "--redis-url",
                "redis://127.0.0.1:1",
                "--redis-cluster",
                "redis://127.0.0.1:2",
            ],
            &[],
            "--redis-cluster",
        ),
        (
            &["emit", "--redis-cluster", "nonsense", "chat message", "hi"],
            &[],
            "--redis-cluster",
        ),
        (
            &["emit", "--redis-url", "redis://:hunter2@", "chat message"],
            &[],
            "--redis-url",
        ),
    ];
    for (args, env, mentions) in cases {
        // A serve that wrongly started would take port 3000 without this.
        let args = if args[0] == "serve" {
            joined(args, &["--port", "0"])
        } else {
            args.to_vec()
        };
        let out = run(&args, env);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {line}");
        assert!(
            line.contains(mentions),
            "{args:?} {env:?}: {line:?} does not mention {mentions}"
        );
        assert!(
            !line.contains("hunter2"),
            "the error shows a password: {line}"
        );
    }
}
