//! `crosscast serve --publish CHANNEL[:EVENT]`: client events go out on a plain Redis channel,
//! once each whichever server the client is on, and never come back as a second copy when
//! the same channel is also a `--bridge` channel.
#![allow(clippy::unwrap_used)]

mod server_support;

use std::time::Duration;

use crosscast_tests::redis_server::RedisServer;
use serde_json::{Value, json};
use server_support::{Client, RawSubscriber, Server, assert_one_line_error, eventually, run};

/// The value of the `/metrics` sample `line` (the name with its labels).
fn sample(server: &Server, line: &str) -> u64 {
    let text = server.get("/metrics").1;
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {line} in {text}"))
}

/// Waits until the sample `line` of `server` is `n`: a counter of what Redis accepted moves
/// when Redis answers, which may be after a subscriber or the sender saw the message.
fn settles_at(server: &Server, line: &str, n: u64) {
    eventually(&format!("{line} == {n}"), || {
        (sample(server, line) == n).then_some(())
    });
}

fn wait_for_subscribers(redis: &RedisServer, channel: &str, n: usize) {
    eventually(&format!("{n} subscribers of {channel}"), || {
        let reply = redis.cli(&["PUBSUB", "NUMSUB", channel]);
        (reply.lines().nth(1) == Some(n.to_string().as_str())).then_some(())
    });
}

#[test]
fn a_raw_subscriber_sees_each_chat_message_once_whichever_server_the_sender_is_on() {
    let redis = RedisServer::start();
    let url = redis.url();
    let args = ["--redis-url", url.as_str(), "--publish", "chat"];
    let a = Server::start(&args);
    let b = Server::start(&args);
    let mut raw = RawSubscriber::subscribe(redis.port(), "chat", false);
    let mut alice = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());

    alice.emit("chat message", json!(["hi from a"]));
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.next_event("chat message"), vec![json!("hi from a")]);
    }
    bob.emit("chat message", json!([{"text": "hi from b", "n": 2}]));
    for client in [&mut alice, &mut bob] {
        assert_eq!(
            client.next_event("chat message"),
            vec![json!({"text": "hi from b", "n": 2})]
        );
    }
    // Other events are not published.
    assert_eq!(alice.request("join", json!(["room"])), json!(true));
    alice.emit("chat message", json!(["end"]));

    // Strings as they are, anything else as JSON; nothing twice.
    assert_eq!(
        raw.messages_until("end"),
        ["hi from a", r#"{"text":"hi from b","n":2}"#, "end"]
    );
    assert_eq!(raw.any_within(Duration::from_millis(300)), None);
    for client in [&mut alice, &mut bob] {
        assert_eq!(
            client.events_until("chat message", &json!("end")),
            Vec::<Value>::new()
        );
    }
    settles_at(&a, "crosscast_publish_messages_total", 2);
    settles_at(&b, "crosscast_publish_messages_total", 1);
}

#[test]
fn any_client_event_can_be_published_and_a_too_large_one_is_counted_not_sent() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Server::start(&[
        "--redis-url",
        url.as_str(),
        "--publish",
        "clicks:click",
        "--publish",
        "chat",
        "--publish-max-bytes",
        "16",
    ]);
    let mut clicks = RawSubscriber::subscribe(redis.port(), "clicks", false);
    let mut chat = RawSubscriber::subscribe(redis.port(), "chat", false);
    let mut alice = Client::connect(&a.url());

    alice.emit("click", json!([{"x": 3, "y": 4}]));
    assert_eq!(clicks.next_message(), r#"{"x":3,"y":4}"#);

    let long = "a chat message longer than sixteen bytes";
    alice.emit("chat message", json!([long]));
    // The sender's own delivery is unaffected.
    assert_eq!(alice.next_event("chat message"), vec![json!(long)]);
    alice.emit("chat message", json!(["short"]));
    assert_eq!(alice.next_event("chat message"), vec![json!("short")]);
    assert_eq!(chat.next_message(), "short");
    assert_eq!(
        sample(&a, "crosscast_publish_dropped_total{reason=\"too_large\"}"),
        1
    );
    settles_at(&a, "crosscast_publish_messages_total", 2);
}

