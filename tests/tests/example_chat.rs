//! `host-native/examples/chat.rs`, the example app of the crate for Rust teams, run as a
//! process: two instances and a Node.js server on the official `@socket.io/redis-adapter`
//! (`interop/node/peer-server.js`) on a private `redis-server` (classic and sharded) and on a
//! real 3-master Redis Cluster; a `chat message` from a client of one instance reaches the
//! clients of the other and of the Node server.
//!
//! The example is `target/<profile>/examples/chat`, built by `cargo build -p crosscast
//! --examples` (scripts/test.sh) or `cargo test --workspace --all-targets`.
#![allow(clippy::unwrap_used)]

mod server_support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crosscast_tests::redis_server::{RedisCluster, RedisServer};
use serde_json::{Value, json};
use server_support::{Client, NodePeer, WAIT, eventually, repo_root, start_line};

/// The example binary built by cargo for this profile.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("examples/chat");
    let hint = "build it with `cargo build -p crosscast --examples`";
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {hint}", bin.display()));
    let source = repo_root().join("host-native/examples/chat.rs");
    if let Ok(written) = std::fs::metadata(&source).and_then(|m| m.modified()) {
        assert!(
            built >= written,
            "{} is older than {}: {hint}",
            bin.display(),
            source.display()
        );
    }
    bin
}

/// A running `examples/chat`, killed on drop.
struct Example {
    child: Child,
    url: String,
}

impl Example {
    /// Starts `chat --port 0 ARGS` and waits for its `listening on http://ADDR` line.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(example())
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn examples/chat");
        let Some(line) = start_line(&mut child) else {
            let _ = child.kill();
            let status = child.wait();
            panic!("examples/chat {args:?} printed no start line within {WAIT:?} ({status:?})");
        };
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected start line {line:?}"))
            .to_owned();
        Self { child, url }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two instances of the example with `args` and a Node.js server with `node_args`; one client
/// on each. Once every server sees a cluster of three, a message of the first instance's
/// client reaches all three clients, and one of the second's too.
fn message_crosses(args: &[&str], node_args: &[&str]) {
    let a = Example::start(args);
    let b = Example::start(args);
    let node = NodePeer::start(node_args);
    let mut alice = Client::connect(&a.url);
    let mut bob = Client::connect(&b.url);
    let mut carol = Client::connect(node.url());
    for client in [&mut alice, &mut bob] {
        eventually("the example counts a cluster of 3 servers", || {
            (client.request("servers", json!([])) == json!(3)).then_some(())
        });
    }
    eventually("the Node.js server counts a cluster of 3 servers", || {
        (carol.request("who", json!([]))["servers"] == json!(3)).then_some(())
    });

    alice.emit("chat message", json!(["hello from a"]));
    for client in [&mut alice, &mut bob, &mut carol] {
        assert_eq!(
            client.next_event("chat message"),
            vec![json!("hello from a")]
        );
    }
    bob.emit("chat message", json!([{"from": "b", "n": 2}]));
    for client in [&mut alice, &mut bob, &mut carol] {
        assert_eq!(
            client.next_event("chat message"),
            vec![json!({"from": "b", "n": 2})]
        );
    }
    let who: Value = carol.request("who", json!([]));
    assert_eq!(
        who["sockets"],
        json!(3),
        "fetchSockets sees every socket: {who}"
    );
}

#[test]
fn classic_on_one_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    message_crosses(&[&url], &["--redis-url", &url]);
}

#[test]
fn sharded_on_one_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    message_crosses(
        &["--sharded", &url],
        &["--redis-url", &url, "--adapter", "sharded"],
    );
}

#[test]
fn classic_and_sharded_on_a_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let urls = cluster.urls();
    let seeds: Vec<&str> = urls.iter().map(String::as_str).collect();
    let node_seeds = urls.join(",");
    let mut classic = vec!["--cluster"];
    classic.extend(&seeds);
    message_crosses(&classic, &["--redis-cluster", &node_seeds]);
    let mut sharded = vec!["--cluster", "--sharded"];
    sharded.extend(&seeds);
    message_crosses(
        &sharded,
        &["--redis-cluster", &node_seeds, "--adapter", "sharded"],
    );
}

#[test]
fn a_bad_argument_is_an_error_and_no_server() {
    let out = Command::new(example())
        .args(["--port", "http"])
        .stdin(Stdio::null())
        .output()
        .expect("run examples/chat");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "chat: --port: not a port: \"http\"\n"
    );
    assert!(out.stdout.is_empty(), "it started: {out:?}");
}
