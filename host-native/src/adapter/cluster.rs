//! The cluster handle: one Redis driver shared by every namespace adapter of a
//! server, the routing of Redis messages to namespaces by subscription, the
//! publisher, and the server-side event API.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crosscast_core::node::{Outcome, Protocol, Stats, Subscription, Time, Transmit};
use crosscast_core::{BroadcastOpts, NodeConfig, Room, SocketInfo, Value};
use socketioxide_core::Sid;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::convert::IdBook;
use super::error::Error;
use super::handshake::Handshake;
use super::inbox::{Command, Inbox, InboxDrop, RequestKind};
use super::server_side::{ServerSideAcks, ServerSideEvent};
use super::socket_records::{SocketBook, SocketRecordError, SocketRecordLimits, SocketRecordStats};
use crate::driver::budget::{ByteBudget, Charge};
use crate::driver::{Driver, DriverConfig, DriverError, DriverEvent, DriverStats, PubSubKind};

/// The options of a cluster, with the defaults of the Node adapters.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// The Redis driver: URL (`redis://` or `rediss://`, with user and password),
    /// RESP version, cluster nodes, timeouts. Its `kind` is set from `protocol`.
    pub driver: DriverConfig,
    /// The core's protocol with its options: classic (`key`,
    /// `publishOnSpecificResponseChannel`) or sharded (`channelPrefix`,
    /// `subscriptionMode`); Node's defaults from [`Protocol::classic`] and
    /// [`Protocol::sharded`]. Every server of a cluster must agree.
    pub protocol: Protocol,
    /// `requestsTimeout`: how long fetchSockets, allRooms and serverSideEmit
    /// with ack wait, in ms. Default 5000; 0 means the default (the core applies it).
    pub requests_timeout_ms: u64,
    /// crosscast's own heartbeat interval (ms); 0 turns membership off. Default 1000.
    pub heartbeat_interval_ms: u64,
    /// A crosscast peer silent this long is gone (ms). Default 3000.
    pub heartbeat_timeout_ms: u64,
    /// Messages waiting to be published (or in flight to Redis), at most; past
    /// it messages are dropped and counted ([`PublishDrops::queue_full`]).
    /// Default 65536.
    pub publish_queue: usize,
    /// Bytes (channel and payload) of the messages waiting to be published or
    /// in flight to Redis, at most; past it messages are dropped and counted
    /// ([`PublishDrops::queue_bytes`]). Default 64 MiB
    /// ([`DEFAULT_PUBLISH_QUEUE_BYTES`]).
    pub publish_queue_bytes: usize,
    /// Commands waiting for a namespace's task (this server's operations and
    /// Redis messages), per namespace, at most. Default 4096.
    pub inbox_queue: usize,
    /// Bytes of the commands waiting for a namespace's task, per namespace, at
    /// most. This server's operations past it are dropped and counted
    /// ([`InboxDrops::queue_bytes`]); Redis messages wait for room (and the
    /// driver's own bounded queue drops past its bounds). Default 16 MiB
    /// ([`DEFAULT_INBOX_QUEUE_BYTES`]).
    pub inbox_queue_bytes: usize,
    /// Bounds of the sockets' handshake and data records ([`Cluster::register_socket`]).
    pub socket_records: SocketRecordLimits,
}

/// The default of [`ClusterConfig::publish_queue_bytes`]: 64 MiB. Node's adapter
/// has no bound (a stalled Redis client buffers without limit); 64 MiB keeps the
/// count bound the one that matters for chat-sized messages (65,536 messages of
/// 1 KiB) and caps 100 KiB payloads at about 650 waiting messages.
pub const DEFAULT_PUBLISH_QUEUE_BYTES: usize = 64 << 20;

/// The default of [`ClusterConfig::inbox_queue_bytes`]: 16 MiB per namespace, as
/// much as the driver's inbound queue (4096 commands of 4 KiB).
pub const DEFAULT_INBOX_QUEUE_BYTES: usize = 16 << 20;

impl ClusterConfig {
    /// A classic cluster on the Redis at `url`, with Node's defaults.
    pub fn classic(url: impl Into<String>) -> Self {
        Self::new(url, Protocol::classic())
    }

