//! `crosscast`'s command line as a process: help, invalid input, environment variables,
//! an unreachable Redis, and graceful shutdown.
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::{RedisServer, free_port};
use server_support::{Client, ENV_VARS, Server, assert_one_line_error, eventually, run};

#[test]
fn every_command_has_help() {
    for args in [&["--help"][..], &["serve", "--help"], &["emit", "--help"]] {
        let out = run(args, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        assert!(stdout.contains("Usage: crosscast"), "{args:?}: {stdout}");
    }
    let serve = String::from_utf8_lossy(&run(&["serve", "--help"], &[]).stdout).into_owned();
    for flag in [
        "--host",
        "--port",
        "--redis-url",
        "--adapter",
        "--key",
        "--requests-timeout",
        "--bridge",
        "--client-sse",
        "--max-connections",
        "--max-payload",
        "--max-events-per-second",
        "--events-burst",
        "--max-requests-per-socket",
        "--max-rooms-per-socket",
        "[env: CROSSCAST_HOST]",
        "[env: PORT]",
        "[env: CROSSCAST_ADAPTER]",
        "[env: CROSSCAST_CLIENT_SSE]",
        "[env: CROSSCAST_MAX_CONNECTIONS]",
        "[env: CROSSCAST_MAX_PAYLOAD]",
        "[env: CROSSCAST_MAX_EVENTS_PER_SECOND]",
        "[env: CROSSCAST_EVENTS_BURST]",
        "[env: CROSSCAST_MAX_REQUESTS_PER_SOCKET]",
        "[env: CROSSCAST_MAX_ROOMS_PER_SOCKET]",
        "--redis-cluster",
        "--redis-ca",
        "[env: CROSSCAST_REDIS_CLUSTER]",
        "[env: CROSSCAST_REDIS_CA]",
        "--admin",
        "--admin-user",
        "--admin-password-hash",
        "--admin-no-auth",
        "--admin-readonly",
        "--admin-mode",
        "--admin-server-id",
        "[env: CROSSCAST_ADMIN_USER]",
        "[env: CROSSCAST_ADMIN_PASSWORD_HASH]",
    ] {
        assert!(serve.contains(flag), "serve --help lacks {flag}: {serve}");
    }
    let emit = String::from_utf8_lossy(&run(&["emit", "--help"], &[]).stdout).into_owned();
    for flag in [
        "--redis-url",
        "--redis-cluster",
        "--redis-ca",
        "--adapter",
        "[env: CROSSCAST_REDIS_CLUSTER]",
        "[env: CROSSCAST_REDIS_CA]",
        "[env: CROSSCAST_ADAPTER]",
        "stdin",
        "--nsp",
        "--to",
        "--except",
        "<EVENT>",
        "[ARG]...",
    ] {
        assert!(emit.contains(flag), "emit --help lacks {flag}: {emit}");
    }
}

#[test]
fn help_never_shows_environment_values() {
    // A value for every variable, each one recognisable; REDIS_URL with a password.
    let values: Vec<(String, String)> = ENV_VARS
        .iter()
        .map(|var| (var.to_string(), format!("secret-of-{var}")))
        .chain([(
            "REDIS_URL".to_owned(),
            "redis://:hunter2-password@127.0.0.1:1".to_owned(),
        )])
        .collect();
    let env: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for args in [&["--help"][..], &["serve", "--help"], &["emit", "--help"]] {
        let out = run(args, &env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        assert!(stdout.contains("Usage: crosscast"), "{args:?}: {stdout}");
        for secret in ["hunter2", "secret-of-"] {
            assert!(
                !stdout.contains(secret),
                "{args:?} --help shows an environment value ({secret}): {stdout}"
            );
        }
    }
}

#[test]
fn the_address_comes_from_crosscast_host_not_host() {
    // HOST is a name many environments set for other reasons: crosscast ignores it.
    let port = free_port();
    let server = Server::start_with_env(
        &[],
        &[
            ("HOST", "no-such-host.invalid"),
            ("PORT", &port.to_string()),
        ],
    );
    assert_eq!(server.addr(), format!("127.0.0.1:{port}"));
    drop(server);

    let out = run(
        &["serve", "--port", "0"],
        &[("CROSSCAST_HOST", "no-such-host.invalid")],
    );
    let line = assert_one_line_error(&out);
    assert!(line.contains("no-such-host.invalid"), "{line}");
}

#[test]
fn the_limit_flags_are_accepted() {
    let server = Server::start(&[
        "--client-sse",
        "stats,hello",
        "--client-sse",
        "other",
        "--max-connections",
        "5",
        "--max-payload",
        "4096",
        "--max-events-per-second",
        "10",
        "--events-burst",
        "20",
        "--max-requests-per-socket",
        "2",
        "--max-rooms-per-socket",
        "7",
    ]);
    let mut alice = Client::connect(&server.url());
    assert_eq!(
        alice.request("x:sse", serde_json::json!(["other", []])),
        serde_json::json!([])
    );
}

#[test]
fn reserved_names_cannot_be_on_the_client_sse_allowlist() {
    for name in [
        "connect",
        "connection",
        "new_namespace",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
        "error",
    ] {
        let out = run(&["serve", "--port", "0", "--client-sse", name], &[]);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {line}");
        assert!(
            line.contains(&format!("{name:?} is a reserved event name")),
            "{name}: {line}"
        );
    }
}

/// Arguments, environment, and a word the error must mention.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn invalid_input_is_one_line_and_exit_2() {
    /// bcrypt of "x" at cost 4.
    const HASH: &str = "$2a$04$1knQS9DSIra6.KAAvkV3fe9GhC9T8grsTQXAFkcCscQLjJtoAyiTG";
    let cases: [Case<'_>; 23] = [
        (&["serve", "--bogus"], &[], "--bogus"),
        (&["serve", "--port", "70000"], &[], "--port"),
        (&["serve", "--adapter", "fancy"], &[], "fancy"),
        (
            &["serve", "--requests-timeout", "0"],
            &[],
            "--requests-timeout",
        ),
        (&["serve", "--bridge", "no-colon"], &[], "CHANNEL:EVENT"),
        (&["serve"], &[("PORT", "not-a-port")], "not-a-port"),
        (&["emit", "hello"], &[], "--redis-url"),
        (&["serve", "--client-sse", "connection"], &[], "reserved"),
        (&["serve", "--client-sse", ""], &[], "--client-sse"),
        (
            &["serve"],
            &[("CROSSCAST_CLIENT_SSE", "stats,new_namespace")],
            "new_namespace",
        ),
        (
            &["serve", "--max-connections", "0"],
            &[],
            "--max-connections",
        ),
        (&["serve", "--max-payload", "10"], &[], "--max-payload"),
        (
            &["serve"],
            &[("CROSSCAST_MAX_EVENTS_PER_SECOND", "fast")],
            "fast",
        ),
        (&["serve", "--events-burst", "lots"], &[], "--events-burst"),
        (
            &["serve", "--max-requests-per-socket", "0"],
            &[],
            "--max-requests-per-socket",
        ),
        (
            &["serve"],
            &[("CROSSCAST_MAX_ROOMS_PER_SOCKET", "0")],
            "--max-rooms-per-socket",
        ),
        (&[], &[], "command"),
        // The admin UI is never served without a login unless asked.
        (
            &["serve", "--admin"],
            &[],
            "--admin-user NAME --admin-password-hash",
        ),
        (
            &["serve", "--admin", "--admin-user", "a"],
            &[],
            "--admin-password-hash",
        ),
        (
            &["serve", "--admin", "--admin-password-hash", HASH],
            &[],
            "--admin-user",
        ),
        (
            &[
                "serve",
                "--admin",
                "--admin-no-auth",
                "--admin-user",
                "a",
                "--admin-password-hash",
                HASH,
            ],
            &[],
            "exclude each other",
        ),
        (
            &["serve", "--admin-readonly"],
            &[],
            "--admin-readonly needs --admin",
        ),
        (
            &["serve", "--admin", "--admin-mode", "debug"],
            &[],
            "--admin-mode",
        ),
    ];
    for (args, env, mentions) in cases {
        let out = run(args, env);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {line}");
        assert!(
            line.contains(mentions),
            "{args:?}: {line:?} does not mention {mentions}"
        );
    }
}

#[test]
fn unreachable_redis_is_one_line_and_exit_1() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    for args in [
        vec!["serve", "--port", "0", "--redis-url", url.as_str()],
        vec!["emit", "--redis-url", url.as_str(), "chat message", "hi"],
    ] {
        let out = run(&args, &[]);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {line}");
        assert!(line.contains("Redis"), "{args:?}: {line}");
    }
    // The environment variable is read too.
    let out = run(&["serve", "--port", "0"], &[("REDIS_URL", url.as_str())]);
    let line = assert_one_line_error(&out);
    assert!(line.contains("Redis"), "{line}");
}

