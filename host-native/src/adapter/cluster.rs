//! The cluster handle: one Redis driver shared by every namespace adapter of a
//! server, the routing of Redis messages to namespaces by subscription, the
//! publisher, and the server-side event API.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crosscast_core::channel::SubscriptionMode;
use crosscast_core::node::{Outcome, Protocol, Stats, Subscription, Time, Transmit};
use crosscast_core::{NodeConfig, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::convert::IdBook;
use super::error::Error;
use super::namespace::{Command, RequestKind};
use super::server_side::{ServerSideAcks, ServerSideEvent};
use super::socket_records::{SocketBook, SocketRecordLimits};
use crate::driver::{Driver, DriverConfig, DriverEvent, DriverStats, PubSubKind};

/// Which adapter protocol the cluster speaks; every server of a cluster must agree.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// `createAdapter` of `@socket.io/redis-adapter`.
    Classic {
        /// `publishOnSpecificResponseChannel` (default `false`).
        publish_on_specific_response_channel: bool,
    },
    /// `createShardedAdapter` (Redis 7+).
    Sharded {
        /// `subscriptionMode` (default `dynamic`).
        subscription_mode: SubscriptionMode,
    },
}

/// The options of a cluster, with the defaults of the Node adapters.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// The Redis driver: URL (`redis://` or `rediss://`, with user and password),
    /// RESP version, cluster nodes, timeouts. Its `kind` is set from `mode`.
    pub driver: DriverConfig,
    /// Classic or sharded.
    pub mode: Mode,
    /// `key` (classic) or `channelPrefix` (sharded). Default `socket.io`.
    pub key: String,
    /// `requestsTimeout`: how long fetchSockets, allRooms and serverSideEmit
    /// with ack wait, in ms. Default 5000.
    pub requests_timeout_ms: u64,
    /// crosscast's own heartbeat interval (ms); 0 turns membership off. Default 1000.
    pub heartbeat_interval_ms: u64,
    /// A crosscast peer silent this long is gone (ms). Default 3000.
    pub heartbeat_timeout_ms: u64,
    /// Messages waiting to be published, at most; past it broadcasts are
    /// dropped and counted. Default 65536.
    pub publish_queue: usize,
    /// Bounds of the sockets' handshake and data records ([`Cluster::register_socket`]).
    pub socket_records: SocketRecordLimits,
}

impl ClusterConfig {
    /// A classic cluster on the Redis at `url`, with Node's defaults.
    pub fn classic(url: impl Into<String>) -> Self {
        Self::new(
            url,
            Mode::Classic {
                publish_on_specific_response_channel: false,
            },
        )
    }

    /// A sharded cluster on the Redis at `url`, with Node's defaults.
    pub fn sharded(url: impl Into<String>) -> Self {
        Self::new(
            url,
            Mode::Sharded {
                subscription_mode: SubscriptionMode::Dynamic,
            },
        )
    }

    fn new(url: impl Into<String>, mode: Mode) -> Self {
        Self {
            driver: DriverConfig::new(url),
            mode,
            key: "socket.io".to_owned(),
            requests_timeout_ms: 5000,
            heartbeat_interval_ms: 1000,
            heartbeat_timeout_ms: 3000,
            publish_queue: 65536,
            socket_records: SocketRecordLimits::default(),
        }
    }
}

/// Counters of the whole server: the core nodes' (summed over namespaces), the
/// driver's, and the adapter's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Summed over namespaces.
    pub core: Stats,
    /// The Redis driver.
    pub driver: DriverStats,
    /// Messages the node wanted published that were dropped (queue full or
    /// Redis down).
    pub publish_dropped: u64,
    /// Operations of this server's app refused before they reached the
    /// cluster: a reserved server-side event name, or a value nested deeper than
    /// the cluster carries. The app got [`Error::Refused`].
    pub refused: u64,
    /// Whether Redis is connected now.
    pub connected: bool,
}

/// A handle to the cluster: pass it to `SocketIo::builder().with_adapter::<CrosscastAdapter<_>>(cluster)`
/// and keep a clone for server-side events and metrics. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub(crate) inner: Arc<ClusterInner>,
}

