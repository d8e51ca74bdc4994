//! `crosscast serve --bridge CHANNEL:EVENT`: whatever a program PUBLISHes on a plain Redis
//! channel reaches every client of every server exactly once.
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::RedisServer;
use serde_json::{Value, json};
use server_support::{Client, Server, eventually};

#[test]
fn a_publish_reaches_every_client_exactly_once() {
    let redis = RedisServer::start();
    let url = redis.url();
    let bridges = ["--bridge", "news:news", "--bridge", "alerts:alert"];
    let a = Server::start(&[&["--redis-url", url.as_str()][..], &bridges[..]].concat());
    let b = Server::start(&[&["--redis-url", url.as_str()][..], &bridges[..]].concat());
    let mut alice = Client::connect(&a.url());
    let mut alex = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());
    for channel in ["news", "alerts"] {
        eventually(&format!("both servers subscribe {channel}"), || {
            let reply = redis.cli(&["PUBSUB", "NUMSUB", channel]);
            (reply.lines().nth(1) == Some("2")).then_some(())
        });
    }
    assert_eq!(redis.cli(&["PUBLISH", "news", "hello"]), "2");
    assert_eq!(redis.cli(&["PUBLISH", "alerts", "{\"level\":1}"]), "2");
    assert_eq!(redis.cli(&["PUBLISH", "news", "end"]), "2");
    for client in [&mut alice, &mut alex, &mut bob] {
        assert_eq!(
            client.events_until("news", &json!("end")),
            vec![json!("hello")]
        );
        // The payload is a string, as published.
        assert_eq!(client.next_event("alert"), vec![json!("{\"level\":1}")]);
    }
    // A copy relayed through the cluster from the other server would have been published
    // before this chat message, which also crosses the cluster: none arrived.
    bob.emit("chat message", json!(["sync"]));
    for client in [&mut alice, &mut alex, &mut bob] {
        client.events_until("chat message", &json!("sync"));
        assert_eq!(client.pending("news"), Vec::<Value>::new());
        assert_eq!(client.pending("alert"), Vec::<Value>::new());
    }
    let metrics = a.get("/metrics").1;
    assert!(
        metrics.contains("crosscast_bridge_messages_total 3"),
        "{metrics}"
    );
}
