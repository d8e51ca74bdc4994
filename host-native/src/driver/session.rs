//! One generation of connections to Redis: a publisher and a subscriber, opened together and
//! dropped together when either is lost.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crosscast_core::node::{PublishKind, ServerCountCommand, Transmit};
use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, Msg,
    ProtocolVersion, PushInfo, RedisResult, TlsCertificates, Value,
};
use tokio::sync::Notify;

use super::config::{DriverConfig, PubSubKind, RespVersion};
use super::error::DriverError;
use super::event::EventSink;
use super::subscriptions::Changes;

/// Where and how to connect, resolved once from a [`DriverConfig`].
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) kind: PubSubKind,
    /// The standalone server, or the first seed of a cluster.
    info: ConnectionInfo,
    /// Seeds of a cluster (first is `info`); empty for a standalone server.
    seeds: Vec<ConnectionInfo>,
    protocol: ProtocolVersion,
    root_cert: Option<Vec<u8>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) health_check_interval: Duration,
}

fn parse(url: &str) -> Result<ConnectionInfo, DriverError> {
    url.into_connection_info()
        .map_err(|e| DriverError::Config(format!("bad Redis URL: {e}")))
}

impl Target {
    pub(crate) fn from_config(config: &DriverConfig) -> Result<Self, DriverError> {
        let info = parse(&config.url)?;
        let protocol = match config.resp {
            Some(RespVersion::Resp2) => ProtocolVersion::RESP2,
            Some(RespVersion::Resp3) => ProtocolVersion::RESP3,
            None => info.redis_settings().protocol(),
        };
        let seeds = match &config.cluster_nodes {
            None => Vec::new(),
            Some(nodes) => {
                let mut seeds = vec![info.clone()];
                for node in nodes {
                    seeds.push(parse(node)?);
                }
                seeds
            }
        };
        if config.event_capacity == 0 {
            return Err(DriverError::Config(
                "event_capacity must be at least 1".into(),
            ));
        }
        if config.event_capacity_bytes == 0 {
            return Err(DriverError::Config(
                "event_capacity_bytes must be at least 1".into(),
            ));
        }
        let tls = seeds
            .iter()
            .chain(std::iter::once(&info))
            .any(|i| matches!(i.addr(), ConnectionAddr::TcpTls { .. }));
        if tls {
            // The redis crate builds rustls configurations from the process default provider.
            // Another crate may have installed one already; either is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        Ok(Self {
            kind: config.kind,
            info,
            seeds,
            protocol,
            root_cert: config.tls_root_cert_pem.clone(),
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
            health_check_interval: config.health_check_interval,
        })
    }

    /// The address of the server (or first seed), without credentials, for messages.
    pub(crate) fn describe(&self) -> String {
        self.info.addr().to_string()
    }

    /// Whether the subscriber connection speaks RESP3, which `SSUBSCRIBE` needs (the redis
    /// crate receives `smessage` frames only as RESP3 pushes): always on a cluster and for
    /// [`PubSubKind::Sharded`], otherwise when the protocol is RESP3.
    pub(crate) fn resp3_subscriber(&self) -> bool {
        !self.seeds.is_empty()
            || self.protocol == ProtocolVersion::RESP3
            || self.kind == PubSubKind::Sharded
    }

    fn client(&self, protocol: ProtocolVersion) -> RedisResult<Client> {
        let settings = self.info.redis_settings().clone().set_protocol(protocol);
        let info = self.info.clone().set_redis_settings(settings);
        match &self.root_cert {
            Some(pem) => Client::build_with_tls(
                info,
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
            None => Client::open(info),
        }
    }

    fn cluster(&self, protocol: ProtocolVersion) -> ClusterClientBuilder {
        let mut builder = ClusterClientBuilder::new(self.seeds.clone())
            .use_protocol(protocol)
            .connection_timeout(self.connect_timeout)
            .response_timeout(self.response_timeout);
        if let Some(pem) = &self.root_cert {
            builder = builder.certs(TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.clone()),
            });
        }
        builder
    }
}

/// Tells the supervisor that a session is broken. The first reason wins.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    notify: Notify,
    reason: Mutex<Option<String>>,
}

