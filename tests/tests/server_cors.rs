//! `crosscast serve --cors-origin`: which web pages may use the Socket.IO endpoint. Real
//! Socket.IO clients (WebSocket, with the `Origin` a browser would send) and plain HTTP
//! Engine.IO exchanges (long-polling handshake, a packet, a poll, the upgrade of the session).
#![allow(clippy::unwrap_used)]

mod server_support;

use serde_json::json;
use server_support::{Client, Server, assert_one_line_error, http_request, run};

const HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

/// The upgrade request headers of a WebSocket (RFC 6455) from `origin`.
fn upgrade_headers(origin: &str) -> Vec<(&str, &str)> {
    vec![
        ("Origin", origin),
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]
}

/// A long-polling session from `origin` taken as far as the WebSocket upgrade: handshake,
/// namespace connect, poll, upgrade. Asserts the CORS headers a browser needs at each
/// polling step (`allow_origin`: the expected `Access-Control-Allow-Origin`, `None` for a
/// same-origin page, which needs none).
fn polling_session_upgrades(server: &Server, origin: &str, allow_origin: Option<&str>) {
    let addr = server.addr();
    let hello = http_request(addr, "GET", HANDSHAKE, &[("Origin", origin)], "");
    assert_eq!(hello.status, 200, "{hello:?}");
    assert_eq!(hello.header("access-control-allow-origin"), allow_origin);
    let open: serde_json::Value = serde_json::from_str(&hello.body[1..]).unwrap();
    let sid = open["sid"].as_str().unwrap().to_owned();
    let session = format!("{HANDSHAKE}&sid={sid}");

    let sent = http_request(addr, "POST", &session, &[("Origin", origin)], "40");
    assert_eq!((sent.status, sent.body.as_str()), (200, "ok"), "{sent:?}");
    assert_eq!(sent.header("access-control-allow-origin"), allow_origin);
    // The namespace's answer, in this poll or a later one (a ping may come first; packets
    // of one poll are separated by \x1e).
    let mut polls = Vec::new();
    loop {
        let polled = http_request(addr, "GET", &session, &[("Origin", origin)], "");
        assert_eq!(polled.status, 200, "{polled:?}");
        assert_eq!(polled.header("access-control-allow-origin"), allow_origin);
        let connected = polled
            .body
            .split('\x1e')
            .any(|p| p.starts_with("40{\"sid\":"));
        polls.push(polled);
        if connected {
            break;
        }
        assert!(polls.len() < 3, "no namespace connection in {polls:?}");
    }

    let upgrade = format!("/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let upgraded = http_request(addr, "GET", &upgrade, &upgrade_headers(origin), "");
    assert_eq!(upgraded.status, 101, "{upgraded:?}");
}

/// `origin` is refused on the endpoint: no session, no CORS header, no WebSocket upgrade,
/// and a real client from that origin cannot connect.
fn refused(server: &Server, origin: &str) {
    let addr = server.addr();
    let hello = http_request(addr, "GET", HANDSHAKE, &[("Origin", origin)], "");
    assert_eq!(hello.status, 403, "{hello:?}");
    assert!(hello.cors_headers().is_empty(), "{hello:?}");
    assert!(hello.body.contains("--cors-origin"), "{hello:?}");
    let preflight = http_request(
        addr,
        "OPTIONS",
        HANDSHAKE,
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
        ],
        "",
    );
    assert_eq!(preflight.status, 403, "{preflight:?}");
    assert!(preflight.cors_headers().is_empty(), "{preflight:?}");
    let ws = "/socket.io/?EIO=4&transport=websocket";
    let upgraded = http_request(addr, "GET", ws, &upgrade_headers(origin), "");
    assert_eq!(upgraded.status, 403, "{upgraded:?}");

    let options = json!({"extraHeaders": {"origin": origin}});
    let error = Client::try_connect_with(&server.url(), &options)
        .err()
        .unwrap_or_else(|| panic!("a client from {origin} connected"));
    assert!(error.contains("websocket error"), "{error}");
}