    /// A sharded cluster on the Redis at `url`, with Node's defaults.
    pub fn sharded(url: impl Into<String>) -> Self {
        Self::new(url, Protocol::sharded())
    }

    /// A cluster of `protocol` on the Redis at `url`, with Node's defaults.
    pub fn new(url: impl Into<String>, protocol: Protocol) -> Self {
        Self {
            driver: DriverConfig::new(url),
            protocol,
            requests_timeout_ms: NodeConfig::DEFAULT_REQUESTS_TIMEOUT_MS,
            heartbeat_interval_ms: NodeConfig::DEFAULT_HEARTBEAT_INTERVAL_MS,
            heartbeat_timeout_ms: NodeConfig::DEFAULT_HEARTBEAT_TIMEOUT_MS,
            publish_queue: 65536,
            publish_queue_bytes: DEFAULT_PUBLISH_QUEUE_BYTES,
            inbox_queue: 4096,
            inbox_queue_bytes: DEFAULT_INBOX_QUEUE_BYTES,
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
    /// Messages Redis accepted (`PUBLISH`/`SPUBLISH` answered). The nodes'
    /// `core.published` counts the messages they wanted published; the
    /// difference is in [`Metrics::publish_drops`] or still queued.
    pub published: u64,
    /// Messages the nodes wanted published that were not (the sum of
    /// [`Metrics::publish_drops`]).
    pub publish_dropped: u64,
    /// The same, by reason.
    pub publish_drops: PublishDrops,
    /// Bytes waiting to be published or in flight now (a gauge, at most
    /// [`ClusterConfig::publish_queue_bytes`]).
    pub publish_queue_bytes: u64,
    /// The most bytes ever waiting to be published at once.
    pub publish_queue_peak_bytes: u64,
    /// Commands of this server's operations (and Redis messages larger than a
    /// whole inbox) that did not enter a namespace's inbox, by reason.
    pub inbox_drops: InboxDrops,
    /// Bytes waiting in the namespaces' inboxes now, summed (a gauge).
    pub inbox_bytes: u64,
    /// Remote socket ids outside the form carried in `RemoteSocketData` that
    /// the id table forgot to stay bounded (see [`Cluster::socket_id`]).
    pub ids_forgotten: u64,
    /// The most bytes that ever waited in one namespace's inbox at once (at
    /// most [`ClusterConfig::inbox_queue_bytes`]).
    pub inbox_peak_bytes: u64,
    /// Operations of this server's app refused before they reached the
    /// cluster: a reserved server-side event name, or a value nested deeper than
    /// the cluster carries. The app got [`Error::Refused`].
    pub refused: u64,
    /// Server-side events of other servers that found their namespace's queue
    /// to the app full ([`SERVER_SIDE_QUEUE`] events, kept also while the app
    /// has not asked for them): dropped, reason `queue_full`. Their ack is never
    /// answered; the core's timer frees its entry.
    pub server_side_dropped: u64,
    /// Whether Redis is connected now.
    pub connected: bool,
}

/// Messages this server wanted published and did not publish, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishDrops {
    /// The publish queue held [`ClusterConfig::publish_queue`] messages.
    pub queue_full: u64,
    /// The message would have passed [`ClusterConfig::publish_queue_bytes`].
    pub queue_bytes: u64,
    /// Redis was not connected (nothing was sent).
    pub redis_down: u64,
    /// Redis failed the pipeline or did not answer within the response
    /// timeout. Such a message may still have reached Redis; it is counted here,
    /// not as published.
    pub redis_error: u64,
}

impl PublishDrops {
    /// Every drop, whatever the reason.
    pub fn total(&self) -> u64 {
        self.queue_full + self.queue_bytes + self.redis_down + self.redis_error
    }
}

/// Commands that did not enter a namespace's inbox, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxDrops {
    /// The inbox held [`ClusterConfig::inbox_queue`] commands.
    pub queue_full: u64,
    /// The command would have passed [`ClusterConfig::inbox_queue_bytes`].
    pub queue_bytes: u64,
}