impl Signal {
    pub(crate) fn lose(&self, reason: impl Into<String>) {
        let mut slot = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(reason.into());
        }
        drop(slot);
        self.notify.notify_one();
    }

    /// Resolves once [`Signal::lose`] was called, with its reason.
    pub(crate) async fn lost(&self) -> String {
        self.notify.notified().await;
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_default()
    }
}

/// The command connection. Cheap to clone; clones share one socket.
#[derive(Clone)]
pub(crate) enum Publisher {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "Publisher::Single",
            Self::Cluster(_) => "Publisher::Cluster",
        })
    }
}

/// Reads the count of a one-channel `PUBSUB NUMSUB`/`SHARDNUMSUB` reply, RESP2 (array) or
/// RESP3 (map).
fn numsub_count(value: &Value) -> RedisResult<u64> {
    let count = match value {
        Value::Array(items) => items.get(1),
        Value::Map(pairs) => pairs.first().map(|(_, v)| v),
        Value::ServerError(e) => return Err(e.clone().into()),
        _ => None,
    };
    match count {
        Some(Value::Int(n)) => Ok(u64::try_from(*n).unwrap_or(0)),
        _ => Err(redis::RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "unexpected PUBSUB NUMSUB reply",
        ))),
    }
}

/// The Redis command of a publish kind (`PUBLISH` for a kind this driver does not know:
/// the core only names the two).
fn publish_verb(kind: PublishKind) -> &'static str {
    match kind {
        PublishKind::SPublish => "SPUBLISH",
        _ => "PUBLISH",
    }
}

/// The `PUBSUB` subcommand of a server-count command.
fn numsub_verb(command: ServerCountCommand) -> RedisResult<&'static str> {
    match command {
        ServerCountCommand::NumSub => Ok("NUMSUB"),
        ServerCountCommand::ShardNumSub => Ok("SHARDNUMSUB"),
        other => Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "server-count command unknown to this driver",
            format!("{other:?}"),
        ))),
    }
}

impl Publisher {
    /// Runs `kind` (`PUBLISH` or `SPUBLISH`) of `payload` on `channel`.
    pub(crate) async fn publish(
        &self,
        kind: PublishKind,
        channel: &str,
        payload: &[u8],
    ) -> RedisResult<()> {
        let command = redis::cmd(publish_verb(kind))
            .arg(channel)
            .arg(payload)
            .clone();
        match self.clone() {
            Self::Single(mut c) => command.query_async::<i64>(&mut c).await.map(drop),
            Self::Cluster(mut c) => command.query_async::<i64>(&mut c).await.map(drop),
        }
    }

    /// Publishes every transmit in order, each with its own command (a batch may mix
    /// `PUBLISH` and `SPUBLISH`). On a single server they go as one pipeline (one write, one
    /// round trip); on a cluster one command at a time, since the commands may belong to
    /// different slot owners.
    pub(crate) async fn publish_batch(&self, batch: &[Transmit]) -> RedisResult<()> {
        match self.clone() {
            Self::Single(mut c) => {
                let mut pipe = redis::pipe();
                for t in batch {
                    pipe.cmd(publish_verb(t.kind))
                        .arg(&t.channel)
                        .arg(&t.payload)
                        .ignore();
                }
                pipe.query_async::<()>(&mut c).await
            }
            Self::Cluster(_) => {
                for t in batch {
                    self.publish(t.kind, &t.channel, &t.payload).await?;
                }
                Ok(())
            }
        }
    }

    /// Subscribers of `channel` as `command` counts them (`PUBSUB NUMSUB` or
    /// `PUBSUB SHARDNUMSUB`); on a cluster summed over every master.
    pub(crate) async fn server_count(
        &self,
        command: ServerCountCommand,
        channel: &str,
    ) -> RedisResult<u64> {
        let command = redis::cmd("PUBSUB")
            .arg(numsub_verb(command)?)
            .arg(channel)
            .clone();
        match self.clone() {
            Self::Single(mut c) => numsub_count(&command.query_async::<Value>(&mut c).await?),
            Self::Cluster(mut c) => {
                let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let reply = c.route_command(command, routing).await?;
                match reply {
                    Value::Map(per_node) => per_node
                        .iter()
                        .try_fold(0u64, |sum, (_, v)| Ok(sum + numsub_count(v)?)),
                    other => numsub_count(&other),
                }
            }
        }
    }
}

