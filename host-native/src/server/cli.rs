//! The command line of `crosscast`: `serve` and `emit`, each flag also read from an
//! environment variable. Other tools depend on these names: do not rename them.
//!
//! `--help` names the environment variables but never shows their values (a `REDIS_URL` may
//! carry a password): every env-backed argument has `hide_env_values`.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use crosscast_core::node::Protocol;

pub use super::admin::{AdminArgs, AdminMode};
pub use super::redis::{CaFile, RedisArgs};

/// Socket.IO servers in Rust and Node.js as one cluster through Redis.
#[derive(Debug, Parser)]
#[command(name = "crosscast", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How the log is written (every command).
    #[command(flatten)]
    pub logs: LogArgs,
}

/// When clap refused a value that came from an environment variable (the flag itself is not
/// on the command line): the variable's name, so the one-line error names both.
pub(crate) fn bad_value_source(error: &clap::Error) -> Option<String> {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    // `--max-connections <N>`: the long name.
    let long = arg.split_whitespace().next()?.strip_prefix("--")?;
    let on_command_line = std::env::args_os().any(|a| {
        let a = a.to_string_lossy();
        a.strip_prefix("--")
            .is_some_and(|rest| rest == long || rest.starts_with(&format!("{long}=")))
    });
    if on_command_line {
        return None;
    }
    let cli = Cli::command();
    let commands = std::iter::once(&cli).chain(cli.get_subcommands());
    let variable = commands
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long))?
        .get_env()?
        .to_string_lossy()
        .into_owned();
    std::env::var_os(&variable).map(|_| variable)
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the chat page and the Socket.IO endpoint; with --redis-url or --redis-cluster,
    /// share every message with the other servers of the cluster.
    Serve(ServeConfig),
    /// Publish one event into a running cluster, like Node's @socket.io/redis-emitter
    /// (classic) or as the sharded adapter does (--adapter sharded).
    Emit(EmitArgs),
}

/// `--adapter`: the core's protocol of a name in [`Protocol::NAMES`], with Node's defaults.
fn adapter_parser() -> impl clap::builder::TypedValueParser<Value = Protocol> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Protocol::NAMES)
        .map(|name: String| Protocol::named(&name).unwrap_or_else(Protocol::classic))
}

/// A `--bridge CHANNEL:EVENT`: messages on the plain Redis channel become events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bridge {
    /// The Redis channel (classic pub/sub, `PUBLISH`).
    pub channel: String,
    /// The Socket.IO event emitted to the local clients of every node.
    pub event: String,
}

/// An IP address (IPv6 with or without brackets) or a host name of letters, digits, `-` and
/// `.`: checked here so that a typo is a usage error, not a failure to listen.
fn parse_host(text: &str) -> Result<String, String> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(text.to_owned());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if text.len() <= 253 && text.split('.').all(label_ok) {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is neither an IP address nor a host name"))
    }
}

fn parse_bridge(text: &str) -> Result<Bridge, String> {
    match text.rsplit_once(':') {
        Some((channel, event)) if !channel.is_empty() && !event.is_empty() => Ok(Bridge {
            channel: channel.to_owned(),
            event: event.to_owned(),
        }),
        _ => Err(format!("expected CHANNEL:EVENT, got {text:?}")),
    }
}

/// A `--publish CHANNEL[:EVENT]`: client events named EVENT go out on the plain Redis channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    /// The Redis channel (`PUBLISH`, or `SPUBLISH` with `--adapter sharded`).
    pub channel: String,
    /// The client event that is published.
    pub event: String,
}

/// The event of a `--publish` that names none.
pub const DEFAULT_PUBLISH_EVENT: &str = "chat message";

fn parse_publish(text: &str) -> Result<Publish, String> {
    let (channel, event) = match text.rsplit_once(':') {
        Some((channel, event)) => (channel, event),
        None => (text, DEFAULT_PUBLISH_EVENT),
    };
    if channel.is_empty() || event.is_empty() {
        return Err(format!("expected CHANNEL or CHANNEL:EVENT, got {text:?}"));
    }
    Ok(Publish {
        channel: channel.to_owned(),
        event: event.to_owned(),
    })
}