impl InboxDrops {
    /// Every drop, whatever the reason.
    pub fn total(&self) -> u64 {
        self.queue_full + self.queue_bytes
    }
}

/// The counters behind [`PublishDrops`], [`InboxDrops`] and [`Metrics::published`].
#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    publish_queue_full: AtomicU64,
    publish_queue_bytes: AtomicU64,
    publish_redis_down: AtomicU64,
    publish_redis_error: AtomicU64,
    inbox_queue_full: AtomicU64,
    inbox_queue_bytes: AtomicU64,
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A handle to the cluster: pass it to `SocketIo::builder().with_adapter::<CrosscastAdapter<_>>(cluster)`
/// and keep a clone for server-side events and metrics. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub(crate) inner: Arc<ClusterInner>,
}

/// The shared state of a cluster. Lock order: there is none to keep, because no code
/// path holds two of these mutexes at once (nor one across an `.await`, nor while
/// calling into socketioxide or the driver); each is taken for one map operation.
pub(crate) struct ClusterInner {
    pub(crate) driver: Driver,
    pub(crate) config: ClusterConfig,
    start: Instant,
    routes: Mutex<HashMap<String, Inbox>>,
    namespaces: Mutex<HashMap<String, Inbox>>,
    /// Each namespace's local sockets, for closing a connection in all of them.
    locals: Mutex<HashMap<String, Weak<dyn LocalSockets>>>,
    uids: Mutex<HashMap<String, String>>,
    stats: Mutex<BTreeMap<String, Stats>>,
    server_side: ServerSideRoutes,
    publisher: mpsc::Sender<(Transmit, Charge)>,
    publish_budget: Arc<ByteBudget>,
    counters: Counters,
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
            .field("protocol", &self.config.protocol)
            .finish()
    }
}