/// The subscriber connection.
pub(crate) enum Subscriber {
    /// RESP2, classic only: the crate's dedicated pub/sub connection.
    Resp2 {
        sink: PubSubSink,
        stream: PubSubStream,
    },
    /// RESP3 on a standalone server: messages arrive as pushes on the event sink.
    Resp3(MultiplexedConnection),
    /// RESP3 on a cluster: the crate routes `SSUBSCRIBE` to the slot owner of each channel.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Resp2 { .. } => "Subscriber::Resp2",
            Self::Resp3(_) => "Subscriber::Resp3",
            Self::Cluster(_) => "Subscriber::Cluster",
        })
    }
}

impl Subscriber {
    /// Sends the subscription commands of `changes`, one confirmation awaited per command,
    /// each set with its own command (`SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE` and their
    /// opposites). A RESP2 connection carries no sharded subscription: the driver refuses
    /// those before they reach the wanted set ([`Target::resp3_subscriber`]).
    pub(crate) async fn apply(&mut self, changes: &Changes) -> RedisResult<()> {
        match self {
            Self::Resp2 { sink, .. } => {
                if !changes.ssubscribe.is_empty() || !changes.sunsubscribe.is_empty() {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Client,
                        "sharded pub/sub needs a RESP3 subscriber",
                    )));
                }
                if !changes.unsubscribe.is_empty() {
                    sink.unsubscribe(&changes.unsubscribe).await?;
                }
                if !changes.punsubscribe.is_empty() {
                    sink.punsubscribe(&changes.punsubscribe).await?;
                }
                if !changes.subscribe.is_empty() {
                    sink.subscribe(&changes.subscribe).await?;
                }
                if !changes.psubscribe.is_empty() {
                    sink.psubscribe(&changes.psubscribe).await?;
                }
            }
            Self::Resp3(c) => {
                if !changes.unsubscribe.is_empty() {
                    c.unsubscribe(&changes.unsubscribe).await?;
                }
                if !changes.punsubscribe.is_empty() {
                    c.punsubscribe(&changes.punsubscribe).await?;
                }
                // One sharded channel per command: each is answered by exactly one
                // confirmation.
                let shared = &*c;
                each(&changes.sunsubscribe, |ch| one(shared, "SUNSUBSCRIBE", ch)).await?;
                if !changes.subscribe.is_empty() {
                    c.subscribe(&changes.subscribe).await?;
                }
                if !changes.psubscribe.is_empty() {
                    c.psubscribe(&changes.psubscribe).await?;
                }
                let shared = &*c;
                each(&changes.ssubscribe, |ch| one(shared, "SSUBSCRIBE", ch)).await?;
            }
            Self::Cluster(c) => {
                // One channel per command (the crate routes by the first argument, the slot
                // owner of a sharded channel); the commands are pipelined on clones of the
                // connection.
                let c = &*c;
                each(&changes.unsubscribe, |ch| async move {
                    c.clone().unsubscribe(ch).await
                })
                .await?;
                each(&changes.punsubscribe, |p| async move {
                    c.clone().punsubscribe(p).await
                })
                .await?;
                each(&changes.sunsubscribe, |ch| async move {
                    c.clone().sunsubscribe(ch).await
                })
                .await?;
                each(&changes.subscribe, |ch| async move {
                    c.clone().subscribe(ch).await
                })
                .await?;
                each(&changes.psubscribe, |p| async move {
                    c.clone().psubscribe(p).await
                })
                .await?;
                each(&changes.ssubscribe, |ch| async move {
                    c.clone().ssubscribe(ch).await
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Checks that the subscriber connection answers (`PING`; on a cluster, every master).
    pub(crate) async fn ping(&mut self) -> RedisResult<()> {
        match self {
            Self::Resp2 { sink, .. } => sink.ping::<Value>().await.map(drop),
            Self::Resp3(c) => redis::cmd("PING").query_async::<Value>(c).await.map(drop),
            Self::Cluster(c) => {
                let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                match c.route_command(redis::cmd("PING").clone(), routing).await? {
                    Value::Map(per_node) => per_node
                        .into_iter()
                        .try_for_each(|(_, v)| v.extract_error().map(drop)),
                    other => other.extract_error().map(drop),
                }
            }
        }
    }

    /// The next message of a RESP2 connection (`None`: the connection is gone). Never resolves
    /// for RESP3 connections, whose messages are pushed to the event sink directly.
    pub(crate) async fn next_message(&mut self) -> Option<Msg> {
        match self {
            Self::Resp2 { stream, .. } => stream.next().await,
            Self::Resp3(_) | Self::Cluster(_) => std::future::pending().await,
        }
    }
}

/// Sends `verb channel` on a clone of `c` and awaits its one confirmation.
async fn one(c: &MultiplexedConnection, verb: &'static str, channel: &str) -> RedisResult<()> {
    let command = redis::cmd(verb).arg(channel).clone();
    let mut c = c.clone();
    c.send_packed_command(&command)
        .await?
        .extract_error()
        .map(drop)
}

/// Runs `run` for every name concurrently (pipelined on the connection), failing on the first
/// error.
async fn each<'a, F>(names: &'a [String], run: impl Fn(&'a str) -> F) -> RedisResult<()>
where
    F: Future<Output = RedisResult<()>>,
{
    futures_util::future::try_join_all(names.iter().map(|n| run(n)))
        .await
        .map(drop)
}

/// A publisher and a subscriber of one generation, and the signal that ends it.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) publisher: Publisher,
    pub(crate) subscriber: Subscriber,
    pub(crate) signal: Arc<Signal>,
}

/// A push sender for `redis`: forwards messages to `sink`, reports disconnection to `signal`.
fn push_handler(
    sink: &EventSink,
    signal: &Arc<Signal>,
    role: &'static str,
    forward: bool,
) -> impl Fn(PushInfo) -> Result<(), ()> + Send + Sync + 'static {
    let sink = sink.clone();
    let signal = Arc::clone(signal);
    move |info: PushInfo| {
        let disconnected = if forward {
            sink.push(info)
        } else {
            matches!(info.kind, redis::PushKind::Disconnection)
        };
        if disconnected {
            signal.lose(format!("{role} connection closed"));
        }
        Ok(())
    }
}

async fn bounded<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: timed out after {limit:?}")),
    }
}