/// The server-side event names Socket.IO gives a meaning to: Node's `serverSideEmit` refuses
/// `connect`, `connection` and `new_namespace`, because a Node server replays a received
/// server-side event on its namespace, where these (and the event emitter's own names, and
/// `error`, which throws without a listener) would fake a connection or crash the peer.
/// The server-side event names a client may never trigger (the core's list).
pub use crosscast_core::event_name::SERVER_SIDE_RESERVED_EVENTS as RESERVED_SERVER_EVENTS;

fn parse_client_sse(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("an empty event name".into());
    }
    if RESERVED_SERVER_EVENTS.contains(&text) {
        return Err(format!(
            "{text:?} is a reserved event name (reserved: {})",
            RESERVED_SERVER_EVENTS.join(", ")
        ));
    }
    Ok(text.to_owned())
}

/// Options of `crosscast serve`.
#[derive(Clone, Debug, Args)]
pub struct ServeConfig {
    /// Address to listen on: an IP address (`0.0.0.0` and `::` for every interface) or a
    /// host name.
    #[arg(
        long,
        env = "CROSSCAST_HOST",
        default_value = "127.0.0.1",
        hide_env_values = true,
        value_parser = parse_host
    )]
    pub host: String,
    /// Port to listen on (0 picks a free port; the start line names it).
    #[arg(long, env = "PORT", default_value_t = 3000, hide_env_values = true)]
    pub port: u16,
    /// Where Redis is: `--redis-url`, `--redis-cluster`, `--redis-ca` (see [`RedisArgs`]).
    /// Without it the server is a single node on the in-memory adapter.
    #[command(flatten)]
    pub redis: RedisArgs,
    /// `--admin` and its options: the Socket.IO Admin UI (see [`AdminArgs`]).
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Wire protocol of the cluster: `classic` is @socket.io/redis-adapter's
    /// createAdapter (PUBLISH/SUBSCRIBE), `sharded` its createShardedAdapter
    /// (SPUBLISH/SSUBSCRIBE, Redis 7+).
    #[arg(
        long,
        env = "CROSSCAST_ADAPTER",
        value_parser = adapter_parser(),
        default_value = "classic",
        hide_env_values = true
    )]
    pub adapter: Protocol,
    /// Channel prefix of the cluster (Node's `key` / `channelPrefix`).
    #[arg(
        long,
        env = "CROSSCAST_KEY",
        default_value = crosscast_core::node::DEFAULT_KEY,
        hide_env_values = true
    )]
    pub key: String,
    /// How long a request to the other servers waits for their answers, in milliseconds.
    #[arg(
        long,
        env = "CROSSCAST_REQUESTS_TIMEOUT",
        default_value_t = crosscast_core::node::NodeConfig::DEFAULT_REQUESTS_TIMEOUT_MS,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        hide_env_values = true
    )]
    pub requests_timeout: u64,
    /// Emit whatever is PUBLISHed on the Redis channel CHANNEL as the event EVENT to the local
    /// clients of every node (repeatable; needs a Redis).
    #[arg(long = "bridge", value_name = "CHANNEL:EVENT", value_parser = parse_bridge)]
    pub bridges: Vec<Bridge>,
    /// The most bytes (channel and payload) of cluster messages waiting to be published to
    /// Redis or in flight; past it a message is not published (counted in
    /// crosscast_cluster_publish_dropped_total{reason="queue_bytes"}).
    #[arg(
        long,
        env = "CROSSCAST_CLUSTER_PUBLISH_QUEUE_BYTES",
        default_value_t = 67_108_864,
        value_parser = clap::value_parser!(u64).range(1024..=17_179_869_184),
        hide_env_values = true
    )]
    pub cluster_publish_queue_bytes: u64,
    /// The most bytes of operations and Redis messages waiting for the cluster adapter of a
    /// namespace; past it an operation of this server is not published (counted in
    /// crosscast_cluster_inbox_dropped_total{reason="queue_bytes"}) and Redis messages wait.
    #[arg(
        long,
        env = "CROSSCAST_CLUSTER_INBOX_BYTES",
        default_value_t = 16_777_216,
        value_parser = clap::value_parser!(u64).range(1024..=17_179_869_184),
        hide_env_values = true
    )]
    pub cluster_inbox_bytes: u64,
    /// The most payload bytes of Redis messages received and not yet processed, per Redis
    /// connection (the cluster's, and the one of --bridge); past it a message is dropped
    /// (counted in crosscast_redis_inbound_dropped_total{reason="queue_bytes"}).
    #[arg(
        long,
        env = "CROSSCAST_REDIS_INBOUND_QUEUE_BYTES",
        default_value_t = 16_777_216,
        value_parser = clap::value_parser!(u64).range(1024..=17_179_869_184),
        hide_env_values = true
    )]
    pub redis_inbound_queue_bytes: u64,
    /// PUBLISH every client event EVENT (default "chat message") on the Redis channel CHANNEL,
    /// once, from the server the client is connected to: a string as it is, anything else as
    /// JSON (SPUBLISH with --adapter sharded). Repeatable, comma-separated in the environment;
    /// a channel with a colon must name its event. Needs a Redis. On a channel that is
    /// also a --bridge channel, that channel carries the event through the cluster, so no
    /// client gets it twice.
    #[arg(
        long = "publish",
        env = "CROSSCAST_PUBLISH",
        value_name = "CHANNEL[:EVENT]",
        value_parser = parse_publish,
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub publishes: Vec<Publish>,
    /// The largest --publish payload in bytes; a larger one is not published (and counted).
    #[arg(
        long,
        env = "CROSSCAST_PUBLISH_MAX_BYTES",
        default_value_t = 1_048_576,
        value_parser = clap::value_parser!(u64).range(1..=536_870_912),
        hide_env_values = true
    )]
    pub publish_max_bytes: u64,
    /// Let clients send the server-side event EVENT to the other servers of the cluster with
    /// the chat's `x:sse` (repeatable, comma-separated in the environment). Without it `x:sse`
    /// is refused: a browser does not drive server-to-server events. Names Socket.IO
    /// reserves (connect, connection, new_namespace, disconnect, disconnecting, newListener,
    /// removeListener, error) are refused here.
    #[arg(
        long = "client-sse",
        env = "CROSSCAST_CLIENT_SSE",
        value_name = "EVENT",
        value_parser = parse_client_sse,
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub client_sse: Vec<String>,
    /// The most Socket.IO connections this server holds; one more is refused at connect
    /// (connect_error "too many connections").
    #[arg(
        long,
        env = "CROSSCAST_MAX_CONNECTIONS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000),
        hide_env_values = true
    )]
    pub max_connections: u64,
    /// The largest message a client may send, in bytes: one WebSocket message, one HTTP
    /// long-polling request body, and the binary attachments of one packet together. A larger
    /// one closes the connection (polling: 413), as Node's maxHttpBufferSize does.
    #[arg(
        long,
        env = "CROSSCAST_MAX_PAYLOAD",
        default_value_t = 1_000_000,
        value_parser = clap::value_parser!(u64).range(256..=67_108_864),
        hide_env_values = true
    )]
    pub max_payload: u64,
    /// Client events per second one socket may send on average (a token bucket that holds
    /// --events-burst). An event over it is refused with an {error} ack; a socket that keeps
    /// going (more than twice the rate for as long as the burst lasts) is disconnected.
    #[arg(
        long,
        env = "CROSSCAST_MAX_EVENTS_PER_SECOND",
        default_value_t = 100,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000),
        hide_env_values = true
    )]
    pub max_events_per_second: u64,
    /// Client events one socket may send at once before --max-events-per-second applies.
    #[arg(
        long,
        env = "CROSSCAST_EVENTS_BURST",
        default_value_t = 200,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000),
        hide_env_values = true
    )]
    pub events_burst: u64,
    /// Cluster-wide requests (`who`, `x:sse`) one socket may have in flight; one more is
    /// answered with an {error} ack.
    #[arg(
        long,
        env = "CROSSCAST_MAX_REQUESTS_PER_SOCKET",
        default_value_t = 4,
        value_parser = clap::value_parser!(u64).range(1..=1024),
        hide_env_values = true
    )]
    pub max_requests_per_socket: u64,
    /// Rooms one socket may join (its own id room not counted); one more is refused.
    #[arg(
        long,
        env = "CROSSCAST_MAX_ROOMS_PER_SOCKET",
        default_value_t = 100,
        value_parser = clap::value_parser!(u64).range(1..=100_000),
        hide_env_values = true
    )]
    pub max_rooms_per_socket: u64,
    /// Which web pages may use this server (CORS).
    #[command(flatten)]
    pub cors: CorsArgs,
}