#[test]
fn bridge_needs_redis() {
    let out = run(&["serve", "--port", "0", "--bridge", "news:news"], &[]);
    let line = assert_one_line_error(&out);
    assert!(line.contains("--redis-url"), "{line}");
}

#[test]
fn port_in_use_is_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(&["serve", "--port", &port], &[]);
    let line = assert_one_line_error(&out);
    assert!(line.contains(&port), "{line}");
}

#[test]
fn host_and_port_come_from_flags_or_environment() {
    let port = free_port();
    let server = Server::start(&["--host", "127.0.0.1", "--port", &port.to_string()]);
    assert_eq!(server.addr(), format!("127.0.0.1:{port}"));
    drop(server);

    let port = free_port();
    let server = Server::start_with_env(
        &[],
        &[("CROSSCAST_HOST", "127.0.0.1"), ("PORT", &port.to_string())],
    );
    assert_eq!(server.addr(), format!("127.0.0.1:{port}"));
    let (status, body) = server.get("/healthz");
    assert_eq!(status, 200, "{body}");
    // The log names the URL too (written right after the start line).
    let wanted = format!("listening on http://127.0.0.1:{port}");
    eventually("the log names the URL", || {
        server.stderr().contains(&wanted).then_some(())
    });
}

#[test]
fn sigterm_and_sigint_stop_gracefully_with_clients_connected() {
    let redis = RedisServer::start();
    let url = redis.url();
    let cluster = ["--redis-url", url.as_str(), "--bridge", "news:news"];
    for (signal, args) in [("TERM", &[][..]), ("INT", &[][..]), ("TERM", &cluster[..])] {
        let mut server = Server::start(args);
        let mut client = Client::connect(&server.url());
        let who = client.request("who", serde_json::json!([]));
        assert_eq!(who["sockets"], 1, "{who}");
        server.signal(signal);
        let status = server.wait_exit();
        assert_eq!(
            status.code(),
            Some(0),
            "SIG{signal}: {status:?}\n{}",
            server.stderr()
        );
        let reason = client.next_disconnect();
        assert!(!reason.is_empty());
        let log = server.stderr();
        assert!(log.contains(&format!("SIG{signal}")), "{log}");
        assert!(!log.contains("panicked"), "{log}");
    }
    // The cluster server left Redis: no subscriber remains.
    assert_eq!(redis.cli(&["PUBSUB", "NUMSUB", "news"]), "news\n0");
    assert_eq!(redis.cli(&["PUBSUB", "NUMPAT"]), "0");
}