impl Session {
    /// Opens both connections. The error is a human-readable reason.
    pub(crate) async fn open(target: &Target, sink: &EventSink) -> Result<Self, String> {
        let signal = Arc::new(Signal::default());
        let limit = target.connect_timeout;
        if !target.seeds.is_empty() {
            let publisher = bounded(limit, "publisher", async {
                target
                    .cluster(target.protocol)
                    .build()?
                    .get_async_connection()
                    .await
            })
            .await?;
            let subscriber = bounded(limit, "subscriber", async {
                target
                    .cluster(ProtocolVersion::RESP3)
                    .push_sender(push_handler(sink, &signal, "subscriber", true))
                    .build()?
                    .get_async_connection()
                    .await
            })
            .await?;
            return Ok(Self {
                publisher: Publisher::Cluster(publisher),
                subscriber: Subscriber::Cluster(subscriber),
                signal,
            });
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(limit))
            .set_response_timeout(Some(target.response_timeout));
        let pub_config = if target.protocol == ProtocolVersion::RESP3 {
            config
                .clone()
                .set_push_sender(push_handler(sink, &signal, "publisher", false))
        } else {
            config.clone()
        };
        let publisher = bounded(limit, "publisher", async {
            target
                .client(target.protocol)?
                .get_multiplexed_async_connection_with_config(&pub_config)
                .await
        })
        .await?;
        let subscriber = if target.resp3_subscriber() {
            let sub_config =
                config.set_push_sender(push_handler(sink, &signal, "subscriber", true));
            Subscriber::Resp3(
                bounded(limit, "subscriber", async {
                    target
                        .client(ProtocolVersion::RESP3)?
                        .get_multiplexed_async_connection_with_config(&sub_config)
                        .await
                })
                .await?,
            )
        } else {
            let pubsub = bounded(limit, "subscriber", async {
                target
                    .client(ProtocolVersion::RESP2)?
                    .get_async_pubsub()
                    .await
            })
            .await?;
            let (sink, stream) = pubsub.split();
            Subscriber::Resp2 { sink, stream }
        };
        Ok(Self {
            publisher: Publisher::Single(publisher),
            subscriber,
            signal,
        })
    }
}
