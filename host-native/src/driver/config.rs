//! What a [`Driver`](super::Driver) connects to and how it behaves when Redis goes away.

use std::time::Duration;

use crosscast_core::node::{PublishKind, ServerCountCommand, Subscription};

/// The family of Redis pub/sub commands of a driver's plain channels, and the subscriber
/// connection it opens.
///
/// The classic adapter of `@socket.io/redis-adapter` uses [`PubSubKind::Classic`], the
/// sharded adapter uses [`PubSubKind::Sharded`] (Redis 7.0 or newer).
///
/// It decides two things only: which subscriber connection exists ([`PubSubKind::Sharded`]
/// always opens a RESP3 one, which `SSUBSCRIBE` needs), and the command of the kind-less
/// methods [`Driver::subscribe`](super::Driver::subscribe),
/// [`Driver::publish`](super::Driver::publish) and
/// [`Driver::server_count`](super::Driver::server_count), for application channels. The
/// outputs of the core carry their own command and go through
/// [`Driver::subscribe_to`](super::Driver::subscribe_to),
/// [`Driver::publish_batch`](super::Driver::publish_batch) and
/// [`Driver::server_count_with`](super::Driver::server_count_with), whatever the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PubSubKind {
    /// `PUBLISH`, `SUBSCRIBE`, `PSUBSCRIBE`; server counts with `PUBSUB NUMSUB`.
    Classic,
    /// `SPUBLISH`, `SSUBSCRIBE`; server counts with `PUBSUB SHARDNUMSUB`.
    /// Patterns do not exist in sharded pub/sub.
    Sharded,
}

impl PubSubKind {
    /// The pub/sub a cluster of `protocol` runs on.
    pub fn of(protocol: &crosscast_core::node::Protocol) -> Self {
        if protocol.is_sharded() {
            Self::Sharded
        } else {
            Self::Classic
        }
    }

    /// The command that publishes on a plain channel of this family.
    pub fn publish_kind(self) -> PublishKind {
        match self {
            Self::Classic => PublishKind::Publish,
            Self::Sharded => PublishKind::SPublish,
        }
    }

    /// The subscription of a plain channel of this family.
    pub fn subscription(self, channel: String) -> Subscription {
        match self {
            Self::Classic => Subscription::Channel(channel),
            Self::Sharded => Subscription::Sharded(channel),
        }
    }

    /// The command that counts the subscribers of a plain channel of this family.
    pub fn server_count_command(self) -> ServerCountCommand {
        match self {
            Self::Classic => ServerCountCommand::NumSub,
            Self::Sharded => ServerCountCommand::ShardNumSub,
        }
    }
}

/// The RESP version the driver negotiates (with `HELLO`) on its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RespVersion {
    /// RESP2, the default of Redis.
    Resp2,
    /// RESP3 (Redis 6 or newer): pub/sub messages arrive as push frames.
    Resp3,
}

/// The default of [`DriverConfig::event_capacity_bytes`]: 16 MiB.
pub const DEFAULT_EVENT_CAPACITY_BYTES: usize = 16 << 20;

/// Configuration of a [`Driver`](super::Driver).
///
/// Build it with [`DriverConfig::new`] and adjust the public fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DriverConfig {
    /// `redis://[user:password@]host:port[/db][?protocol=resp3]` or `rediss://...` for TLS.
    /// The credentials are sent with `AUTH` (ACL user and password, or password only).
    pub url: String,
    /// Classic or sharded: the subscriber connection and the commands of the kind-less
    /// methods (see [`PubSubKind`]).
    pub kind: PubSubKind,
    /// `Some(seeds)` selects Redis Cluster mode: `url` and these URLs are the seed nodes, the
    /// rest of the cluster is discovered. `None` is a standalone Redis.
    pub cluster_nodes: Option<Vec<String>>,
    /// Overrides the RESP version of the URL (`?protocol=resp3`); `None` keeps the URL's choice,
    /// RESP2 when it names none. In sharded mode the subscriber connection always uses RESP3,
    /// because the redis crate receives `smessage` frames only as RESP3 pushes.
    pub resp: Option<RespVersion>,
    /// PEM-encoded CA certificate(s) trusted for `rediss://`; `None` uses the platform's roots.
    pub tls_root_cert_pem: Option<Vec<u8>>,
    /// First reconnect delay. Delays double up to `backoff_max`, each scaled down by a
    /// deterministic jitter of up to 50 % (derived from a counter, not from randomness).
    pub backoff_min: Duration,
    /// Upper bound of a reconnect delay. Delivery resumes at most about this long (plus one
    /// connection set-up) after Redis is reachable again.
    pub backoff_max: Duration,
    /// Bound of one connection attempt (TCP, TLS, `HELLO`/`AUTH`).
    pub connect_timeout: Duration,
    /// Bound of one command (`PUBLISH`, `PUBSUB`, a subscription change).
    pub response_timeout: Duration,
    /// How often the subscriber connection is checked with `PING` (answered within
    /// `response_timeout`) while idle, to notice a Redis that hangs without closing the
    /// connection. `Duration::ZERO` disables the check.
    pub health_check_interval: Duration,
    /// Capacity of the event channel returned by [`Driver::connect`](super::Driver::connect),
    /// in events. When it is full, new events are dropped and counted in
    /// [`DriverStats::dropped_queue_full`](super::DriverStats::dropped_queue_full).
    pub event_capacity: usize,
    /// Bound of the message payload bytes the driver has handed out and that are still
    /// alive: in the event channel, or held by the consumer (a payload's bytes come back when
    /// its last [`Bytes`](bytes::Bytes) is dropped). A message that would pass it is dropped
    /// and counted in [`DriverStats::dropped_queue_bytes`](super::DriverStats::dropped_queue_bytes).
    /// Default 16 MiB: 4096 events of 4 KiB, or 160 of 100 KiB.
    pub event_capacity_bytes: usize,
}

impl DriverConfig {
    /// A configuration for `url` with the defaults: classic, standalone, RESP version of the URL,
    /// backoff 50 ms to 1 s, connect timeout 2 s, response timeout 2 s, health check every
    /// 5 s, 4096 queued events holding at most 16 MiB of payloads.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            kind: PubSubKind::Classic,
            cluster_nodes: None,
            resp: None,
            tls_root_cert_pem: None,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
            health_check_interval: Duration::from_secs(5),
            event_capacity: 4096,
            event_capacity_bytes: DEFAULT_EVENT_CAPACITY_BYTES,
        }
    }
}
