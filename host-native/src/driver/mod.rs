//! The Redis driver: the I/O layer between a crosscast adapter and Redis pub/sub.
//!
//! A [`Driver`] holds two connections, a publisher (commands, `PUBSUB` queries) and a
//! subscriber, as the Node adapters do (NODE-WIRE §2.1). It speaks classic or sharded pub/sub
//! ([`PubSubKind`]) to a standalone Redis or a Redis Cluster, over RESP2 or RESP3, plain or TLS.
//! It holds no protocol logic: channels and payloads are opaque bytes to it, and it executes
//! the command each output of the core names ([`Transmit::kind`], the [`Subscription`]
//! variant, [`ServerCountCommand`]); a batch may mix commands.
//!
//! Contracts:
//! - **Wanted subscriptions.** [`Driver::subscribe`] and friends only edit a set of wanted
//!   channels and patterns and return at once; a background task makes the subscriber
//!   connection match that set, and restores all of it after every reconnect. Subscribing the
//!   same channel twice keeps one subscription (one `SUBSCRIBE`, so `NUMSUB` counts this
//!   driver once).
//! - **Reconnect.** When either connection is lost the driver drops both, emits
//!   [`DriverEvent::Disconnected`], and reconnects with exponential backoff
//!   (`backoff_min`..`backoff_max`, deterministic jitter), then emits
//!   [`DriverEvent::Connected`] and, once the wanted set is subscribed again,
//!   [`DriverEvent::Resubscribed`].
//! - **Publishing while down** fails at once with [`DriverError::NotConnected`]; nothing is
//!   queued. A publish on a broken connection fails within `response_timeout`.
//! - **Bounded memory.** Events go through a queue bounded in events (`event_capacity`) and
//!   in payload bytes (`event_capacity_bytes`, counting a payload until its last `Bytes` is
//!   dropped); when the consumer lags, events that do not fit are dropped and counted by
//!   reason ([`DriverStats::dropped_queue_full`], [`DriverStats::dropped_queue_bytes`],
//!   [`DriverStats::dropped_closed`]) and the driver never waits for the consumer.
//! - **Cluster.** With `cluster_nodes`, the redis crate's cluster connection routes
//!   `SSUBSCRIBE`/`SPUBLISH` to the slot owner of each channel; `server_count` sums
//!   `PUBSUB (SHARD)NUMSUB` over all masters. The subscriber uses RESP3 (the crate delivers
//!   cluster pub/sub only as pushes). When the connection to any node is lost, the driver
//!   rebuilds both cluster connections and resubscribes, as for a standalone server.
//! - **Health.** An idle subscriber is checked with `PING` every `health_check_interval`; no
//!   answer within `response_timeout` counts as a lost link. A subscription command that
//!   Redis rejects (e.g. an ACL without channel permission) also counts as a lost link, so it
//!   is retried with backoff.
//!
//! ```no_run
//! use crosscast::driver::{Driver, DriverConfig, DriverEvent, PubSubKind};
//!
//! # async fn run() -> Result<(), crosscast::driver::DriverError> {
//! let mut config = DriverConfig::new("redis://127.0.0.1:6380/?protocol=resp3");
//! config.kind = PubSubKind::Sharded;
//! let (driver, mut events) = Driver::connect(config).await?;
//! driver.subscribe("socket.io#/#")?;
//! let servers = driver.server_count("socket.io#/#").await?;
//! driver.publish("socket.io#/#", b"payload".to_vec()).await?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         DriverEvent::Message { channel, payload, .. } => { /* hand to the core */ }
//!         DriverEvent::Resubscribed => { /* the link was down: messages may be lost */ }
//!         _ => {}
//!     }
//! }
//! # let _ = servers;
//! driver.close().await;
//! # Ok(())
//! # }
//! ```

mod backoff;
pub(crate) mod budget;
mod config;
mod error;
mod event;
mod session;
mod subscriptions;
mod supervisor;

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use crosscast_core::node::{PublishKind, ServerCountCommand, Subscription, Transmit};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use config::{DEFAULT_EVENT_CAPACITY_BYTES, DriverConfig, PubSubKind, RespVersion};
pub use error::DriverError;
pub use event::{DriverEvent, DriverStats};

use event::{Counters, EventSink};
use session::{Session, Target};
use supervisor::{Shared, supervise};

