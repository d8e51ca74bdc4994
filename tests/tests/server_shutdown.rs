//! Graceful shutdown of `crosscast serve` on SIGTERM, on a real `redis-server` with real
//! Socket.IO clients: what was emitted before the signal still reaches the other servers, a
//! client sending through the shutdown causes no panic, and a rolling restart of one of three
//! servers loses no message sent to the other two.
#![allow(clippy::unwrap_used)]

mod server_support;

use std::time::{Duration, Instant};

use crosscast_tests::redis_server::{RedisServer, free_port};
use serde_json::{Value, json};
use server_support::{Client, Server, WAIT, eventually};

/// Waits until every one of `servers` sees a cluster of `n` servers (asked through `client`).
fn cluster_of(client: &mut Client, n: u64) {
    eventually(&format!("a cluster of {n} servers"), || {
        (client.request("who", json!([]))["servers"] == n).then_some(())
    });
}

/// The JSON lines of `server`'s log (`--log-format json`).
fn json_log(server: &Server) -> Vec<Value> {
    server
        .stderr()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l:?}")))
        .collect()
}

/// The `n` of the next `count` `chat message`s `client` receives, sorted.
fn numbers(client: &mut Client, count: usize) -> Vec<u64> {
    let mut seen: Vec<u64> = (0..count)
        .map(|_| client.next_event("chat message")[0]["n"].as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    seen
}

#[test]
fn sigterm_drains_what_was_emitted_just_before() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut a = Server::start(&["--redis-url", &url]);
    let b = Server::start(&["--redis-url", &url]);
    let mut alice = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());
    cluster_of(&mut bob, 2);
    // b tracks a as a crosscast peer (a's heartbeat reached it).
    let peer = format!("peer={}", a.uid());
    eventually("server b sees a as a peer", || {
        b.stderr()
            .lines()
            .any(|l| l.contains("crosscast peer up") && l.contains(&peer))
            .then_some(())
    });

    // Redis holds every write for a second: what server a publishes waits in its queue.
    redis.cli(&["CLIENT", "PAUSE", "1000", "WRITE"]);
    for n in 0..50 {
        alice.emit("chat message", json!([{ "n": n }]));
    }
    // Server a handled all 50: alice got each back from it (her own server delivers at once;
    // handlers run concurrently, so not necessarily in order).
    assert_eq!(numbers(&mut alice, 50), (0..50).collect::<Vec<u64>>());
    a.signal("TERM");
    // Alice is told to reconnect elsewhere: her transport closes (not "io server disconnect").
    assert_eq!(alice.next_disconnect(), "transport close");
    assert_eq!(a.wait_exit().code(), Some(0), "{}", a.stderr());

    // Everything a had queued was published before it left: bob got all 50.
    assert_eq!(numbers(&mut bob, 50), (0..50).collect::<Vec<u64>>());
    // And its leaving was announced (not noticed by a missed heartbeat).
    let left = format!("peer={} closed=true", a.uid());
    let announced = || {
        b.stderr()
            .lines()
            .any(|l| l.contains("crosscast peer down") && l.contains(&left))
    };
    let deadline = Instant::now() + WAIT;
    while !announced() {
        assert!(
            Instant::now() < deadline,
            "server b does not log that a left; a:\n{}\nb:\n{}",
            a.stderr(),
            b.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_client_sending_through_the_shutdown_causes_no_panic() {
    let mut server = Server::start(&[
        "--max-events-per-second",
        "1000000",
        "--events-burst",
        "1000000",
        "--log-format",
        "json",
    ]);
    let mut alice = Client::connect(&server.url());
    alice.flood("chat message", json!(["again"]), 50_000);
    // The server is busy with them when the signal comes.
    assert_eq!(alice.next_event("chat message"), vec![json!("again")]);
    server.signal("TERM");
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.stderr());
    assert_eq!(alice.next_disconnect(), "transport close");
    let log = server.stderr();
    assert!(!log.contains("panicked"), "{log}");
    // Every line is still JSON (a panic would print its own lines), and the last one says
    // how many events came too late to be handled.
    let lines = json_log(&server);
    let stopped = lines.last().unwrap();
    assert_eq!(stopped["message"], "stopped", "{stopped}");
    assert!(stopped["events_not_handled"].is_u64(), "{stopped}");
}

/// Every `chat message` `client` receives until the end markers of both senders, as
/// `(sender, sequence number)`.
fn chat_until_the_ends(client: &mut Client) -> Vec<(String, u64)> {
    let mut seen = Vec::new();
    let mut ends = 0;
    while ends < 2 {
        let args = client.next_event("chat message");
        let message = &args[0];
        if message["n"] == "end" {
            ends += 1;
            continue;
        }
        let from = message["from"].as_str().unwrap().to_owned();
        seen.push((from, message["n"].as_u64().unwrap()));
    }
    seen
}

#[test]
fn a_rolling_restart_of_one_server_loses_no_message_sent_to_the_others() {
    let redis = RedisServer::start();
    let url = redis.url();
    let port = free_port().to_string();
    let first = [
        "--redis-url",
        url.as_str(),
        "--port",
        &port,
        "--log-format",
        "json",
    ];
    let mut s1 = Server::start(&first);
    let s2 = Server::start(&["--redis-url", &url, "--log-format", "json"]);
    let s3 = Server::start(&["--redis-url", &url, "--log-format", "json"]);
    // A client of server 1 that reconnects on its own, as a browser's does.
    let mut carol = Client::connect_with(
        &s1.url(),
        &json!({"reconnection": true, "reconnectionDelay": 100, "reconnectionDelayMax": 400}),
    );
    let mut dave = Client::connect_with(
        &s1.url(),
        &json!({"transports": ["polling"], "reconnection": true, "reconnectionDelay": 100}),
    );
    let mut c2 = Client::connect(&s2.url());
    let mut c3 = Client::connect(&s3.url());
    cluster_of(&mut c2, 3);
    cluster_of(&mut c3, 3);
    let old_uid = s1.uid().to_owned();
    for server in [&s2, &s3] {
        eventually("servers 2 and 3 track server 1 as a peer", || {
            json_log(server)
                .iter()
                .any(|l| l["message"] == "crosscast peer up" && l["peer"] == old_uid)
                .then_some(())
        });
    }

    // c2 and c3 each send N numbered messages, 50 a second, while server 1 gets SIGTERM
    // after the first third and is started again on its port as soon as it has exited.
    const N: u64 = 150;
    let deadline = Instant::now() + 2 * WAIT;
    let mut restarted: Option<Server> = None;
    let mut n = 0;
    while n < N || restarted.is_none() {
        assert!(Instant::now() < deadline, "the restart did not complete");
        if n < N {
            c2.emit("chat message", json!([{ "from": "c2", "n": n }]));
            c3.emit("chat message", json!([{ "from": "c3", "n": n }]));
            n += 1;
            if n == N / 3 {
                s1.signal("TERM");
            }
        }
        if n >= N / 3
            && restarted.is_none()
            && let Some(status) = s1.exited()
        {
            assert_eq!(status.code(), Some(0), "{}", s1.stderr());
            restarted = Some(Server::start(&first));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    c2.emit("chat message", json!([{ "from": "c2", "n": "end" }]));
    c3.emit("chat message", json!([{ "from": "c3", "n": "end" }]));

    // Every message reached both clients that stayed: none missing, none twice.
    let expected: Vec<(String, u64)> = ["c2", "c3"]
        .iter()
        .flat_map(|from| (0..N).map(move |n| (from.to_string(), n)))
        .collect();
    for (name, client) in [("c2", &mut c2), ("c3", &mut c3)] {
        let mut seen = chat_until_the_ends(client);
        seen.sort();
        assert_eq!(seen.len(), expected.len(), "{name} got {seen:?}");
        assert_eq!(seen, expected, "{name}");
    }

    // Server 1's clients saw their transport close (a long-polling client between two polls
    // finds its session gone: "transport error"), never "io server disconnect", and
    // reconnected on their own to the new server 1.
    let s1 = restarted.unwrap();
    assert_eq!(carol.next_disconnect(), "transport close");
    let reason = dave.next_disconnect();
    assert!(
        reason == "transport close" || reason == "transport error",
        "{reason}"
    );
    for client in [&mut carol, &mut dave] {
        client.next_connect();
        assert_eq!(client.request("who", json!([]))["servers"], 3);
    }

    // Servers 2 and 3 saw the old server 1 leave (announced) and the new one come, each
    // line in their own name.
    for server in [&s2, &s3] {
        for (message, peer) in [
            ("crosscast peer down", old_uid.as_str()),
            ("crosscast peer up", s1.uid()),
        ] {
            let line = eventually(&format!("{message} {peer}"), || {
                json_log(server)
                    .into_iter()
                    .find(|l| l["message"] == message && l["peer"] == peer)
            });
            assert_eq!(line["uid"], server.uid(), "{line}");
            if message == "crosscast peer down" {
                assert_eq!(line["closed"], true, "{line}");
            }
        }
    }
}