impl Cluster {
    /// Connects to Redis. Fails with [`Error::Driver`] when Redis is unreachable.
    pub async fn connect(mut config: ClusterConfig) -> Result<Cluster, Error> {
        // Not the command of any core output (each names its own): the subscriber connection a
        // sharded cluster needs (RESP3, for SSUBSCRIBE), and the commands of the application's
        // plain channels on [`Cluster::driver`].
        config.driver.kind = PubSubKind::of(&config.protocol);
        let (driver, events) = Driver::connect(config.driver.clone()).await?;
        let (publisher, queue) = mpsc::channel(config.publish_queue.max(1));
        let config_publish_bytes = config.publish_queue_bytes;
        let sockets = SocketBook::new(config.socket_records);
        let inner = Arc::new(ClusterInner {
            driver,
            config,
            start: Instant::now(),
            routes: Mutex::new(HashMap::new()),
            namespaces: Mutex::new(HashMap::new()),
            locals: Mutex::new(HashMap::new()),
            uids: Mutex::new(HashMap::new()),
            stats: Mutex::new(BTreeMap::new()),
            server_side: ServerSideRoutes::default(),
            publisher,
            publish_budget: ByteBudget::new(config_publish_bytes),
            counters: Counters::default(),
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
        self.inner.config.protocol.name()
    }

    /// Whether Redis is connected now.
    pub fn is_connected(&self) -> bool {
        self.inner.driver.is_connected()
    }

    /// This server's uid in namespace `nsp` (what Node peers see as the sender).
    pub fn uid(&self, nsp: &str) -> Option<String> {
        lock(&self.inner.uids).get(nsp).cloned()
    }

    /// The real id of a socket returned by `fetch_sockets` (pass
    /// `remote_socket.data()`): a Node socket's 20-character id is carried in the
    /// 16-character `id` and the `server_id` of its data, and comes back whole
    /// however many sockets were fetched since (see the adapter's id contract).
    pub fn socket_id(&self, socket: &socketioxide_core::adapter::RemoteSocketData) -> String {
        self.inner.ids.real_id(socket.id, Some(socket.server_id))
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
            core.dropped_excess_acks += s.dropped_excess_acks;
            core.refused_too_deep += s.refused_too_deep;
            core.refused_reserved_event += s.refused_reserved_event;
        }
        let c = &self.inner.counters;
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let publish_drops = PublishDrops {
            queue_full: load(&c.publish_queue_full),
            queue_bytes: load(&c.publish_queue_bytes),
            redis_down: load(&c.publish_redis_down),
            redis_error: load(&c.publish_redis_error),
        };
        let (mut inbox_bytes, mut inbox_peak_bytes) = (0u64, 0u64);
        for inbox in lock(&self.inner.namespaces).values() {
            inbox_bytes += inbox.budget.used() as u64;
            inbox_peak_bytes = inbox_peak_bytes.max(inbox.budget.peak() as u64);
        }
        Metrics {
            core,
            driver: self.inner.driver.stats(),
            published: load(&c.published),
            publish_dropped: publish_drops.total(),
            publish_drops,
            publish_queue_bytes: self.inner.publish_budget.used() as u64,
            publish_queue_peak_bytes: self.inner.publish_budget.peak() as u64,
            inbox_drops: InboxDrops {
                queue_full: load(&c.inbox_queue_full),
                queue_bytes: load(&c.inbox_queue_bytes),
            },
            inbox_bytes,
            inbox_peak_bytes,
            ids_forgotten: self.inner.ids.forgotten(),
            refused: self.inner.refused.load(Ordering::Relaxed),
            server_side_dropped: self.inner.server_side.dropped(),
            connected: self.is_connected(),
        }
    }

    /// The server-side events that other servers send to namespace `nsp`. The
    /// first call takes the receiver; later calls get `None`. Events that
    /// arrive while nobody listens are dropped (without an ack), as in Node.
    pub fn server_side_events(&self, nsp: &str) -> Option<mpsc::Receiver<ServerSideEvent>> {
        self.inner.server_side.take_receiver(nsp)
    }

    fn namespace(&self, nsp: &str) -> Result<Inbox, Error> {
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
        self.inner
            .queue(&ns, Command::ServerSideEmit { data })
            .await
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
            error: done.error,
        })
    }

    /// Disconnects the sockets of namespace `nsp` in any of `rooms` (every
    /// socket when empty) and in none of `except`, on every server: Node's
    /// `io.of(nsp).in(rooms).except(except).disconnectSockets(close)`.
    ///
    /// With `close`, each socket's whole connection goes: on a Node server its
    /// underlying connection is closed; on a crosscast server it is disconnected
    /// from every namespace it joined on that connection (socketioxide gives an
    /// adapter no way to close the transport itself; a Socket.IO client closes
    /// it once no namespace is left). Without, only namespace `nsp`: what
    /// socketioxide's own `disconnect()` does, and what the adapter publishes for
    /// it.
    pub async fn disconnect_sockets(
        &self,
        nsp: &str,
        rooms: Vec<String>,
        except: Vec<String>,
        close: bool,
    ) -> Result<(), Error> {
        let ns = self.namespace(nsp)?;
        let opts = BroadcastOpts {
            rooms: rooms.into_iter().map(Room::Str).collect(),
            except: except.into_iter().map(Room::Str).collect(),
            ..BroadcastOpts::default()
        };
        // While Redis is down the other servers' part is dropped and counted, as
        // for a broadcast; this server's sockets go regardless.
        self.inner
            .queue(
                &ns,
                Command::Disconnect {
                    opts: opts.clone(),
                    close,
                },
            )
            .await?;
        let local = lock(&self.inner.locals).get(nsp).and_then(Weak::upgrade);
        if let Some(local) = local {
            let sids = local.matching(&opts);
            if close {
                self.inner.close_connections(nsp, &sids);
            } else {
                local.disconnect(&sids);
            }
        }
        Ok(())
    }

    /// Every socket of namespace `nsp` in the cluster, or those in one of
    /// `rooms` when some are named, with its handshake, rooms and data: this
    /// server's from their records (see [`Cluster::register_socket`]), the
    /// other servers' as they answered.
    ///
    /// Unlike socketioxide's `fetch_sockets`, a server that does not answer
    /// within the requests timeout does not fail the call: the answer holds
    /// what came and says how many servers answered of how many were expected
    /// (a dashboard shows the live servers' sockets instead of nothing). It
    /// fails only when Redis is down or the namespace is not served.
    pub async fn fetch_socket_infos(
        &self,
        nsp: &str,
        rooms: Vec<String>,
    ) -> Result<SocketInfos, Error> {
        let opts = BroadcastOpts {
            rooms: rooms.into_iter().map(Room::Str).collect(),
            ..BroadcastOpts::default()
        };
        let done = self.request(nsp, RequestKind::Fetch(opts.clone())).await?;
        let local = lock(&self.inner.locals).get(nsp).and_then(Weak::upgrade);
        let mut sockets = local.map(|l| l.infos(&opts)).unwrap_or_default();
        if let Outcome::Fetch(remote) = done.outcome {
            sockets.extend(remote);
        }
        Ok(SocketInfos {
            sockets,
            servers_expected: done.servers_expected,
            servers_answered: done.servers_answered,
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
        self.inner
            .queue(&ns, Command::Request { kind, done })
            .await?;
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

    /// A fresh node configuration for namespace `nsp`, with a uid the core derives from
    /// fresh random bytes ([`Protocol::uid_from_random`]: the shape Node uses).
    pub(crate) fn node_config(&self, nsp: &str) -> NodeConfig {
        let mut h = self.uid_seed.build_hasher();
        h.write_u64(self.uid_counter.fetch_add(1, Ordering::Relaxed));
        h.write(nsp.as_bytes());
        let random = h.finish().to_le_bytes();
        let protocol = self.config.protocol.clone();
        let uid = protocol.uid_from_random(random);
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

    /// Counts one command that did not enter a namespace's inbox.
    pub(crate) fn count_inbox_drop(&self, reason: InboxDrop) {
        match reason {
            InboxDrop::Full => bump(&self.counters.inbox_queue_full, 1),
            InboxDrop::Bytes => bump(&self.counters.inbox_queue_bytes, 1),
            InboxDrop::Closed => {}
        }
    }

    /// Queues an operation of the application for a namespace task, waiting for
    /// room; one larger than the whole inbox is refused with [`Error::TooLarge`].
    async fn queue(&self, inbox: &Inbox, command: Command) -> Result<(), Error> {
        let bytes = command.size();
        match inbox.send(command).await {
            Ok(()) => Ok(()),
            Err(InboxDrop::Closed) => Err(Error::Closed),
            Err(reason) => {
                self.count_inbox_drop(reason);
                Err(Error::TooLarge {
                    bytes,
                    limit: inbox.budget.limit(),
                })
            }
        }
    }

    pub(crate) fn register_namespace(&self, nsp: &str, uid: &str, commands: Inbox) {
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
        lock(&self.locals).remove(nsp);
    }

    /// Makes namespace `nsp`'s local sockets reachable for [`ClusterInner::close_connections`].
    pub(crate) fn register_local(&self, nsp: &str, local: Weak<dyn LocalSockets>) {
        lock(&self.locals).insert(nsp.to_owned(), local);
    }

    /// Closes the connections of the local sockets `sids` of namespace `nsp`:
    /// disconnects them from every namespace of this server (socketioxide gives
    /// a connection's sockets the same id in every namespace), `nsp` last, so a
    /// client has every other namespace's disconnection before `nsp`'s.
    pub(crate) fn close_connections(&self, nsp: &str, sids: &[Sid]) {
        if sids.is_empty() {
            return;
        }
        let mut all: Vec<(String, Weak<dyn LocalSockets>)> = lock(&self.locals)
            .iter()
            .map(|(name, local)| (name.clone(), Weak::clone(local)))
            .collect();
        all.sort_by_key(|(name, _)| name == nsp);
        for (_, local) in all {
            if let Some(local) = local.upgrade() {
                local.disconnect(sids);
            }
        }
    }

    /// Queues a message for publication; one that does not fit (in count or in
    /// bytes), or comes while Redis is down, is dropped and counted by reason.
    pub(crate) fn publish(&self, transmit: Transmit) {
        let c = &self.counters;
        self.publish_queued.fetch_add(1, Ordering::SeqCst);
        let dropped = |counter: &AtomicU64| {
            bump(counter, 1);
            self.publish_settled.fetch_add(1, Ordering::SeqCst);
        };
        if !self.driver.is_connected() {
            return dropped(&c.publish_redis_down);
        }
        let bytes = transmit.channel.len() + transmit.payload.len();
        let Some(charge) = self.publish_budget.try_charge(bytes) else {
            return dropped(&c.publish_queue_bytes);
        };
        if self.publisher.try_send((transmit, charge)).is_err() {
            dropped(&c.publish_queue_full);
        }
    }

    /// Counts the outcome of a pipeline of `n` messages.
    fn count_published(&self, result: &Result<(), DriverError>, n: u64) {
        let c = &self.counters;
        match result {
            Ok(()) => bump(&c.published, n),
            Err(DriverError::NotConnected | DriverError::Closed) => bump(&c.publish_redis_down, n),
            Err(_) => bump(&c.publish_redis_error, n),
        }
    }

    /// Subscribes `sub` with the command the core named, its messages routed to `route`.
    pub(crate) fn subscribe(&self, sub: Subscription, route: Inbox) {
        let Some(key) = route_key(&sub) else {
            tracing::warn!(
                ?sub,
                "subscription kind unknown to this host: not subscribed"
            );
            return;
        };
        lock(&self.routes).insert(key.to_owned(), route);
        if let Err(e) = self.driver.subscribe_to(sub.clone()) {
            tracing::warn!(error = %e, ?sub, "subscribe failed");
        }
    }

    /// Unsubscribes `sub` with the command the core named.
    pub(crate) fn unsubscribe(&self, sub: &Subscription) {
        if let Some(key) = route_key(sub) {
            lock(&self.routes).remove(key);
        }
        if let Err(e) = self.driver.unsubscribe_from(sub) {
            tracing::debug!(error = %e, ?sub, "unsubscribe failed");
        }
    }

    pub(crate) fn record_stats(&self, nsp: &str, stats: Stats) {
        lock(&self.stats).insert(nsp.to_owned(), stats);
    }

    pub(crate) fn deliver_server_side(&self, nsp: &str, event: ServerSideEvent) {
        self.server_side.deliver(nsp, event);
    }
}

/// The socket records (handshake and data) that other servers' fetchSockets see.
impl Cluster {
    /// Records what other servers see of socket `sid` of namespace `nsp`
    /// through fetchSockets: its `handshake` and its `data` (Node's
    /// `socket.data`; give an empty map when the app keeps none). Replaces an
    /// earlier record of the same socket. Call it in the connect handler and
    /// [`Cluster::forget_socket`] on disconnect. A refused record leaves the
    /// socket without one (see [`SocketRecordError`]); the refusal is counted
    /// in [`Cluster::socket_records`].
    pub fn register_socket(
        &self,
        nsp: &str,
        sid: Sid,
        handshake: Handshake,
        data: Value,
    ) -> Result<(), SocketRecordError> {
        self.inner.sockets.register(nsp, sid, &handshake, data)
    }

    /// Replaces the `data` of a registered socket (Node apps change
    /// `socket.data` at will; other servers see the latest one given here).
    pub fn set_socket_data(
        &self,
        nsp: &str,
        sid: Sid,
        data: Value,
    ) -> Result<(), SocketRecordError> {
        self.inner.sockets.set_data(nsp, sid, data)
    }

    /// Forgets the record of socket `sid` of namespace `nsp`; whether there was one.
    pub fn forget_socket(&self, nsp: &str, sid: Sid) -> bool {
        self.inner.sockets.remove(nsp, sid)
    }

    /// The socket records' gauges and counters.
    pub fn socket_records(&self) -> SocketRecordStats {
        self.inner.sockets.stats()
    }
}

/// What the cluster asks of a namespace's local sockets.
pub(crate) trait LocalSockets: Send + Sync {
    /// The local sockets matching `opts` (every socket when it names no room).
    fn matching(&self, opts: &BroadcastOpts) -> Vec<Sid>;
    /// Disconnects the sockets `sids` from this namespace, those that are in it.
    fn disconnect(&self, sids: &[Sid]);
    /// The local sockets matching `opts` with their records, as a fetchSockets
    /// answer would carry them.
    fn infos(&self, opts: &BroadcastOpts) -> Vec<SocketInfo>;
}

/// The answer of [`Cluster::fetch_socket_infos`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SocketInfos {
    /// The sockets: this server's first, then the other servers' in the order
    /// they answered.
    pub sockets: Vec<SocketInfo>,
    /// How many other servers the request waited for.
    pub servers_expected: u64,
    /// How many of them answered in time.
    pub servers_answered: u64,
}

/// Where the server-side events of each namespace go: the application's
/// receiver, or a channel that keeps them until the application asks.
///
/// One mutex guards both maps: the first event of a namespace and the
/// application's first [`Cluster::server_side_events`] race at start-up, and
/// with a lock per map they took them in opposite orders (a deadlock).
#[derive(Debug, Default)]
pub(crate) struct ServerSideRoutes {
    state: Mutex<ServerSideState>,
    /// Events dropped at a full queue.
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct ServerSideState {
    /// The sending side of each namespace's channel.
    senders: HashMap<String, mpsc::Sender<ServerSideEvent>>,
    /// Receivers created by an event before the application asked for them.
    waiting: HashMap<String, mpsc::Receiver<ServerSideEvent>>,
}

/// Server-side events kept per namespace for a receiver that is slow or not there yet
/// (each at most the core's `Limits::max_message_bytes` on the wire).
pub const SERVER_SIDE_QUEUE: usize = 1024;

impl ServerSideRoutes {
    /// Events dropped at a full queue, since the start.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The receiver of namespace `nsp`'s events: the first call takes it, later calls get `None`.
    pub(crate) fn take_receiver(&self, nsp: &str) -> Option<mpsc::Receiver<ServerSideEvent>> {
        let mut state = lock(&self.state);
        if let Some(rx) = state.waiting.remove(nsp) {
            return Some(rx);
        }
        if state.senders.contains_key(nsp) {
            return None;
        }
        let (tx, rx) = mpsc::channel(SERVER_SIDE_QUEUE);
        state.senders.insert(nsp.to_owned(), tx);
        Some(rx)
    }

    /// Hands `event` to namespace `nsp`'s receiver, or keeps it until one is taken.
    pub(crate) fn deliver(&self, nsp: &str, event: ServerSideEvent) {
        let sender = {
            let mut state = lock(&self.state);
            match state.senders.get(nsp) {
                Some(tx) => tx.clone(),
                None => {
                    // Keep events until the application asks for them.
                    let (tx, rx) = mpsc::channel(SERVER_SIDE_QUEUE);
                    state.senders.insert(nsp.to_owned(), tx.clone());
                    state.waiting.insert(nsp.to_owned(), rx);
                    tx
                }
            }
        };
        // Outside the lock: a dropped event drops its ack, which talks to the namespace task.
        if sender.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(nsp, "server-side event dropped: no listener keeps up");
        }
    }
}

/// The name a subscription's messages arrive under: the channel, or the pattern
/// (`None` for a kind of subscription this host does not know).
fn route_key(sub: &Subscription) -> Option<&str> {
    match sub {
        Subscription::Channel(c) | Subscription::Sharded(c) => Some(c),
        Subscription::Pattern(p) => Some(p),
        _ => None,
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
                    // A full namespace inbox (in commands or bytes) applies
                    // backpressure to the driver's queue, which drops and counts
                    // past its bounds. Only a message larger than a whole inbox is
                    // dropped here.
                    if let Err(InboxDrop::Bytes) =
                        route.send(Command::Message { channel, payload }).await
                    {
                        cluster.count_inbox_drop(InboxDrop::Bytes);
                    }
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

/// Publishes queued messages in order, each with the command the core named:
/// everything queued while the previous batch was in flight goes out as the next
/// pipeline (at most [`PUBLISH_BATCH`]).
/// A message's bytes stay charged to the publish queue until Redis answered its
/// pipeline (or the driver gave up on it), and it is counted as published only
/// when Redis accepted it.
async fn publish(
    driver: Driver,
    mut queue: mpsc::Receiver<(Transmit, Charge)>,
    cluster: std::sync::Weak<ClusterInner>,
) {
    let mut taken = Vec::with_capacity(PUBLISH_BATCH);
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    let mut charges = Vec::with_capacity(PUBLISH_BATCH);
    while queue.recv_many(&mut taken, PUBLISH_BATCH).await > 0 {
        for (t, charge) in taken.drain(..) {
            batch.push(t);
            charges.push(charge);
        }
        let result = driver.publish_batch(&batch).await;
        if let Some(cluster) = cluster.upgrade() {
            let n = batch.len() as u64;
            cluster.count_published(&result, n);
            cluster.publish_settled.fetch_add(n, Ordering::SeqCst);
        }
        batch.clear();
        charges.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    /// Rounds of the race; each uses a fresh namespace, so each is a first event racing a
    /// first listener.
    const ROUNDS: usize = 100_000;

    fn event(n: usize) -> ServerSideEvent {
        ServerSideEvent {
            event: format!("e{n}"),
            args: Vec::new(),
            ack: None,
        }
    }

    /// Nobody listens and a peer keeps sending: the queue keeps the first
    /// [`SERVER_SIDE_QUEUE`] events, drops and counts the rest, and the app that asks
    /// later gets the kept ones.
    #[test]
    fn a_full_server_side_queue_drops_and_counts_the_rest() {
        let routes = ServerSideRoutes::default();
        for n in 0..SERVER_SIDE_QUEUE + 5 {
            routes.deliver("/", event(n));
        }
        assert_eq!(routes.dropped(), 5);
        let mut rx = routes.take_receiver("/").expect("the first call gets it");
        let mut kept = 0;
        while let Ok(got) = rx.try_recv() {
            assert_eq!(got.event, format!("e{kept}"), "the first ones, in order");
            kept += 1;
        }
        assert_eq!(kept, SERVER_SIDE_QUEUE);
        routes.deliver("/", event(0));
        assert_eq!(routes.dropped(), 5, "room again once the app read them");
    }

    /// The first server-side event of a namespace and the application's first
    /// `server_side_events()` call race at start-up. Both take the routes' lock(s); they
    /// must never wait for each other forever, and the event must reach the listener
    /// whichever comes first.
    #[test]
    fn the_first_event_racing_the_first_listener_never_deadlocks() {
        let routes = Arc::new(ServerSideRoutes::default());
        let barrier = Arc::new(Barrier::new(2));
        let (rx_tx, rx_rx) = std::sync::mpsc::channel();
        let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let listener = {
            let (routes, barrier) = (Arc::clone(&routes), Arc::clone(&barrier));
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    barrier.wait();
                    let rx = routes.take_receiver(&format!("/n{round}"));
                    if rx_tx.send(rx).is_err() {
                        return;
                    }
                }
            })
        };
        let deliverer = {
            let progress = Arc::clone(&progress);
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    barrier.wait();
                    routes.deliver(&format!("/n{round}"), event(round));
                    let rx = rx_rx.recv().expect("the listener thread answers");
                    let mut rx = rx.expect("the first call for a namespace gets its receiver");
                    let got = rx.try_recv().expect("the event reached the listener");
                    assert_eq!(got.event, format!("e{round}"));
                    progress.store(round + 1, Ordering::Relaxed);
                }
            })
        };
        // A watchdog, not a speed limit: fail when no round completes for 10 s.
        let mut seen = 0;
        let mut idle = 0;
        while !deliverer.is_finished() {
            std::thread::sleep(Duration::from_millis(100));
            let now = progress.load(Ordering::Relaxed);
            idle = if now == seen { idle + 1 } else { 0 };
            seen = now;
            assert!(
                idle < 100,
                "deadlock: deliver and take_receiver wait for each other (round {seen})"
            );
        }
        if let Err(e) = deliverer.join() {
            std::panic::resume_unwind(e);
        }
        listener.join().expect("the listener thread ends");
    }
}
