//! The command line of `crosscast`: `serve` and `emit`, each flag also read from an
//! environment variable. Other tools depend on these names: do not rename them.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Socket.IO servers in Rust and Node.js as one cluster through Redis.
#[derive(Debug, Parser)]
#[command(name = "crosscast", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the chat page and the Socket.IO endpoint; with --redis-url, share every message
    /// with the other servers of the cluster.
    Serve(ServeConfig),
    /// Publish one event into a running cluster, like Node's @socket.io/redis-emitter.
    Emit(EmitArgs),
}

/// The Redis adapter protocol of the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AdapterKind {
    /// `@socket.io/redis-adapter`'s classic adapter (PUBLISH/SUBSCRIBE).
    Classic,
    /// `@socket.io/redis-adapter`'s sharded adapter (SPUBLISH/SSUBSCRIBE, Redis 7+).
    Sharded,
}

impl AdapterKind {
    /// `classic` or `sharded`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterKind::Classic => "classic",
            AdapterKind::Sharded => "sharded",
        }
    }
}

/// A `--bridge CHANNEL:EVENT`: messages on the plain Redis channel become events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bridge {
    /// The Redis channel (classic pub/sub, `PUBLISH`).
    pub channel: String,
    /// The Socket.IO event emitted to the local clients of every node.
    pub event: String,
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

/// Options of `crosscast serve`.
#[derive(Clone, Debug, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free port; the start line names it).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Redis of the cluster (redis://, rediss://). Without it the server is a single node on
    /// the in-memory adapter.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Wire protocol of the cluster.
    #[arg(long, env = "CROSSCAST_ADAPTER", value_enum, default_value_t = AdapterKind::Classic)]
    pub adapter: AdapterKind,
    /// Channel prefix of the cluster (Node's `key` / `channelPrefix`).
    #[arg(long, env = "CROSSCAST_KEY", default_value = "socket.io")]
    pub key: String,
    /// How long a request to the other servers waits for their answers, in milliseconds.
    #[arg(
        long,
        env = "CROSSCAST_REQUESTS_TIMEOUT",
        default_value_t = 5000,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000)
    )]
    pub requests_timeout: u64,
    /// Emit whatever is PUBLISHed on the Redis channel CHANNEL as the event EVENT to the local
    /// clients of every node (repeatable; needs --redis-url).
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
    /// a channel with a colon must name its event. Needs --redis-url. On a channel that is
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
        value_parser = clap::value_parser!(u64).range(1..=536_870_912)
    )]
    pub publish_max_bytes: u64,
}

impl ServeConfig {
    /// The requests timeout as a duration.
    pub fn requests_timeout(&self) -> Duration {
        Duration::from_millis(self.requests_timeout)
    }
}

/// Options of `crosscast emit`.
#[derive(Clone, Debug, Args)]
pub struct EmitArgs {
    /// Redis of the cluster.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: String,
    /// Channel prefix of the cluster (Node's `key`).
    #[arg(long, env = "CROSSCAST_KEY", default_value = "socket.io")]
    pub key: String,
    /// Namespace.
    #[arg(long, default_value = "/")]
    pub nsp: String,
    /// Only to the sockets in this room (repeatable).
    #[arg(long = "to", value_name = "ROOM")]
    pub to: Vec<String>,
    /// Not to the sockets in this room (repeatable).
    #[arg(long = "except", value_name = "ROOM")]
    pub except: Vec<String>,
    /// The event name.
    pub event: String,
    /// The arguments: JSON values; anything that is not JSON is a string.
    #[arg(value_name = "ARG", allow_hyphen_values = true)]
    pub args: Vec<String>,
}
