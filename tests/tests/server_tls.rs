//! `rediss://` with a private CA: `crosscast serve --redis-ca FILE` (or `CROSSCAST_REDIS_CA`)
//! against the TLS redis-server the driver tests start (a CA and a server certificate made by
//! openssl, a password). With the CA two servers chat and `emit` reaches them; without it the
//! server says the certificate is not trusted; a CA file that cannot be used is an error that
//! names the flag.
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::{RedisOptions, RedisServer};
use serde_json::json;
use server_support::{Client, Server, assert_one_line_error, eventually, run};

const PASSWORD: &str = "tls-secret-pass";

fn tls_redis() -> RedisServer {
    let redis = RedisServer::start_with(RedisOptions {
        tls: true,
        password: Some(PASSWORD.into()),
        ..RedisOptions::default()
    });
    assert!(redis.url().starts_with("rediss://"), "{}", redis.url());
    redis
}

#[test]
fn two_servers_chat_over_rediss_with_the_private_ca() {
    let redis = tls_redis();
    let url = redis.url();
    let ca = redis.tls().unwrap().ca_cert.to_str().unwrap().to_owned();
    // One server with the flag, one with the environment variable.
    let a = Server::start(&["--redis-url", &url, "--redis-ca", &ca]);
    let b = Server::start_with_env(&["--redis-url", &url], &[("CROSSCAST_REDIS_CA", &ca)]);
    let mut alice = Client::connect(&a.url());
    let mut bob = Client::connect(&b.url());
    for client in [&mut alice, &mut bob] {
        eventually("both servers see 2 sockets on 2 servers", || {
            let who = client.request("who", json!([]));
            (who == json!({"sockets": 2, "servers": 2})).then_some(())
        });
    }
    alice.emit("chat message", json!(["over tls"]));
    assert_eq!(bob.next_event("chat message"), vec![json!("over tls")]);
    assert_eq!(alice.next_event("chat message"), vec![json!("over tls")]);
    bob.emit("chat message", json!([{"back": true}]));
    assert_eq!(
        alice.next_event("chat message"),
        vec![json!({"back": true})]
    );
    for server in [&a, &b] {
        let (status, health) = server.get("/healthz");
        assert_eq!(status, 200, "{health}");
        assert!(health.contains("\"connected\":true"), "{health}");
    }
    // The subscriptions are on the TLS server.
    let numsub = redis.cli(&["PUBSUB", "NUMSUB", "socket.io-request#/#"]);
    assert_eq!(numsub, "socket.io-request#/#\n2");

    // `emit` takes the CA too.
    eventually("an emit over TLS reaches both clients", || {
        let out = run(
            &[
                "emit",
                "--redis-url",
                &url,
                "--redis-ca",
                &ca,
                "note",
                "emitted",
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let both = !alice.pending("note").is_empty() & !bob.pending("note").is_empty();
        both.then_some(())
    });
}

#[test]
fn without_the_ca_the_certificate_is_not_trusted() {
    let redis = tls_redis();
    let url = redis.url();
    for args in [
        vec!["serve", "--port", "0", "--redis-url", url.as_str()],
        vec!["emit", "--redis-url", url.as_str(), "note", "hi"],
    ] {
        let out = run(&args, &[]);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {line}");
        assert!(line.contains("certificate"), "{args:?}: {line}");
        assert!(line.contains("--redis-ca"), "{args:?}: {line}");
        assert!(
            !line.contains(PASSWORD),
            "the error shows the password: {line}"
        );
    }
}

/// Extra arguments, environment, the flag the error names, and a detail it must give.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn a_ca_file_that_cannot_be_used_is_one_line_naming_the_flag() {
    let redis = tls_redis();
    let url = redis.url();
    let dir = std::env::temp_dir().join(format!("crosscast-ca-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_pem = dir.join("not-a-certificate.pem");
    std::fs::write(&not_pem, "hello, I am not a certificate\n").unwrap();
    let missing = dir.join("missing.pem");
    let dir_path = dir.to_str().unwrap().to_owned();
    let not_pem = not_pem.to_str().unwrap().to_owned();
    let missing = missing.to_str().unwrap().to_owned();
    let cases: [Case<'_>; 6] = [
        (&["--redis-ca", &missing], &[], "--redis-ca", "missing.pem"),
        (&["--redis-ca", &dir_path], &[], "--redis-ca", "cannot read"),
        (
            &["--redis-ca", &not_pem],
            &[],
            "--redis-ca",
            "no PEM certificate",
        ),
        (
            &[],
            &[("CROSSCAST_REDIS_CA", &missing)],
            "CROSSCAST_REDIS_CA",
            "missing.pem",
        ),
        (&["--redis-ca", ""], &[], "--redis-ca", "empty"),
        // A CA for a plain redis:// URL is a mistake (no TLS would use it).
        (
            &["--redis-ca", redis.tls().unwrap().ca_cert.to_str().unwrap()],
            &[("REDIS_URL", "redis://127.0.0.1:1")],
            "--redis-ca",
            "rediss://",
        ),
    ];
    for (extra, env, flag, detail) in cases {
        for command in [&["serve", "--port", "0"][..], &["emit"]] {
            let mut args = command.to_vec();
            if !env.iter().any(|(k, _)| *k == "REDIS_URL") {
                args.extend(["--redis-url", url.as_str()]);
            }
            args.extend_from_slice(extra);
            if command[0] == "emit" {
                args.extend(["note", "hi"]);
            }
            let out = run(&args, env);
            let line = assert_one_line_error(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {line}");
            assert!(line.contains(flag), "{args:?} {env:?}: {line}");
            assert!(line.contains(detail), "{args:?} {env:?}: {line}");
            assert!(
                !line.contains(PASSWORD),
                "the error shows the password: {line}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
