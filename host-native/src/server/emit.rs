//! `crosscast emit`: publishes one event into a running cluster, on a standalone Redis or a
//! Redis Cluster.
//!
//! - `--adapter classic` (the default): what Node's `@socket.io/redis-emitter` 5.1.0 PUBLISHes
//!   (the core's [`Emitter`]).
//! - `--adapter sharded`: Node's emitter has no sharded form (NODE-WIRE.md §5), so this is what
//!   a server on `createShardedAdapter` SPUBLISHes for `io.to(rooms).except(rooms).emit(...)`:
//!   the core's sharded [`Emitter`] builds a BROADCAST (type 3) from the uid `"emitter"` on the
//!   main channel `KEY#NSP#`, which every sharded server subscribes in every subscription
//!   mode, and each receiver applies the rooms and exceptions to its own sockets.
//!
//! The host publishes with the command the core's [`Publication::kind`] names.
//!
//! Arguments come from the command line, or with a single `-` from stdin (see [`arguments`]).

use std::io::Read;

use crosscast_core::emitter::{Emitter, Publication};
use crosscast_core::{BroadcastOpts, Limits, Room, Value};

use crate::driver::{Driver, PubSubKind};

use super::cli::EmitArgs;

/// The most bytes `-` reads from stdin; more is refused.
pub(crate) const STDIN_MAX_BYTES: usize = 1_048_576;

/// The event's arguments: each ARG as JSON or else a string, or, when the only ARG is `-`,
/// the elements of the one JSON array on `stdin` (at most [`STDIN_MAX_BYTES`]; JSON only).
/// Errors are one line, naming `-`; they mean invalid input (exit status 2).
pub(crate) fn arguments(args: &EmitArgs, stdin: &mut dyn Read) -> Result<Vec<Value>, String> {
    match args.args.as_slice() {
        [dash] if dash == "-" => read_stdin(stdin),
        many if many.iter().any(|a| a == "-") => Err(
            "`-` reads every argument from stdin and must be the only ARG (a \"-\" string is '\"-\"')"
                .into(),
        ),
        many => Ok(many.iter().map(|a| parse_arg(a)).collect()),
    }
}

