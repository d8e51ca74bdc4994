//! The HTTP side of `crosscast serve`: the page, the embedded Socket.IO client, `/healthz`
//! (with and without Redis, and while Redis is down) and `/metrics`.
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::RedisServer;
use serde_json::{Value, json};
use server_support::{Client, Server, eventually};

#[test]
fn the_page_and_the_official_client_are_served_from_the_binary() {
    let server = Server::start(&[]);
    let (status, page) = server.get("/");
    assert_eq!(status, 200);
    for needle in [
        "<script src=\"/assets/socket.io.min.js\"></script>",
        "id=\"messages\"",
        "id=\"input\"",
        "id=\"room\"",
        "id=\"online\"",
        "id=\"state\"",
        "emitWithAck(\"who\")",
    ] {
        assert!(page.contains(needle), "the page lacks {needle}");
    }
    let (status, js) = server.get("/assets/socket.io.min.js");
    assert_eq!(status, 200);
    assert!(
        js.starts_with("/*!\n * Socket.IO v4.8.4"),
        "{}",
        &js[..js.len().min(80)]
    );
    assert!(js.len() > 20_000, "{} bytes", js.len());
}

#[test]
fn the_admin_ui_is_served_at_admin_only_with_admin() {
    let plain = Server::start(&[]);
    assert_eq!(plain.get("/admin/").0, 404, "no UI without --admin");
    let server = Server::start(&["--admin", "--admin-no-auth"]);
    let (status, page) = server.get("/admin/");
    assert_eq!(status, 200);
    assert!(page.contains("<title>Socket.IO Admin UI</title>"), "{page}");
    // Every script and stylesheet the page loads is served.
    let assets: Vec<&str> = page
        .split(['"', '\''])
        .filter(|s| (s.starts_with("js/") || s.starts_with("css/")) && !s.contains(' '))
        .collect();
    assert!(assets.len() >= 4, "{assets:?}");
    for asset in assets {
        let (status, body) = server.get(&format!("/admin/{asset}"));
        assert_eq!(status, 200, "{asset}");
        assert!(body.len() > 100, "{asset}: {} bytes", body.len());
    }
    assert_eq!(server.get("/admin/js/nothing.js").0, 404);
    let (status, body) = server.get("/healthz");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["admin_ui"], "0.5.1");
}

#[test]
fn healthz_without_redis() {
    let server = Server::start(&[]);
    let (status, body) = server.get("/healthz");
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["adapter"], "memory");
    assert_eq!(health["uid"], server.uid());
    assert_eq!(
        health["redis"],
        json!({"configured": false, "connected": null})
    );
}

#[test]
fn healthz_follows_redis_down_and_back() {
    let mut redis = RedisServer::start();
    let server = Server::start(&["--redis-url", &redis.url(), "--adapter", "classic"]);
    let health = |server: &Server| {
        let (status, body) = server.get("/healthz");
        (status, serde_json::from_str::<Value>(&body).unwrap())
    };
    let (status, body) = health(&server);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["adapter"], "classic");
    assert_eq!(body["uid"], server.uid());
    assert_eq!(
        body["redis"],
        json!({"configured": true, "connected": true})
    );

    redis.stop();
    let body = eventually("/healthz answers 503", || {
        let (status, body) = health(&server);
        (status == 503).then_some(body)
    });
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["redis"]["connected"], false);

    redis.restart();
    eventually("/healthz answers 200 again", || {
        (health(&server).0 == 200).then_some(())
    });
    let (status, body) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("crosscast_redis_up 1"), "{body}");
    let reconnects = sample(
        &body,
        "crosscast_redis_reconnects_total{connection=\"bridge\"}",
    );
    assert!(reconnects >= 1, "{body}");
}

/// The value of the sample `name` (with labels) in a Prometheus text.
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in {text}"))
}

#[test]
fn metrics_count_sockets_and_messages() {
    let server = Server::start(&[]);
    let (status, text) = server.get("/metrics");
    assert_eq!(status, 200);
    for name in [
        "# TYPE crosscast_connected_sockets gauge",
        "# TYPE crosscast_messages_published_total counter",
        "# TYPE crosscast_messages_received_total counter",
        "# TYPE crosscast_messages_dropped_total counter",
        "# TYPE crosscast_decode_errors_total counter",
        "crosscast_requests_total{outcome=\"completed\"}",
        "crosscast_requests_total{outcome=\"timed_out\"}",
        "crosscast_requests_total{outcome=\"partial\"}",
        "crosscast_redis_reconnects_total{connection=\"cluster\"}",
    ] {
        assert!(text.contains(name), "/metrics lacks {name}: {text}");
    }
    assert_eq!(sample(&text, "crosscast_connected_sockets"), 0);
    for reason in [
        "connections",
        "payload",
        "packet",
        "rate",
        "flood",
        "requests",
        "room",
        "rooms",
        "sse",
    ] {
        let name = format!("crosscast_client_refused_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&text, &name), 0, "{name}");
    }

    let mut alice = Client::connect(&server.url());
    let _bob = Client::connect(&server.url());
    alice.emit("chat message", json!(["one"]));
    alice.next_event("chat message");
    let text = server.get("/metrics").1;
    assert_eq!(sample(&text, "crosscast_connected_sockets"), 2);
    assert_eq!(sample(&text, "crosscast_chat_messages_total"), 1);
}