pub(crate) struct ClusterInner {
    pub(crate) driver: Driver,
    pub(crate) config: ClusterConfig,
    start: Instant,
    routes: Mutex<HashMap<String, mpsc::Sender<Command>>>,
    namespaces: Mutex<HashMap<String, mpsc::Sender<Command>>>,
    uids: Mutex<HashMap<String, String>>,
    stats: Mutex<BTreeMap<String, Stats>>,
    server_side: Mutex<HashMap<String, mpsc::Sender<ServerSideEvent>>>,
    server_side_waiting: Mutex<HashMap<String, mpsc::Receiver<ServerSideEvent>>>,
    publisher: mpsc::Sender<Transmit>,
    publish_dropped: AtomicU64,
    /// Messages handed to [`ClusterInner::publish`], and those of them published or dropped
    /// since: [`Cluster::flush`] waits for the second to reach the first.
    publish_queued: AtomicU64,
    publish_settled: AtomicU64,
    refused: AtomicU64,
    pub(crate) ids: IdBook,
    pub(crate) sockets: SocketBook,
    uid_seed: std::collections::hash_map::RandomState,
    uid_counter: AtomicU64,
}

impl std::fmt::Debug for ClusterInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterInner")
            .field("driver", &self.driver)
            .field("mode", &self.config.mode)
            .finish()
    }
}

impl Cluster {
    /// Connects to Redis. Fails with [`Error::Driver`] when Redis is unreachable.
    pub async fn connect(mut config: ClusterConfig) -> Result<Cluster, Error> {
        config.driver.kind = match config.mode {
            Mode::Classic { .. } => PubSubKind::Classic,
            Mode::Sharded { .. } => PubSubKind::Sharded,
        };
        if config.requests_timeout_ms == 0 {
            config.requests_timeout_ms = 5000;
        }
        let (driver, events) = Driver::connect(config.driver.clone()).await?;
        let (publisher, queue) = mpsc::channel(config.publish_queue.max(1));
        let sockets = SocketBook::new(config.socket_records);
        let inner = Arc::new(ClusterInner {
            driver,
            config,
            start: Instant::now(),
            routes: Mutex::new(HashMap::new()),
            namespaces: Mutex::new(HashMap::new()),
            uids: Mutex::new(HashMap::new()),
            stats: Mutex::new(BTreeMap::new()),
            server_side: Mutex::new(HashMap::new()),
            server_side_waiting: Mutex::new(HashMap::new()),
            publisher,
            publish_dropped: AtomicU64::new(0),
            publish_queued: AtomicU64::new(0),
            publish_settled: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            ids: IdBook::new(),
            sockets,
            uid_seed: std::collections::hash_map::RandomState::new(),
            uid_counter: AtomicU64::new(0),
        });
        tokio::spawn(dispatch(Arc::downgrade(&inner), events));
        tokio::spawn(publish(inner.driver.clone(), queue, Arc::downgrade(&inner)));
        Ok(Cluster { inner })
    }