#[test]
fn bridge_and_publish_on_one_channel_deliver_everything_exactly_once() {
    let redis = RedisServer::start();
    let url = redis.url();
    let args = [
        "--redis-url",
        url.as_str(),
        "--publish",
        "chat",
        "--bridge",
        "chat:chat message",
    ];
    let a = Server::start(&args);
    let b = Server::start(&args);
    // Two servers and the raw subscriber.
    let mut raw = RawSubscriber::subscribe(redis.port(), "chat", false);
    wait_for_subscribers(&redis, "chat", 3);
    let mut alice = Client::connect(&a.url());
    let mut alex = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());

    alice.emit("chat message", json!(["from alice"]));
    bob.emit("chat message", json!(["from bob"]));
    // What another program publishes on the channel reaches every client once too.
    assert_eq!(redis.cli(&["PUBLISH", "chat", "from a program"]), "3");
    alex.emit("chat message", json!(["end"]));

    // Each server delivers its own clients' messages at once and the others' through its
    // bridge, so the order differs by client: take four, in any order.
    for client in [&mut alice, &mut alex, &mut bob] {
        let mut got: Vec<Value> = (0..4)
            .flat_map(|_| client.next_event("chat message"))
            .collect();
        got.sort_by_key(Value::to_string);
        assert_eq!(
            got,
            [
                json!("end"),
                json!("from a program"),
                json!("from alice"),
                json!("from bob")
            ]
        );
    }
    let mut published = raw.messages_until("end");
    published.sort();
    assert_eq!(
        published,
        ["end", "from a program", "from alice", "from bob"]
    );

    // No late second copy: a final message finds nothing else pending.
    bob.emit("chat message", json!(["sync"]));
    for client in [&mut alice, &mut alex, &mut bob] {
        assert_eq!(
            client.events_until("chat message", &json!("sync")),
            Vec::<Value>::new()
        );
    }
    // Each server skipped its own messages when they came back.
    eventually("a skipped its 2 echoes", || {
        (sample(&a, "crosscast_publish_echoes_skipped_total") == 2).then_some(())
    });
    eventually("b skipped its 2 echoes", || {
        (sample(&b, "crosscast_publish_echoes_skipped_total") == 2).then_some(())
    });
    // Bridged: the program's message on both servers, and the other server's messages.
    assert_eq!(sample(&a, "crosscast_bridge_messages_total"), 3);
    assert_eq!(sample(&b, "crosscast_bridge_messages_total"), 3);
}

#[test]
fn sharded_mode_publishes_on_the_shard_channel() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Server::start(&[
        "--redis-url",
        url.as_str(),
        "--adapter",
        "sharded",
        "--publish",
        "chat",
    ]);
    let mut raw = RawSubscriber::subscribe(redis.port(), "chat", true);
    let mut plain = RawSubscriber::subscribe(redis.port(), "chat", false);
    let mut alice = Client::connect(&a.url());
    alice.emit("chat message", json!(["sharded"]));
    assert_eq!(alice.next_event("chat message"), vec![json!("sharded")]);
    assert_eq!(raw.next_message(), "sharded");
    assert_eq!(plain.any_within(Duration::from_millis(300)), None);
}

#[test]
fn redis_down_does_not_block_the_chat_and_the_lost_publishes_are_counted() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let a = Server::start(&["--redis-url", url.as_str(), "--publish", "chat"]);
    let mut alice = Client::connect(&a.url());
    alice.emit("chat message", json!(["before"]));
    assert_eq!(alice.next_event("chat message"), vec![json!("before")]);
    // The client's own copy comes before Redis answers the PUBLISH: wait for the answer, or
    // the stop below could fail that publish too and count it with the three below.
    settles_at(&a, "crosscast_publish_messages_total", 1);
    redis.stop();
    eventually("the server sees Redis down", || {
        (a.get("/healthz").0 == 503).then_some(())
    });
    for i in 0..3 {
        alice.emit("chat message", json!([format!("while down {i}")]));
        assert_eq!(
            alice.next_event("chat message"),
            vec![json!(format!("while down {i}"))]
        );
    }
    settles_at(&a, "crosscast_publish_dropped_total{reason=\"redis\"}", 3);
    assert_eq!(sample(&a, "crosscast_publish_messages_total"), 1);
}

#[test]
fn bad_publish_flags_are_one_line_errors() {
    for (args, env, needle) in [
        (&["serve", "--publish", ":chat"][..], &[][..], "CHANNEL"),
        (&["serve", "--publish", "chat:"][..], &[][..], "CHANNEL"),
        (
            &["serve", "--port", "0", "--publish", "chat"][..],
            &[][..],
            "--redis-url",
        ),
        (
            &["serve", "--port", "0"][..],
            &[("CROSSCAST_PUBLISH", "ok,:bad")][..],
            "CHANNEL",
        ),
        (
            &["serve", "--publish-max-bytes", "0"][..],
            &[][..],
            "publish-max-bytes",
        ),
    ] {
        let out = run(args, env);
        let line = assert_one_line_error(&out);
        assert!(line.contains(needle), "{args:?} {env:?}: {line}");
    }
}