/// Every environment variable `--help` names for `command`.
fn help_variables(command: &str) -> Vec<String> {
    let help = String::from_utf8_lossy(&run(&[command, "--help"], &[]).stdout).into_owned();
    let mut names: Vec<String> = help
        .split("env: ")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `(command, variable, flag, a bad value, what else the command needs)`.
type BadValue<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [&'a str]);

#[test]
fn every_flag_and_its_variable_refuse_a_bad_value_in_one_line_naming_them() {
    let emit_needs: &[&str] = &["--redis-url", "redis://127.0.0.1:1", "chat message"];
    let tls: &[&str] = &["--redis-url", "rediss://127.0.0.1:1"];
    let tls_emit: &[&str] = &["--redis-url", "rediss://127.0.0.1:1", "chat message"];
    let cases: &[BadValue<'_>] = &[
        ("serve", "PORT", "--port", "70000", &[]),
        ("serve", "CROSSCAST_HOST", "--host", "not a host", &[]),
        ("serve", "CROSSCAST_LOG_FORMAT", "--log-format", "yaml", &[]),
        ("serve", "CROSSCAST_ADAPTER", "--adapter", "fancy", &[]),
        (
            "serve",
            "CROSSCAST_REQUESTS_TIMEOUT",
            "--requests-timeout",
            "0",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_CLUSTER_PUBLISH_QUEUE_BYTES",
            "--cluster-publish-queue-bytes",
            "0",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_CLUSTER_INBOX_BYTES",
            "--cluster-inbox-bytes",
            "lots",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_REDIS_INBOUND_QUEUE_BYTES",
            "--redis-inbound-queue-bytes",
            "many",
            &[],
        ),
        ("serve", "CROSSCAST_PUBLISH", "--publish", ":chat", &[]),
        (
            "serve",
            "CROSSCAST_PUBLISH_MAX_BYTES",
            "--publish-max-bytes",
            "0",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_CLIENT_SSE",
            "--client-sse",
            "connection",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_MAX_CONNECTIONS",
            "--max-connections",
            "0",
            &[],
        ),
        ("serve", "CROSSCAST_MAX_PAYLOAD", "--max-payload", "10", &[]),
        (
            "serve",
            "CROSSCAST_MAX_EVENTS_PER_SECOND",
            "--max-events-per-second",
            "fast",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_EVENTS_BURST",
            "--events-burst",
            "lots",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_MAX_REQUESTS_PER_SOCKET",
            "--max-requests-per-socket",
            "0",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_MAX_ROOMS_PER_SOCKET",
            "--max-rooms-per-socket",
            "0",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_CORS_ORIGIN",
            "--cors-origin",
            "no origin",
            &[],
        ),
        (
            "serve",
            "REDIS_URL",
            "--redis-url",
            "http://user:s3cret@127.0.0.1:1",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_REDIS_CLUSTER",
            "--redis-cluster",
            "http://user:s3cret@127.0.0.1:1",
            &[],
        ),
        (
            "serve",
            "CROSSCAST_REDIS_CA",
            "--redis-ca",
            "/no/such/ca.pem",
            tls,
        ),
        (
            "serve",
            "CROSSCAST_ADMIN_PASSWORD_HASH",
            "--admin-password-hash",
            "not-a-bcrypt-hash",
            &["--admin", "--admin-user", "admin"],
        ),
        (
            "emit",
            "CROSSCAST_LOG_FORMAT",
            "--log-format",
            "yaml",
            emit_needs,
        ),
        (
            "emit",
            "CROSSCAST_ADAPTER",
            "--adapter",
            "fancy",
            emit_needs,
        ),
        (
            "emit",
            "REDIS_URL",
            "--redis-url",
            "http://user:s3cret@127.0.0.1:1",
            &["chat message"],
        ),
        (
            "emit",
            "CROSSCAST_REDIS_CLUSTER",
            "--redis-cluster",
            "http://user:s3cret@127.0.0.1:1",
            &["chat message"],
        ),
        (
            "emit",
            "CROSSCAST_REDIS_CA",
            "--redis-ca",
            "/no/such/ca.pem",
            tls_emit,
        ),
    ];
    // Free text, as in Node: any key is a key, any name a user name.
    let free_text = ["CROSSCAST_KEY", "CROSSCAST_ADMIN_USER"];
    for command in ["serve", "emit"] {
        let named = help_variables(command);
        let mut covered: Vec<String> = cases
            .iter()
            .filter(|c| c.0 == command)
            .map(|c| c.1.to_owned())
            .chain(
                free_text
                    .iter()
                    .map(|v| (*v).to_owned())
                    .filter(|v| named.contains(v)),
            )
            .collect();
        covered.sort();
        covered.dedup();
        assert_eq!(
            named, covered,
            "{command}: every variable of --help has a bad-value case"
        );
    }
    for &(command, variable, flag, bad, needs) in cases {
        let mut with_flag = vec![command, flag, bad];
        with_flag.extend_from_slice(needs);
        let out = run(&with_flag, &[]);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{with_flag:?}: {line}");
        assert!(line.contains(flag), "{with_flag:?}: {line}");

        let mut alone = vec![command];
        alone.extend_from_slice(needs);
        let out = run(&alone, &[(variable, bad)]);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{variable}={bad}: {line}");
        assert!(
            line.contains(flag) && line.contains(variable),
            "{variable}={bad}: {line:?} does not name {flag} and {variable}"
        );
        assert!(
            !line.contains("s3cret"),
            "{variable}: a Redis URL is never printed: {line}"
        );
    }
}