    /// The mode name: `classic` or `sharded`.
    pub fn mode_name(&self) -> &'static str {
        match self.inner.config.mode {
            Mode::Classic { .. } => "classic",
            Mode::Sharded { .. } => "sharded",
        }
    }

    /// Whether Redis is connected now.
    pub fn is_connected(&self) -> bool {
        self.inner.driver.is_connected()
    }

    /// This server's uid in namespace `nsp` (what Node peers see as the sender).
    pub fn uid(&self, nsp: &str) -> Option<String> {
        lock(&self.inner.uids).get(nsp).cloned()
    }

    /// The real id of a socket returned by `fetch_sockets`: Node sockets get
    /// synthetic 16-character ids in socketioxide; this gives their 20-character id back.
    pub fn socket_id(&self, sid: socketioxide_core::Sid) -> String {
        self.inner.ids.real_id(sid)
    }

    /// How many servers the cluster has (this one included), for namespace `nsp`.
    pub async fn server_count(&self, nsp: &str) -> Result<u64, Error> {
        match self.request(nsp, RequestKind::ServerCount).await?.outcome {
            Outcome::ServerCount(n) => Ok(n),
            _ => Ok(1),
        }
    }

    /// The Redis driver (for plain channels of the application).
    pub fn driver(&self) -> &Driver {
        &self.inner.driver
    }

    /// Counters for metrics.
    pub fn metrics(&self) -> Metrics {
        let mut core = Stats::default();
        for s in lock(&self.inner.stats).values() {
            core.received += s.received;
            core.published += s.published;
            core.decode_errors += s.decode_errors;
            core.ignored_own += s.ignored_own;
            core.ignored_other_nsp += s.ignored_other_nsp;
            core.ignored_unknown_type += s.ignored_unknown_type;
            core.ignored_not_for_us += s.ignored_not_for_us;
            core.late_responses += s.late_responses;
            core.late_host_answers += s.late_host_answers;
            core.requests_completed += s.requests_completed;
            core.requests_timed_out += s.requests_timed_out;
            core.requests_partial += s.requests_partial;
            core.server_side_acks_pending += s.server_side_acks_pending;
            core.server_side_acks_expired += s.server_side_acks_expired;
            core.remote_acks_pending += s.remote_acks_pending;
            core.questions_pending += s.questions_pending;
            core.dropped_table_full += s.dropped_table_full;
            core.refused_too_deep += s.refused_too_deep;
            core.refused_reserved_event += s.refused_reserved_event;
        }
        Metrics {
            core,
            driver: self.inner.driver.stats(),
            publish_dropped: self.inner.publish_dropped.load(Ordering::Relaxed),
            refused: self.inner.refused.load(Ordering::Relaxed),
            connected: self.is_connected(),
        }
    }

    /// The server-side events that other servers send to namespace `nsp`. The
    /// first call takes the receiver; later calls get `None`. Events that
    /// arrive while nobody listens are dropped (without an ack), as in Node.
    pub fn server_side_events(&self, nsp: &str) -> Option<mpsc::Receiver<ServerSideEvent>> {
        let mut waiting = lock(&self.inner.server_side_waiting);
        if let Some(rx) = waiting.remove(nsp) {
            return Some(rx);
        }
        let mut senders = lock(&self.inner.server_side);
        if senders.contains_key(nsp) {
            return None;
        }
        let (tx, rx) = mpsc::channel(1024);
        senders.insert(nsp.to_owned(), tx);
        Some(rx)
    }

    fn namespace(&self, nsp: &str) -> Result<mpsc::Sender<Command>, Error> {
        lock(&self.inner.namespaces)
            .get(nsp)
            .cloned()
            .ok_or_else(|| Error::UnknownNamespace(nsp.to_owned()))
    }

    /// Sends a server-side event to every other server (Node's `serverSideEmit`).
    pub async fn server_side_emit(
        &self,
        nsp: &str,
        event: &str,
        args: Vec<Value>,
    ) -> Result<(), Error> {
        let data = self.inner.server_side_data(event, args)?;
        let ns = self.namespace(nsp)?;
        if !self.is_connected() {
            return Err(Error::NotConnected);
        }
        ns.send(Command::ServerSideEmit { data })
            .await
            .map_err(|_| Error::Closed)
    }

    /// Sends a server-side event and collects one answer per other server, for
    /// at most the requests timeout (Node's `serverSideEmitWithAck`).
    pub async fn server_side_emit_with_ack(
        &self,
        nsp: &str,
        event: &str,
        args: Vec<Value>,
    ) -> Result<ServerSideAcks, Error> {
        let data = self.inner.server_side_data(event, args)?;
        let done = self.request(nsp, RequestKind::ServerSideEmit(data)).await?;
        let values = match done.outcome {
            Outcome::ServerSideEmit(values) => values,
            _ => Vec::new(),
        };
        Ok(ServerSideAcks {
            values,
            missing: done.missing,
            timed_out: done.timed_out,
        })
    }

    pub(crate) async fn request(
        &self,
        nsp: &str,
        kind: RequestKind,
    ) -> Result<crosscast_core::node::Completion, Error> {
        let ns = self.namespace(nsp)?;
        if !self.is_connected() {
            return Err(Error::NotConnected);
        }
        let (done, wait) = tokio::sync::oneshot::channel();
        ns.send(Command::Request { kind, done })
            .await
            .map_err(|_| Error::Closed)?;
        let completion = wait.await.map_err(|_| Error::Closed)?;
        if matches!(completion.outcome, Outcome::Cancelled) {
            return Err(Error::Closed);
        }
        Ok(completion)
    }

    /// Waits until every message queued for the other servers before the call is published
    /// or dropped (and counted in [`Metrics::publish_dropped`]). Unbounded while Redis is
    /// slow: bound it with a timeout.
    pub async fn flush(&self) {
        self.flush_while_progressing(Duration::MAX).await;
    }

    /// [`Cluster::flush`], giving up once nothing was settled for `stall`.
    async fn flush_while_progressing(&self, stall: Duration) {
        let queued = self.inner.publish_queued.load(Ordering::SeqCst);
        let mut settled = self.inner.publish_settled.load(Ordering::SeqCst);
        let mut since = Instant::now();
        while settled < queued {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let now = self.inner.publish_settled.load(Ordering::SeqCst);
            if now != settled {
                settled = now;
                since = Instant::now();
            } else if since.elapsed() >= stall {
                return;
            }
        }
    }

    /// Publishes what is queued (as [`Cluster::flush`], while Redis keeps taking it: it
    /// gives up after the driver's `response_timeout` without progress, and after five times
    /// that in all), then closes the Redis driver. Close the Socket.IO server first
    /// (`io.close()`), which closes every namespace adapter: its node unsubscribes and
    /// announces its close, and that announcement is among what is published here.
    pub async fn close(&self) {
        let stall = self.inner.config.driver.response_timeout;
        let _ = tokio::time::timeout(stall.saturating_mul(5), self.flush_while_progressing(stall))
            .await;
        self.inner.driver.close().await;
    }
}