impl ServeConfig {
    /// The requests timeout as a duration.
    pub fn requests_timeout(&self) -> Duration {
        Duration::from_millis(self.requests_timeout)
    }
}

/// Options of `crosscast emit`.
#[derive(Clone, Debug, Args)]
#[command(mut_arg("redis_url", |a| a.required_unless_present("redis_cluster")))]
pub struct EmitArgs {
    /// Where Redis is: `--redis-url` or `--redis-cluster` (one is required), `--redis-ca`.
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Wire protocol of the cluster: `classic` PUBLISHes the emitter format of
    /// @socket.io/redis-emitter; `sharded` SPUBLISHes a broadcast of the sharded adapter's
    /// format (uid "emitter") on its main channel, heard by sharded servers in every
    /// subscription mode.
    #[arg(
        long,
        env = "CROSSCAST_ADAPTER",
        value_parser = adapter_parser(),
        default_value = "classic",
        hide_env_values = true
    )]
    pub adapter: Protocol,
    /// Channel prefix of the cluster (Node's `key` / `channelPrefix`).
    #[arg(
        long,
        env = "CROSSCAST_KEY",
        default_value = crosscast_core::node::DEFAULT_KEY,
        hide_env_values = true
    )]
    pub key: String,
    /// Namespace.
    #[arg(long, default_value = "/")]
    pub nsp: String,
    /// Only to the sockets in this room (repeatable). A room may start with `-` (socket
    /// ids do).
    #[arg(long = "to", value_name = "ROOM", allow_hyphen_values = true)]
    pub to: Vec<String>,
    /// Not to the sockets in this room (repeatable). A room may start with `-`.
    #[arg(long = "except", value_name = "ROOM", allow_hyphen_values = true)]
    pub except: Vec<String>,
    /// The event name.
    pub event: String,
    /// The arguments: JSON values; anything that is not JSON is a string. A single `-`
    /// instead reads them from stdin: one JSON array (at most 1 MiB, JSON only) whose
    /// elements are the arguments, e.g. `echo '["hi", 42]' | crosscast emit "chat message" -`.
    /// `-` must then be the only ARG; a lone "-" string argument is written '"-"'.
    #[arg(value_name = "ARG", allow_hyphen_values = true)]
    pub args: Vec<String>,
}