#[test]
fn without_the_flag_only_the_same_origin_may_connect() {
    let server = Server::start(&[]);
    let own = server.url();
    // The chat page of this server, over both transports; no CORS header needed.
    polling_session_upgrades(&server, &own, None);
    let mut page = Client::connect_with(&own, &json!({"extraHeaders": {"origin": own}}));
    page.emit("chat message", json!(["same origin"]));
    assert_eq!(page.next_event("chat message"), vec![json!("same origin")]);
    // A program without Origin (not a browser) is served.
    let mut tool = Client::connect(&own);
    assert_eq!(tool.request("who", json!([]))["sockets"], 2);
    // Another page, even on the same host at another port.
    refused(&server, "https://elsewhere.example");
    let port: u16 = server.addr().rsplit_once(':').unwrap().1.parse().unwrap();
    refused(
        &server,
        &format!("http://127.0.0.1:{}", port.wrapping_add(1)),
    );
    refused(&server, "null");
    // The rest of the server is not the endpoint: never refused.
    let health = http_request(
        server.addr(),
        "GET",
        "/healthz",
        &[("Origin", "https://elsewhere.example")],
        "",
    );
    assert_eq!(health.status, 200, "{health:?}");
}

#[test]
fn a_listed_origin_gets_cors_headers_on_polling_and_can_upgrade() {
    let server = Server::start_with_env(
        &["--cors-origin", "https://app.example"],
        &[(
            "CROSSCAST_CORS_ORIGIN",
            "ignored.example-because-the-flag-wins",
        )],
    );
    let app = "https://app.example";
    polling_session_upgrades(&server, app, Some(app));
    let hello = http_request(server.addr(), "GET", HANDSHAKE, &[("Origin", app)], "");
    assert_eq!(
        hello.header("access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        hello
            .header("vary")
            .is_some_and(|v| v.to_ascii_lowercase().contains("origin")),
        "{hello:?}"
    );
    // The browser's preflight before a POST with its own headers.
    let preflight = http_request(
        server.addr(),
        "OPTIONS",
        HANDSHAKE,
        &[
            ("Origin", app),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        "",
    );
    assert_eq!(preflight.status, 200, "{preflight:?}");
    assert_eq!(preflight.header("access-control-allow-origin"), Some(app));
    let methods = preflight.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type")
    );
    // A real client from that page chats over WebSocket.
    let mut alice = Client::connect_with(&server.url(), &json!({"extraHeaders": {"origin": app}}));
    alice.emit("chat message", json!(["from the app"]));
    assert_eq!(
        alice.next_event("chat message"),
        vec![json!("from the app")]
    );
    // Same origin still works; any other origin does not.
    polling_session_upgrades(&server, &server.url(), None);
    refused(&server, "https://evil.example");
    refused(&server, "http://app.example");
}

#[test]
fn origins_from_the_environment_and_any_origin() {
    let server = Server::start_with_env(
        &[],
        &[(
            "CROSSCAST_CORS_ORIGIN",
            "https://one.example,http://localhost:5173",
        )],
    );
    for origin in ["https://one.example", "http://localhost:5173"] {
        polling_session_upgrades(&server, origin, Some(origin));
    }
    refused(&server, "https://two.example");
    drop(server);

    let server = Server::start(&["--cors-origin", "*"]);
    for origin in ["https://any.example", "null"] {
        polling_session_upgrades(&server, origin, Some("*"));
    }
    let hello = http_request(
        server.addr(),
        "GET",
        HANDSHAKE,
        &[("Origin", "https://any.example")],
        "",
    );
    // Browsers refuse credentials with `*`: none are offered.
    assert_eq!(hello.header("access-control-allow-credentials"), None);
}

/// Arguments and environment of one invalid invocation.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

#[test]
fn a_bad_origin_is_one_line_and_exit_2() {
    let cases: [Case<'_>; 5] = [
        (&["serve", "--cors-origin", "app.example"], &[]),
        (&["serve", "--cors-origin", "https://app.example/chat"], &[]),
        (&["serve", "--cors-origin", "https://app.example:http"], &[]),
        (&["serve", "--cors-origin", "https://bücher.example"], &[]),
        (
            &["serve", "--port", "0"],
            &[(
                "CROSSCAST_CORS_ORIGIN",
                "https://ok.example,no-scheme.example",
            )],
        ),
    ];
    for (args, env) in cases {
        let out = run(args, env);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {line}");
        assert!(line.contains("--cors-origin"), "{args:?} {env:?}: {line}");
    }
}

#[test]
fn help_documents_the_flag_without_its_value() {
    let out = run(
        &["serve", "--help"],
        &[("CROSSCAST_CORS_ORIGIN", "https://secret-origin.example")],
    );
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    for text in [
        "--cors-origin <ORIGIN>",
        "[env: CROSSCAST_CORS_ORIGIN]",
        "same origin",
    ] {
        assert!(help.contains(text), "serve --help lacks {text}: {help}");
    }
    assert!(!help.contains("secret-origin"), "{help}");
}
