//! `crosscast --log-format text|json`: the log on stderr, and the node uid on every line of a
//! cluster event (peers up and down, Redis lost, back, subscriptions restored), for servers
//! on a real `redis-server`.
#![allow(clippy::unwrap_used)]

mod server_support;

use crosscast_tests::redis_server::{RedisServer, free_port};
use serde_json::Value;
use server_support::{Server, assert_one_line_error, eventually, run};

/// Every line of `log` as a JSON object; panics naming the first line that is not one.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(value) if value.is_object() => value,
            _ => panic!("a log line that is not a JSON object: {line:?}\nlog:\n{log}"),
        })
        .collect()
}

/// The first JSON line of `server`'s log whose message is `message` and that `matches`,
/// waited for (bounded).
fn wait_line(server: &Server, message: &str, matches: impl Fn(&Value) -> bool) -> Value {
    eventually(&format!("the log has {message:?}"), || {
        json_lines(&server.stderr())
            .into_iter()
            .find(|l| l["message"] == message && matches(l))
    })
}

#[test]
fn json_lines_name_the_node_in_every_cluster_event() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let mut a = Server::start(&["--redis-url", &url, "--log-format", "json"]);
    let mut b = Server::start_with_env(&["--redis-url", &url], &[("CROSSCAST_LOG_FORMAT", "json")]);

    // A peer joins, then leaves: a's lines name a as `uid`, b as `peer`.
    let up = wait_line(&a, "crosscast peer up", |l| l["peer"] == b.uid());
    assert_eq!(up["uid"], a.uid(), "{up}");
    b.signal("TERM");
    assert_eq!(b.wait_exit().code(), Some(0), "{}", b.stderr());
    let down = wait_line(&a, "crosscast peer down", |l| l["peer"] == b.uid());
    assert_eq!(down["uid"], a.uid(), "{down}");
    assert_eq!(down["closed"], true, "b announced its leaving: {down}");

    // Redis goes away and comes back.
    redis.restart();
    for message in [
        "Redis disconnected",
        "Redis connected",
        "Redis subscriptions restored",
    ] {
        let line = wait_line(&a, message, |l| {
            l["target"] == "crosscast::adapter::cluster"
        });
        assert_eq!(line["uid"], a.uid(), "{line}");
        assert_eq!(
            line["level"],
            if message == "Redis disconnected" {
                "WARN"
            } else {
                "INFO"
            }
        );
    }
    a.signal("TERM");
    assert_eq!(a.wait_exit().code(), Some(0), "{}", a.stderr());

    // Every line is a JSON object of the documented shape, and from the moment the server
    // has joined its cluster (its "cluster adapter ready" line) every line names it.
    for (server, log) in [(&a, a.stderr()), (&b, b.stderr())] {
        let lines = json_lines(&log);
        for line in &lines {
            for key in ["timestamp", "level", "target", "message"] {
                assert!(line[key].is_string(), "{key} in {line}");
            }
        }
        let joined = lines
            .iter()
            .position(|l| l["message"] == "cluster adapter ready")
            .unwrap_or_else(|| panic!("no ready line:\n{log}"));
        for line in &lines[joined..] {
            assert_eq!(line["uid"], server.uid(), "a line without the node: {line}");
        }
        assert!(
            lines.iter().any(|l| l["message"] == "stopped"),
            "no stopped line:\n{log}"
        );
    }
    // Fields keep their JSON types.
    assert!(a.stderr().contains("\"closed\":true"));
}

#[test]
fn text_lines_name_the_node_too() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let server = Server::start(&["--redis-url", &url]);
    redis.restart();
    let wanted = format!("uid={}", server.uid());
    eventually("the Redis lines name the node", || {
        let log = server.stderr();
        let restored: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("Redis subscriptions restored"))
            .collect();
        (!restored.is_empty()).then_some(())
    });
    let log = server.stderr();
    let start = log.find("listening on").unwrap();
    for line in log[start..].lines().filter(|l| l.contains("Redis")) {
        assert!(
            line.contains(&wanted),
            "{line:?} does not name {wanted}\n{log}"
        );
    }
}

#[test]
fn a_failure_and_emit_log_json_too() {
    // A fatal error in JSON mode is a JSON line too.
    let unreachable = format!("redis://127.0.0.1:{}", free_port());
    let out = run(
        &[
            "serve",
            "--port",
            "0",
            "--redis-url",
            &unreachable,
            "--log-format",
            "json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&String::from_utf8_lossy(&out.stderr));
    let last = lines.last().unwrap();
    assert_eq!(last["level"], "ERROR", "{last}");
    assert!(
        last["message"].as_str().unwrap().starts_with("crosscast: "),
        "{last}"
    );

    // The flag is global: before or after the subcommand.
    let redis = RedisServer::start();
    let url = redis.url();
    for args in [
        vec![
            "--log-format",
            "json",
            "emit",
            "--redis-url",
            &url,
            "news",
            "hi",
        ],
        vec![
            "emit",
            "--log-format",
            "json",
            "--redis-url",
            &url,
            "news",
            "hi",
        ],
    ] {
        let out = run(&args, &[]);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let lines = json_lines(&String::from_utf8_lossy(&out.stderr));
        assert!(
            lines.iter().any(|l| l["message"] == "published"),
            "{args:?}: {lines:?}"
        );
    }
}

/// Arguments and environment of one invalid invocation.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

#[test]
fn a_bad_log_format_is_one_line_and_exit_2() {
    let cases: [Case<'_>; 3] = [
        (&["serve", "--port", "0", "--log-format", "xml"], &[]),
        (
            &["serve", "--port", "0"],
            &[("CROSSCAST_LOG_FORMAT", "yaml")],
        ),
        (&["--log-format", "", "serve", "--port", "0"], &[]),
    ];
    for (args, env) in cases {
        let out = run(args, env);
        let line = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {line}");
        assert!(line.contains("--log-format"), "{args:?} {env:?}: {line}");
    }
}

#[test]
fn help_documents_the_flag_without_its_value() {
    for args in [&["--help"][..], &["serve", "--help"], &["emit", "--help"]] {
        let out = run(args, &[("CROSSCAST_LOG_FORMAT", "secret-format")]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {help}");
        for text in [
            "--log-format <LOG_FORMAT>",
            "[env: CROSSCAST_LOG_FORMAT]",
            "json",
        ] {
            assert!(help.contains(text), "{args:?} --help lacks {text}: {help}");
        }
        assert!(!help.contains("secret-format"), "{help}");
    }
}