// ---- operations: the log format and the origin policy -------------------------------------

/// How the log on stderr is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event: time, level, target, message, `key=value` fields.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the fields.
    Json,
}

/// The log options, accepted before or after the subcommand.
#[derive(Clone, Debug, Args)]
pub struct LogArgs {
    /// Log format on stderr: text, or json (one JSON object per line). Once the server has
    /// joined its cluster, every line names its node with a `uid` field.
    #[arg(
        long,
        global = true,
        env = "CROSSCAST_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        hide_env_values = true
    )]
    pub log_format: LogFormat,
}

/// An origin a web page may use the server from (`--cors-origin`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigin {
    /// `*`: every origin.
    Any,
    /// `scheme://host[:port]`, lowercase, without the scheme's default port, as browsers send
    /// it in `Origin`.
    Exact(String),
}

/// Parses `*` or `scheme://host[:port]` (a trailing `/` is allowed; a path, query, user or
/// fragment is not).
pub fn parse_cors_origin(text: &str) -> Result<CorsOrigin, String> {
    if text == "*" {
        return Ok(CorsOrigin::Any);
    }
    let bad = |why: &str| {
        Err(format!(
            "{text:?} is not an origin ({why}); expected scheme://host[:port] or *"
        ))
    };
    let Some((scheme, rest)) = text.split_once("://") else {
        return bad("no scheme://");
    };
    let scheme = scheme.to_ascii_lowercase();
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return bad("a bad scheme");
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
    if authority.is_empty() {
        return bad("no host");
    }
    if !authority.is_ascii() {
        return bad("not ASCII: write an international name in its xn-- form");
    }
    if authority
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@' | '\\' | ','))
    {
        return bad("only scheme, host and port");
    }
    let (host, port) = split_port(&authority);
    if host.is_empty() {
        return bad("no host");
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => Some(n),
            _ => return bad("a bad port"),
        },
    };
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    Ok(CorsOrigin::Exact(match port {
        Some(p) if Some(p) != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    }))
}