impl ClusterInner {
    /// Milliseconds since the cluster started: the core's clock.
    pub(crate) fn now(&self) -> Time {
        Time::from_millis(self.start.elapsed().as_millis() as u64)
    }

    /// The instant of a core time.
    pub(crate) fn instant_of(&self, at: Time) -> Instant {
        self.start + Duration::from_millis(at.as_millis())
    }

    /// A fresh node configuration for namespace `nsp`, with a random uid of the
    /// shape Node uses (6 URL-safe characters classic, 16 hex sharded).
    pub(crate) fn node_config(&self, nsp: &str) -> NodeConfig {
        let mut h = self.uid_seed.build_hasher();
        h.write_u64(self.uid_counter.fetch_add(1, Ordering::Relaxed));
        h.write(nsp.as_bytes());
        let bits = h.finish();
        let (uid, protocol) = match &self.config.mode {
            Mode::Classic {
                publish_on_specific_response_channel,
            } => {
                const ALPHABET: &[u8; 64] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                let uid: String = (0..6)
                    .map(|i| ALPHABET[((bits >> (i * 6)) & 63) as usize] as char)
                    .collect();
                (
                    uid,
                    Protocol::Classic {
                        key: self.config.key.clone(),
                        publish_on_specific_response_channel: *publish_on_specific_response_channel,
                    },
                )
            }
            Mode::Sharded { subscription_mode } => (
                format!("{bits:016x}"),
                Protocol::Sharded {
                    channel_prefix: self.config.key.clone(),
                    subscription_mode: *subscription_mode,
                },
            ),
        };
        let mut config = NodeConfig::new(uid, nsp, protocol);
        config.requests_timeout_ms = self.config.requests_timeout_ms;
        config.heartbeat_interval_ms = self.config.heartbeat_interval_ms;
        config.heartbeat_timeout_ms = self.config.heartbeat_timeout_ms;
        config
    }

    /// `[event, ...args]` of a server-side event, refused (and counted) as the
    /// core refuses it: a reserved name or a value too deep to carry.
    fn server_side_data(&self, event: &str, args: Vec<Value>) -> Result<Vec<Value>, Error> {
        let mut data = vec![Value::from(event)];
        data.extend(args);
        let checked = crosscast_core::event_name::check_server_side(&data)
            .and_then(|()| crosscast_core::Limits::default().check_depth(&data));
        if let Err(e) = checked {
            self.count_refused();
            return Err(Error::Refused(e));
        }
        Ok(data)
    }