/// A handle to the Redis driver. Cheap to clone, `Send + Sync`; all clones share the same two
/// connections. The background task stops when [`Driver::close`] is called or the last clone is
/// dropped. Must be used inside a tokio runtime.
#[derive(Clone)]
pub struct Driver {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("target", &self.inner.shared.target.describe())
            .field("kind", &self.inner.shared.target.kind)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Driver {
    /// Connects both connections and starts the background task.
    ///
    /// Fails with [`DriverError::Unreachable`] when Redis cannot be reached (or refuses `AUTH`)
    /// within `connect_timeout`, and with [`DriverError::Config`] for an unusable
    /// configuration; it does not retry. The first event on the receiver is
    /// [`DriverEvent::Connected`].
    pub async fn connect(
        config: DriverConfig,
    ) -> Result<(Self, mpsc::Receiver<DriverEvent>), DriverError> {
        let target = Target::from_config(&config)?;
        let (tx, rx) = mpsc::channel(config.event_capacity);
        let sink = EventSink::new(tx, Arc::new(Counters::new(config.event_capacity_bytes)));
        let session =
            Session::open(&target, &sink)
                .await
                .map_err(|reason| DriverError::Unreachable {
                    target: target.describe(),
                    reason,
                })?;
        let shared = Arc::new(Shared::new(
            target,
            sink,
            (config.backoff_min, config.backoff_max),
        ));
        shared.install(&session);
        let task = tokio::spawn(supervise(Arc::clone(&shared), session));
        let driver = Self {
            inner: Arc::new(Inner {
                shared,
                task: Mutex::new(Some(task)),
            }),
        };
        Ok((driver, rx))
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    fn open(&self) -> Result<(), DriverError> {
        if self.shared().is_closed() {
            Err(DriverError::Closed)
        } else {
            Ok(())
        }
    }

    fn no_patterns(&self, what: &'static str) -> Result<(), DriverError> {
        match self.shared().target.kind {
            PubSubKind::Sharded => Err(DriverError::Unsupported(what)),
            PubSubKind::Classic => Ok(()),
        }
    }

    /// Wants `sub` subscribed with the command it names (`SUBSCRIBE`, `PSUBSCRIBE` or
    /// `SSUBSCRIBE`), whatever the driver's [`PubSubKind`]. Returns at once; the subscription
    /// is active shortly after, or after the next reconnect.
    ///
    /// Fails with [`DriverError::Config`] for a sharded subscription when the subscriber
    /// connection is RESP2 (a classic standalone driver without RESP3).
    pub fn subscribe_to(&self, sub: Subscription) -> Result<(), DriverError> {
        self.open()?;
        if !matches!(
            sub,
            Subscription::Channel(_) | Subscription::Pattern(_) | Subscription::Sharded(_)
        ) {
            return Err(DriverError::Config(format!(
                "subscription kind unknown to this driver: {sub:?}"
            )));
        }
        if matches!(sub, Subscription::Sharded(_)) && !self.shared().target.resp3_subscriber() {
            return Err(DriverError::Config(
                "SSUBSCRIBE needs a RESP3 subscriber connection (protocol RESP3, a sharded \
                 kind or a cluster)"
                    .into(),
            ));
        }
        self.shared().want(|w| {
            match sub {
                Subscription::Channel(c) => w.channels.insert(c),
                Subscription::Pattern(p) => w.patterns.insert(p),
                Subscription::Sharded(c) => w.sharded.insert(c),
                // Refused above.
                _ => false,
            };
        });
        Ok(())
    }

    /// Stops wanting `sub` (`UNSUBSCRIBE`, `PUNSUBSCRIBE` or `SUNSUBSCRIBE`).
    pub fn unsubscribe_from(&self, sub: &Subscription) -> Result<(), DriverError> {
        self.open()?;
        self.shared().want(|w| {
            match sub {
                Subscription::Channel(c) => w.channels.remove(c),
                Subscription::Pattern(p) => w.patterns.remove(p),
                Subscription::Sharded(c) => w.sharded.remove(c),
                _ => false,
            };
        });
        Ok(())
    }

    /// Wants the plain channel `channel` subscribed (`SUBSCRIBE`, or `SSUBSCRIBE` when the
    /// driver is sharded). Returns at once; the subscription is active shortly after, or after
    /// the next reconnect.
    pub fn subscribe(&self, channel: impl Into<String>) -> Result<(), DriverError> {
        self.subscribe_to(self.shared().target.kind.subscription(channel.into()))
    }

    /// Stops wanting the plain channel `channel` (`UNSUBSCRIBE`/`SUNSUBSCRIBE`).
    pub fn unsubscribe(&self, channel: &str) -> Result<(), DriverError> {
        self.unsubscribe_from(&self.shared().target.kind.subscription(channel.to_owned()))
    }

    /// Wants `pattern` subscribed (`PSUBSCRIBE`). Classic only:
    /// [`DriverError::Unsupported`] when sharded.
    pub fn psubscribe(&self, pattern: impl Into<String>) -> Result<(), DriverError> {
        self.open()?;
        self.no_patterns("PSUBSCRIBE")?;
        self.subscribe_to(Subscription::Pattern(pattern.into()))
    }

    /// Stops wanting `pattern` (`PUNSUBSCRIBE`). Classic only.
    pub fn punsubscribe(&self, pattern: &str) -> Result<(), DriverError> {
        self.open()?;
        self.no_patterns("PUNSUBSCRIBE")?;
        self.unsubscribe_from(&Subscription::Pattern(pattern.to_owned()))
    }

    /// Publishes `payload` on the plain channel `channel` (`PUBLISH`, or `SPUBLISH` when the
    /// driver is sharded). Errors as [`Driver::publish_as`].
    pub async fn publish(
        &self,
        channel: &str,
        payload: impl Into<Bytes>,
    ) -> Result<(), DriverError> {
        let kind = self.shared().target.kind.publish_kind();
        self.publish_as(kind, channel, payload).await
    }

    /// Publishes `payload` on `channel` with the command `kind` names (`PUBLISH` or
    /// `SPUBLISH`), whatever the driver's [`PubSubKind`].
    ///
    /// Returns [`DriverError::NotConnected`] at once while disconnected, and
    /// [`DriverError::Command`] when the command fails or takes longer than
    /// `response_timeout`; a connection failure also starts a reconnect.
    pub async fn publish_as(
        &self,
        kind: PublishKind,
        channel: &str,
        payload: impl Into<Bytes>,
    ) -> Result<(), DriverError> {
        self.open()?;
        let counters = self.shared().sink.counters();
        let result = self.command(|p| {
            let payload = payload.into();
            async move { p.publish(kind, channel, &payload).await }
        });
        match result.await {
            Ok(()) => {
                Counters::bump(&counters.published);
                Ok(())
            }
            Err(e) => {
                Counters::bump(&counters.publish_failures);
                Err(e)
            }
        }
    }

    /// Publishes every transmit of `batch`, in order, each with the command its
    /// [`Transmit::kind`] names (a batch may mix `PUBLISH` and `SPUBLISH`), as one pipeline on
    /// the publisher connection (one write and one round trip for the whole batch on a single
    /// server). All or nothing as far as the counters know: on success every message counts
    /// as published, on failure every one as a failure. Errors as [`Driver::publish_as`].
    pub async fn publish_batch(&self, batch: &[Transmit]) -> Result<(), DriverError> {
        self.open()?;
        if batch.is_empty() {
            return Ok(());
        }
        let counters = self.shared().sink.counters();
        let result = self
            .command(|p| async move { p.publish_batch(batch).await })
            .await;
        let n = batch.len() as u64;
        match result {
            Ok(()) => {
                counters
                    .published
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                counters
                    .publish_failures
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// How many subscribers the plain channel `channel` has (`PUBSUB NUMSUB`, or
    /// `PUBSUB SHARDNUMSUB` when the driver is sharded). Errors as
    /// [`Driver::server_count_with`].
    pub async fn server_count(&self, channel: &str) -> Result<u64, DriverError> {
        let command = self.shared().target.kind.server_count_command();
        self.server_count_with(command, channel).await
    }

    /// How many subscribers `channel` has, counted with `command` (`PUBSUB NUMSUB` or
    /// `PUBSUB SHARDNUMSUB`), whatever the driver's [`PubSubKind`]; on a Redis Cluster the
    /// sum over all masters. Errors as [`Driver::publish_as`].
    pub async fn server_count_with(
        &self,
        command: ServerCountCommand,
        channel: &str,
    ) -> Result<u64, DriverError> {
        self.open()?;
        self.command(|p| async move { p.server_count(command, channel).await })
            .await
    }

    /// Runs one command on the live publisher, bounded by `response_timeout`; a failure of the
    /// connection ends the session so that the supervisor reconnects.
    async fn command<T, F>(
        &self,
        run: impl FnOnce(session::Publisher) -> F,
    ) -> Result<T, DriverError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let Some((publisher, signal)) = self.shared().publisher() else {
            return Err(DriverError::NotConnected);
        };
        let limit = self.shared().target.response_timeout;
        match tokio::time::timeout(limit, run(publisher)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_unrecoverable_error()
                    || e.is_timeout()
                {
                    signal.lose(format!("publisher connection failed: {e}"));
                }
                Err(DriverError::Command(e.to_string()))
            }
            Err(_) => {
                signal.lose(format!("publisher command timed out after {limit:?}"));
                Err(DriverError::Command(format!("timed out after {limit:?}")))
            }
        }
    }

    /// `true` while both connections are up.
    pub fn is_connected(&self) -> bool {
        self.shared().is_connected()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> DriverStats {
        self.shared().sink.counters().snapshot()
    }

    /// Unsubscribes everything (bounded by `response_timeout`), closes both connections and
    /// stops the background task. Afterwards every method returns [`DriverError::Closed`].
    /// Idempotent; clones share the closed state.
    pub async fn close(&self) {
        self.shared().close();
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let limit =
                self.shared().target.response_timeout + self.shared().target.connect_timeout;
            let abort = task.abort_handle();
            if tokio::time::timeout(limit, task).await.is_err() {
                abort.abort();
            }
        }
    }
}