/// `host[:port]` into the host and the port text (an IPv6 host is in brackets).
pub(crate) fn split_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(end) = authority.rfind(']') {
        return match authority[end + 1..].strip_prefix(':') {
            Some(port) => (&authority[..=end], Some(port)),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// The origin policy of `crosscast serve`.
#[derive(Clone, Debug, Args)]
pub struct CorsArgs {
    /// Let web pages of ORIGIN (scheme://host or scheme://host:port, or * for any) use the
    /// Socket.IO endpoint: CORS headers on HTTP long-polling, and WebSocket upgrades accepted.
    /// Repeatable, comma-separated in the environment. Without it only pages served by this
    /// server (same origin) may; a request from another origin is refused with 403.
    /// Requests without an Origin header (non-browser clients) are always served.
    #[arg(
        long = "cors-origin",
        env = "CROSSCAST_CORS_ORIGIN",
        value_name = "ORIGIN",
        value_parser = parse_cors_origin,
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub cors_origins: Vec<CorsOrigin>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        let exact = |s: &str| Ok(CorsOrigin::Exact(s.to_owned()));
        assert_eq!(parse_cors_origin("*"), Ok(CorsOrigin::Any));
        assert_eq!(
            parse_cors_origin("https://Chat.Example.com"),
            exact("https://chat.example.com")
        );
        assert_eq!(
            parse_cors_origin("https://a.example:443/"),
            exact("https://a.example")
        );
        assert_eq!(
            parse_cors_origin("http://a.example:80"),
            exact("http://a.example")
        );
        assert_eq!(
            parse_cors_origin("http://127.0.0.1:8080"),
            exact("http://127.0.0.1:8080")
        );
        assert_eq!(
            parse_cors_origin("http://[::1]:3000"),
            exact("http://[::1]:3000")
        );
        assert_eq!(parse_cors_origin("app://local"), exact("app://local"));
        for bad in [
            "",
            "example.com",
            "https://",
            "https://a.example/path",
            "https://a.example?x=1",
            "https://user@a.example",
            "https://a.example:port",
            "https://a.example:99999",
            "https://:80",
            "1http://a.example",
            "https://a b",
        ] {
            assert!(parse_cors_origin(bad).is_err(), "{bad:?} was accepted");
        }
    }
}

#[cfg(test)]
mod emit_tests {
    use clap::Parser;

    use super::{Cli, Command};

    #[test]
    fn emit_rooms_may_start_with_a_dash_as_socket_ids_do() {
        let cli = Cli::try_parse_from([
            "crosscast",
            "emit",
            "--redis-url",
            "redis://127.0.0.1:6390",
            "--to",
            "-mi1tbogLaV7UQy_",
            "--except",
            "-x",
            "note",
            "hi",
        ])
        .expect("parses");
        let Command::Emit(args) = cli.command else {
            panic!("not emit");
        };
        assert_eq!(args.to, ["-mi1tbogLaV7UQy_"]);
        assert_eq!(args.except, ["-x"]);
    }
}