    /// Counts one operation of the app refused before it reached the cluster.
    pub(crate) fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one message that was not published (queue full, Redis down).
    pub(crate) fn count_dropped(&self) {
        self.publish_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn register_namespace(&self, nsp: &str, uid: &str, commands: mpsc::Sender<Command>) {
        lock(&self.namespaces).insert(nsp.to_owned(), commands);
        lock(&self.uids).insert(nsp.to_owned(), uid.to_owned());
    }

    /// The uids of this server's namespace nodes, in namespace order, comma-separated (one
    /// uid for a server with one namespace): how log lines name this server.
    pub(crate) fn uids(&self) -> String {
        let uids = lock(&self.uids);
        let mut by_nsp: Vec<(&String, &String)> = uids.iter().collect();
        by_nsp.sort();
        by_nsp
            .iter()
            .map(|(_, uid)| uid.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub(crate) fn forget_namespace(&self, nsp: &str) {
        lock(&self.namespaces).remove(nsp);
    }

    /// Queues a message for publication; a full queue drops it (counted).
    pub(crate) fn publish(&self, transmit: Transmit) {
        self.publish_queued.fetch_add(1, Ordering::SeqCst);
        if !self.driver.is_connected() || self.publisher.try_send(transmit).is_err() {
            self.publish_dropped.fetch_add(1, Ordering::Relaxed);
            self.publish_settled.fetch_add(1, Ordering::SeqCst);
        }
    }

    pub(crate) fn subscribe(&self, sub: Subscription, route: mpsc::Sender<Command>) {
        let result = match &sub {
            Subscription::Channel(c) | Subscription::Sharded(c) => {
                lock(&self.routes).insert(c.clone(), route);
                self.driver.subscribe(c.clone())
            }
            Subscription::Pattern(p) => {
                lock(&self.routes).insert(p.clone(), route);
                self.driver.psubscribe(p.clone())
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, ?sub, "subscribe failed");
        }
    }

    pub(crate) fn unsubscribe(&self, sub: &Subscription) {
        let result = match sub {
            Subscription::Channel(c) | Subscription::Sharded(c) => {
                lock(&self.routes).remove(c);
                self.driver.unsubscribe(c)
            }
            Subscription::Pattern(p) => {
                lock(&self.routes).remove(p);
                self.driver.punsubscribe(p)
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, ?sub, "unsubscribe failed");
        }
    }

    pub(crate) fn record_stats(&self, nsp: &str, stats: Stats) {
        lock(&self.stats).insert(nsp.to_owned(), stats);
    }

    pub(crate) fn deliver_server_side(&self, nsp: &str, event: ServerSideEvent) {
        let sender = {
            let mut senders = lock(&self.server_side);
            match senders.get(nsp) {
                Some(tx) => tx.clone(),
                None => {
                    // Keep events until the application asks for them.
                    let (tx, rx) = mpsc::channel(1024);
                    senders.insert(nsp.to_owned(), tx.clone());
                    lock(&self.server_side_waiting).insert(nsp.to_owned(), rx);
                    tx
                }
            }
        };
        if sender.try_send(event).is_err() {
            tracing::warn!(nsp, "server-side event dropped: no listener keeps up");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Routes each Redis message to the namespace that subscribed its channel (or pattern).
///
/// Logs the connection changes, naming the node uids of this server ([`ClusterInner::uids`]).
async fn dispatch(cluster: std::sync::Weak<ClusterInner>, mut events: mpsc::Receiver<DriverEvent>) {
    let mut reconnected = false;
    while let Some(event) = events.recv().await {
        let Some(cluster) = cluster.upgrade() else {
            break;
        };
        match event {
            DriverEvent::Message {
                channel,
                pattern,
                payload,
            } => {
                let key = pattern.as_deref().unwrap_or(&channel);
                let route = lock(&cluster.routes).get(key).cloned();
                if let Some(route) = route {
                    // A full namespace inbox applies backpressure to the driver's
                    // bounded queue, which drops and counts past its capacity.
                    let _ = route.send(Command::Message { channel, payload }).await;
                }
            }
            // The connection `Cluster::connect` opened is not an event: its first `Connected`
            // comes before any namespace has a uid to name.
            DriverEvent::Connected if !reconnected => {}
            DriverEvent::Disconnected { reason } => {
                reconnected = true;
                tracing::warn!(uid = %cluster.uids(), %reason, "Redis disconnected");
            }
            DriverEvent::Connected => tracing::info!(uid = %cluster.uids(), "Redis connected"),
            DriverEvent::Resubscribed => {
                tracing::info!(uid = %cluster.uids(), "Redis subscriptions restored");
            }
        }
    }
}

/// Most messages published in one pipeline.
const PUBLISH_BATCH: usize = 256;

/// Publishes queued messages in order: everything queued while the previous
/// batch was in flight goes out as the next pipeline (at most [`PUBLISH_BATCH`]).
async fn publish(
    driver: Driver,
    mut queue: mpsc::Receiver<Transmit>,
    cluster: std::sync::Weak<ClusterInner>,
) {
    let mut taken = Vec::with_capacity(PUBLISH_BATCH);
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while queue.recv_many(&mut taken, PUBLISH_BATCH).await > 0 {
        batch.extend(taken.drain(..).map(|t: Transmit| (t.channel, t.payload)));
        let failed = driver.publish_batch(&batch).await.is_err();
        if let Some(cluster) = cluster.upgrade() {
            let n = batch.len() as u64;
            if failed {
                cluster.publish_dropped.fetch_add(n, Ordering::Relaxed);
            }
            cluster.publish_settled.fetch_add(n, Ordering::SeqCst);
        }
        batch.clear();
    }
}