fn read_stdin(stdin: &mut dyn Read) -> Result<Vec<Value>, String> {
    const WHAT: &str = "the arguments on stdin (`-`)";
    let mut bytes = Vec::new();
    stdin
        .take(STDIN_MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{WHAT}: cannot read stdin: {e}"))?;
    if bytes.len() > STDIN_MAX_BYTES {
        return Err(format!(
            "{WHAT}: more than {STDIN_MAX_BYTES} bytes on stdin"
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(format!(
            "{WHAT}: stdin is empty; expected one JSON array such as [\"hi\", 42]"
        ));
    }
    match crosscast_core::json::decode(&bytes, &Limits::default()) {
        Ok(Value::Array(values)) => Ok(values),
        Ok(_) => Err(format!(
            "{WHAT}: expected one JSON array of the arguments such as [\"hi\", 42], got another JSON value"
        )),
        Err(e) => Err(format!("{WHAT}: not one JSON array: {e}")),
    }
}

/// Publishes `publication` on the Redis of `args`; returns the channel it was published on.
pub(crate) async fn run(args: EmitArgs, publication: Publication) -> Result<String, String> {
    let Some(config) = args.redis.driver_config(PubSubKind::of(&args.adapter)) else {
        return Err("emit needs a Redis: --redis-url or --redis-cluster".into());
    };
    let (driver, _events) = Driver::connect(config)
        .await
        .map_err(|e| args.redis.explain(e.to_string()))?;
    let result = driver
        .publish_as(publication.kind, &publication.channel, publication.payload)
        .await
        .map_err(|e| e.to_string());
    driver.close().await;
    result.map(|()| publication.channel)
}

/// The command, channel and payload of the event, in the protocol of `--adapter`.
pub(crate) fn publication(args: &EmitArgs, values: Vec<Value>) -> Result<Publication, String> {
    let emitter = Emitter::of(&args.adapter.clone().with_key(args.key.clone()), &args.nsp);
    let opts = BroadcastOpts::to_rooms(args.to.iter().cloned().map(Room::Str))
        .except(args.except.iter().cloned().map(Room::Str));
    emitter
        .broadcast(&opts, &args.event, values)
        .map_err(|e| format!("cannot emit {:?}: {e}", args.event))
}

/// An argument: JSON when it parses as JSON, else the string itself.
pub(crate) fn parse_arg(arg: &str) -> Value {
    crosscast_core::json::decode(arg.as_bytes(), &Limits::default())
        .unwrap_or_else(|_| Value::from(arg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;
    use crosscast_core::node::PublishKind;
    use crosscast_core::{ShardedBody, ShardedMessage};

    use crate::server::cli::{Cli, Command};

    fn emit_args(argv: &[&str]) -> EmitArgs {
        let full = ["crosscast", "emit", "--redis-url", "redis://127.0.0.1:1"];
        let cli = Cli::try_parse_from(full.iter().chain(argv)).expect("parses");
        match cli.command {
            Command::Emit(args) => args,
            Command::Serve(_) => unreachable!(),
        }
    }

    #[test]
    fn arguments_are_json_or_strings() {
        assert_eq!(parse_arg("hello"), Value::from("hello"));
        assert_eq!(parse_arg("\"hello\""), Value::from("hello"));
        assert_eq!(parse_arg("42"), Value::from(42));
        assert_eq!(parse_arg("true"), Value::Bool(true));
        assert_eq!(
            parse_arg("{\"a\":[1,null]}"),
            Value::map([("a", Value::Array(vec![Value::from(1), Value::Nil]))])
        );
        assert_eq!(parse_arg("{oops"), Value::from("{oops"));
    }

    #[test]
    fn a_dash_reads_one_json_array_from_stdin() {
        let dash = emit_args(&["ev", "-"]);
        let mut stdin: &[u8] = b"[\"hi\", 42, \"-\"]\n";
        assert_eq!(
            arguments(&dash, &mut stdin),
            Ok(vec![Value::from("hi"), Value::from(42), Value::from("-")])
        );
        let mut empty_array: &[u8] = b"[]";
        assert_eq!(arguments(&dash, &mut empty_array), Ok(vec![]));
        // Without `-`, stdin is not read.
        let plain = emit_args(&["ev", "x"]);
        let mut unread: &[u8] = b"[1]";
        assert_eq!(arguments(&plain, &mut unread), Ok(vec![Value::from("x")]));
        assert_eq!(unread, b"[1]");
    }

    #[test]
    fn bad_stdin_is_refused() {
        let dash = emit_args(&["ev", "-"]);
        let big = format!("[\"{}\"]", "x".repeat(STDIN_MAX_BYTES));
        for (input, mentions) in [
            (&b""[..], "empty"),
            (b" \n ", "empty"),
            (b"{}", "JSON array"),
            (b"[1", "not one JSON array"),
            (b"[1] [2]", "not one JSON array"),
            (b"hello", "not one JSON array"),
            (big.as_bytes(), "more than 1048576 bytes"),
        ] {
            let mut stdin = input;
            let err = arguments(&dash, &mut stdin).expect_err(mentions);
            assert!(err.contains(mentions) && err.contains("`-`"), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let mixed = emit_args(&["ev", "-", "more"]);
        let err = arguments(&mixed, &mut &b"[1]"[..]).expect_err("mixed");
        assert!(err.contains("only ARG"), "{err}");
    }

    #[test]
    fn a_sharded_emit_is_a_broadcast_from_the_emitter_on_the_main_channel() {
        let args = emit_args(&[
            "--adapter",
            "sharded",
            "--key",
            "app",
            "--nsp",
            "chat",
            "--to",
            "red",
            "--except",
            "blue",
            "note",
            "hi",
        ]);
        let p = publication(&args, vec![Value::from("hi")]).expect("publication");
        assert_eq!(p.channel, "app#/chat#");
        assert_eq!(p.kind, PublishKind::SPublish);
        let decoded = ShardedMessage::decode(&p.payload, &Limits::default()).expect("decodes");
        assert_eq!(decoded.uid, "emitter");
        assert_eq!(decoded.nsp, "/chat");
        let ShardedBody::Broadcast { packet, opts } = decoded.body else {
            panic!("not a broadcast: {:?}", decoded.body)
        };
        assert_eq!(packet.data, vec![Value::from("note"), Value::from("hi")]);
        assert_eq!(packet.nsp, None);
        assert_eq!(opts.rooms, vec![Room::Str("red".into())]);
        assert_eq!(opts.except, vec![Room::Str("blue".into())]);
        // JSON, in Node's key order.
        assert!(
            p.payload.starts_with(b"{\"type\":3,\"data\":{\"packet\":"),
            "{}",
            String::from_utf8_lossy(&p.payload)
        );

        let reserved = emit_args(&["--adapter", "sharded", "disconnect"]);
        let err = publication(&reserved, vec![]).expect_err("reserved");
        assert!(err.contains("reserved"), "{err}");
    }
}
