//! `crosscast serve`'s `/metrics` while Redis does not answer: `published` counts only what
//! Redis accepted, the rest is dropped with a reason, and the queue byte bounds are flags.
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::RedisServer;
use serde_json::json;
use server_support::{Client, Server, eventually, run};

/// The value of the sample `name` (with labels) in a Prometheus text.
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in {text}"))
}

const PUBLISHED: &str = "crosscast_messages_published_total";
const DROPPED: &str = "crosscast_messages_dropped_total";

#[test]
fn published_does_not_grow_while_redis_does_not_answer() {
    let redis = RedisServer::start();
    let server = Server::start(&["--redis-url", &redis.url()]);
    let mut alice = Client::connect(&server.url());
    alice.emit("chat message", json!(["before"]));
    assert_eq!(alice.next_event("chat message"), vec![json!("before")]);
    eventually("the first message is published", || {
        (sample(&server.get("/metrics").1, PUBLISHED) >= 1).then_some(())
    });

    // PUBLISH waits in Redis for 10 s; the server gives up after its 2 s response timeout.
    assert_eq!(redis.cli(&["CLIENT", "PAUSE", "10000", "WRITE"]), "OK");
    let before = server.get("/metrics").1;
    for i in 0..3 {
        alice.emit("chat message", json!([i]));
        assert_eq!(alice.next_event("chat message"), vec![json!(i)]);
    }
    let after = eventually("three more messages are dropped", || {
        let text = server.get("/metrics").1;
        (sample(&text, DROPPED) >= sample(&before, DROPPED) + 3).then_some(text)
    });
    assert_eq!(
        sample(&after, PUBLISHED),
        sample(&before, PUBLISHED),
        "published grew while Redis answered nothing: {after}"
    );
    let redis_failed = sample(
        &after,
        "crosscast_cluster_publish_dropped_total{reason=\"redis_error\"}",
    ) + sample(
        &after,
        "crosscast_cluster_publish_dropped_total{reason=\"redis_down\"}",
    );
    assert!(redis_failed >= 3, "{after}");
    assert_eq!(redis.cli(&["CLIENT", "UNPAUSE"]), "OK");

    // Redis answers again: published grows again.
    let published = sample(&after, PUBLISHED);
    eventually("a message after the pause is published", || {
        alice.emit("chat message", json!(["after"]));
        let _ = alice.next_event("chat message");
        (sample(&server.get("/metrics").1, PUBLISHED) > published).then_some(())
    });
    // The request outcomes say what they count.
    let text = server.get("/metrics").1;
    let help = text
        .lines()
        .find(|l| l.starts_with("# HELP crosscast_requests_total "))
        .unwrap_or_else(|| panic!("no help of crosscast_requests_total in {text}"));
    for part in [
        "partial (completed with answers missing from servers known to have left",
        "timed_out (ended by the requests timeout with the answers that had arrived)",
    ] {
        assert!(help.contains(part), "{help}");
    }
    for name in [
        "crosscast_queued_bytes{queue=\"cluster_publish\"}",
        "crosscast_cluster_inbox_dropped_total{reason=\"queue_bytes\"}",
        "crosscast_redis_inbound_dropped_total{connection=\"cluster\",reason=\"queue_bytes\"}",
    ] {
        sample(&server.get("/metrics").1, name);
    }
}

#[test]
fn the_queue_byte_bounds_are_flags_and_env_variables() {
    let help = run(&["serve", "--help"], &[]);
    let help = String::from_utf8_lossy(&help.stdout);
    for (flag, env) in [
        (
            "--cluster-publish-queue-bytes",
            "CROSSCAST_CLUSTER_PUBLISH_QUEUE_BYTES",
        ),
        ("--cluster-inbox-bytes", "CROSSCAST_CLUSTER_INBOX_BYTES"),
        (
            "--redis-inbound-queue-bytes",
            "CROSSCAST_REDIS_INBOUND_QUEUE_BYTES",
        ),
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
        assert!(help.contains(env), "{env} in {help}");
    }
    let out = run(
        &["serve", "--port", "0", "--cluster-inbox-bytes", "12"],
        &[],
    );
    server_support::assert_one_line_error(&out);
    let out = run(
        &["serve", "--port", "0"],
        &[("CROSSCAST_CLUSTER_PUBLISH_QUEUE_BYTES", "lots")],
    );
    server_support::assert_one_line_error(&out);
}
