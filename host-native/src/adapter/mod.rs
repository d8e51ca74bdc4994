//! The cluster adapter for socketioxide 0.18: a socketioxide server with it and
//! Node.js servers with the official `@socket.io/redis-adapter` (classic or
//! sharded) form one cluster.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use crosscast::adapter::{Cluster, ClusterConfig, CrosscastAdapter};
//! use socketioxide::SocketIo;
//!
//! let cluster = Cluster::connect(ClusterConfig::classic("redis://127.0.0.1:6379")).await?;
//! let (layer, io) = SocketIo::builder()
//!     .with_adapter::<CrosscastAdapter<_>>(cluster.clone())
//!     .build_layer();
//! io.ns("/", async |_socket: socketioxide::extract::SocketRef<CrosscastAdapter<_>>| {}).await?;
//! # let _ = layer; Ok(()) }
//! ```
//!
//! Every socketioxide operation that reaches an adapter works across the
//! cluster: broadcasts (rooms, except, binary, volatile), broadcasts with acks,
//! `fetch_sockets` (Node sockets included: their ids are carried in the
//! `RemoteSocketData`, see [`Cluster::socket_id`]), remote join/leave/disconnect,
//! `rooms()` and `server_count()`. Server-side events and
//! `disconnectSockets(close)`, which socketioxide lacks, are on [`Cluster`]. Sockets should join a room named after their own id on connect,
//! as Node sockets do, so that other servers can address them.
//!
//! socketioxide gives an adapter neither a socket's handshake nor its data: for
//! other servers' `fetchSockets()` to see them (`socket.handshake.auth`,
//! `.query`, `.headers`, `.address`, `socket.data`), register each socket in
//! its connect handler with [`Cluster::register_socket`] and forget it on
//! disconnect with [`Cluster::forget_socket`] (see [`Handshake`]).
//!
//! The adapter delivers its own server's part of every operation at once and
//! hands the rest to the namespace's core node, which publishes it; while Redis
//! is down, broadcasts still reach local sockets (the remote part is dropped and
//! counted) and operations that need other servers' answers fail with
//! [`Error::NotConnected`].
//!
//! Every queue on the way is bounded in count and in bytes ([`ClusterConfig`],
//! and the driver's `event_capacity*`); what does not fit is dropped and counted
//! by reason in [`Metrics`].

mod cluster;
pub(crate) mod convert;
mod error;
pub mod handshake;
mod inbox;
mod namespace;
mod server_side;
mod socket_records;

use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use crosscast_core::node::Outcome;
use crosscast_core::{Node, Packet, Room};
use futures_util::stream::{FusedStream, Select, Stream};
use socketioxide_core::adapter::errors::BroadcastError;
use socketioxide_core::adapter::{
    AckStreamItem, BroadcastOptions, CoreAdapter, CoreLocalAdapter, DefinedAdapter,
    RemoteSocketData, Room as SioRoom, RoomParam, SocketEmitter, Spawnable,
};
use socketioxide_core::parser::Parse;
use tokio::sync::{mpsc, oneshot};

pub use cluster::{
    Cluster, ClusterConfig, DEFAULT_INBOX_QUEUE_BYTES, DEFAULT_PUBLISH_QUEUE_BYTES, InboxDrops,
    Metrics, PublishDrops, SERVER_SIDE_QUEUE, SocketInfos,
};
pub use error::Error;
pub use handshake::Handshake;
pub use server_side::{ServerSideAck, ServerSideAcks, ServerSideEvent};
pub use socket_records::{
    FIELD_MAX_DEPTH, SocketRecordError, SocketRecordLimits, SocketRecordStats,
};

use convert::packet_data;
use convert::wire_opts;
use inbox::{Command, Inbox, RequestKind};
use namespace::{LocalSide, NamespaceTask};

/// The adapter of one namespace. Use it as `CrosscastAdapter<_>` in
/// `SocketIo::builder().with_adapter::<CrosscastAdapter<_>>(cluster)`.
pub struct CrosscastAdapter<E: SocketEmitter> {
    local: CoreLocalAdapter<E>,
    cluster: Cluster,
    commands: Inbox,
    inbox: std::sync::Mutex<Option<mpsc::Receiver<Command>>>,
    me: OnceLock<Weak<Self>>,
}

impl<E: SocketEmitter> std::fmt::Debug for CrosscastAdapter<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrosscastAdapter")
            .field("nsp", &self.local.path().to_string())
            .finish()
    }
}

impl<E: SocketEmitter> DefinedAdapter for CrosscastAdapter<E> {}

impl<E: SocketEmitter> LocalSide<E> for CrosscastAdapter<E> {
    fn local(&self) -> &CoreLocalAdapter<E> {
        &self.local
    }
}

/// How the socket records list the connected sockets of an adapter's namespace.
fn live_sockets<E: SocketEmitter>(
    adapter: Weak<CrosscastAdapter<E>>,
) -> socket_records::LiveSockets {
    Arc::new(move || {
        let adapter = adapter.upgrade()?;
        let mut all = BroadcastOptions::default();
        all.add_flag(socketioxide_core::adapter::BroadcastFlags::Broadcast);
        Some(adapter.local.sockets(all))
    })
}

impl<E: SocketEmitter> CrosscastAdapter<E> {
    fn nsp(&self) -> String {
        self.local.path().to_string()
    }

    /// The core's form of a local event packet, checked against what the
    /// cluster carries (the core's depth rule); `None` for a packet that is not
    /// an event (it stays local). A packet the cluster cannot carry is refused
    /// before anything is delivered, and counted.
    fn core_packet(
        &self,
        packet: &socketioxide_core::packet::Packet,
    ) -> Result<Option<Packet>, Error> {
        let limits = crosscast_core::Limits::default();
        let checked = match packet_data(self.local.parser(), packet) {
            None => return Ok(None),
            // The parser gives up past its own depth limit, which is below the core's.
            Some(Err(e)) if e.contains("recursion limit") => {
                Err(crosscast_core::UsageError::TooDeep {
                    limit: limits.max_value_depth(),
                })
            }
            Some(Err(e)) => {
                self.cluster.inner.count_refused();
                return Err(Error::Encode(e));
            }
            Some(Ok(data)) => limits.check_depth(&data).map(|()| data),
        };
        match checked {
            Ok(data) => Ok(Some(Packet { data, nsp: None })),
            Err(e) => {
                self.cluster.inner.count_refused();
                Err(Error::Refused(e))
            }
        }
    }

    /// Hands a command to the namespace task; when its inbox is full (in commands or in
    /// bytes: the cluster cannot keep up) the command is dropped and counted in
    /// [`Metrics::inbox_drops`].
    fn send(&self, command: Command) {
        if let Err(reason) = self.commands.try_send(command) {
            self.cluster.inner.count_inbox_drop(reason);
            tracing::warn!(nsp = %self.nsp(), ?reason, "namespace inbox is full or gone: command dropped");
        }
    }

    /// Whether an operation stays on this server (the `local` flag, or one local socket).
    fn stays_local(&self, opts: &BroadcastOptions) -> bool {
        opts.is_local(self.local.server_id())
    }

    /// Whether the operation targets one socket of another server (a
    /// `RemoteSocket` from `fetch_sockets`): nothing of it applies here.
    fn only_remote(&self, opts: &BroadcastOptions) -> bool {
        opts.server_id
            .is_some_and(|uid| uid != self.local.server_id())
    }

    /// Joins (`join`) or leaves `rooms` for the sockets matching `opts`: this
    /// server's at once, the others' through the node.
    fn change_rooms(&self, opts: BroadcastOptions, rooms: Vec<SioRoom>, join: bool) {
        if !self.stays_local(&opts) {
            let wire = wire_opts(&opts, &self.cluster.inner.ids);
            let names = rooms.iter().map(|r| Room::Str(r.to_string())).collect();
            self.send(if join {
                Command::Join {
                    opts: wire,
                    rooms: names,
                }
            } else {
                Command::Leave {
                    opts: wire,
                    rooms: names,
                }
            });
        }
        if !self.only_remote(&opts) {
            if join {
                self.local.add_sockets(opts, rooms);
            } else {
                self.local.del_sockets(opts, rooms);
            }
            self.send(Command::RoomsChanged);
        }
    }

    async fn remote(&self, kind: RequestKind) -> Result<crosscast_core::node::Completion, Error> {
        self.cluster.request(&self.nsp(), kind).await
    }

    fn remote_socket(&self, id: &str) -> RemoteSocketData {
        let (id, server_id) = self.cluster.inner.ids.remote(id);
        RemoteSocketData {
            id,
            server_id,
            ns: self.local.path().clone(),
        }
    }
}

/// The outcome of a request, or the error the node worded for it (a timeout).
fn settled(done: crosscast_core::node::Completion) -> Result<Outcome, Error> {
    match done.error {
        Some(text) => Err(Error::TimedOut(text)),
        None => Ok(done.outcome),
    }
}

impl<E: SocketEmitter> CoreAdapter<E> for CrosscastAdapter<E> {
    type Error = Error;
    type State = Cluster;
    type AckStream = AckStream<E>;
    type InitRes = InitRes;

    fn new(state: &Cluster, local: CoreLocalAdapter<E>) -> Self {
        let config = &state.inner.config;
        let (commands, inbox) = Inbox::new(config.inbox_queue, config.inbox_queue_bytes);
        Self {
            local,
            cluster: state.clone(),
            commands,
            inbox: std::sync::Mutex::new(Some(inbox)),
            me: OnceLock::new(),
        }
    }

    fn init(self: Arc<Self>, on_success: impl FnOnce() + Send + 'static) -> InitRes {
        let _ = self.me.set(Arc::downgrade(&self));
        let nsp = self.nsp();
        let inner = Arc::clone(&self.cluster.inner);
        let local: Weak<dyn cluster::LocalSockets> = Arc::downgrade(&self) as Weak<Self>;
        inner.register_local(&nsp, local);
        let inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner()).take();
        let weak = Arc::downgrade(&self);
        let commands = self.commands.clone();
        InitRes(Box::pin(async move {
            let Some(inbox) = inbox else {
                return Err(Error::Closed);
            };
            let config = inner.node_config(&nsp);
            // The core says whether it wants the local rooms' changes.
            let scan_rooms = config.protocol.wants_room_changes();
            let node = Node::new(config, inner.now()).map_err(|e| Error::Encode(e.to_string()))?;
            tracing::info!(nsp = %nsp, uid = node.uid(), "cluster adapter ready");
            inner.register_namespace(&nsp, node.uid(), commands.clone());
            inner.sockets.attach(&nsp, live_sockets(weak.clone()));
            let side: Weak<dyn LocalSide<E>> = weak;
            let task = NamespaceTask::new(node, side, inner, commands, inbox, scan_rooms);
            tokio::spawn(task.run());
            on_success();
            Ok(())
        }))
    }

    async fn close(&self) -> Result<(), Error> {
        self.cluster.inner.sockets.detach(&self.nsp());
        let (done, wait) = oneshot::channel();
        if self.commands.tx.send(Command::Close { done }).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
        }
        Ok(())
    }

    async fn server_count(&self) -> Result<u16, Error> {
        let done = self.remote(RequestKind::ServerCount).await?;
        match done.outcome {
            Outcome::ServerCount(n) => Ok(u16::try_from(n).unwrap_or(u16::MAX)),
            _ => Ok(1),
        }
    }

    async fn broadcast(
        &self,
        packet: socketioxide_core::packet::Packet,
        opts: BroadcastOptions,
    ) -> Result<(), BroadcastError> {
        if !self.stays_local(&opts)
            && let Some(core) = self
                .core_packet(&packet)
                .map_err(|e| BroadcastError::Adapter(e.into()))?
        {
            self.send(Command::Broadcast {
                packet: core,
                opts: wire_opts(&opts, &self.cluster.inner.ids),
            });
        }
        self.local
            .broadcast(packet, opts)
            .map_err(BroadcastError::from)
    }

    async fn broadcast_with_ack(
        &self,
        packet: socketioxide_core::packet::Packet,
        opts: BroadcastOptions,
        timeout: Option<Duration>,
    ) -> Result<AckStream<E>, Error> {
        let timeout = timeout.unwrap_or_else(|| self.local.ack_timeout());
        let (remote_tx, remote_rx) = mpsc::unbounded_channel();
        let core = if self.stays_local(&opts) {
            None
        } else {
            self.core_packet(&packet)?
        };
        let completion = if let Some(core) = core {
            if !self.cluster.is_connected() {
                return Err(Error::NotConnected);
            }
            let (done, completion) = oneshot::channel();
            self.send(Command::BroadcastWithAck {
                packet: core,
                opts: wire_opts(&opts, &self.cluster.inner.ids),
                timeout_ms: timeout.as_millis() as u64,
                acks: remote_tx,
                done,
            });
            Some(completion)
        } else {
            drop(remote_tx);
            None
        };
        // A remote socket's ack comes through Redis only; options that match no
        // local socket keep the local stream empty.
        let local_opts = if self.only_remote(&opts) {
            BroadcastOptions::default()
        } else {
            opts
        };
        let (local, _count) = self
            .local
            .broadcast_with_ack(packet, local_opts, Some(timeout));
        let remote = RemoteAcks {
            rx: remote_rx,
            completion,
            adapter: self.me.get().cloned().unwrap_or_default(),
            next: 0,
            done: false,
        };
        Ok(futures_util::stream::select(local, remote))
    }

    async fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: impl RoomParam,
    ) -> Result<(), Error> {
        self.change_rooms(opts, rooms.into_room_iter().collect(), true);
        Ok(())
    }

    async fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: impl RoomParam,
    ) -> Result<(), Error> {
        self.change_rooms(opts, rooms.into_room_iter().collect(), false);
        Ok(())
    }

    /// socketioxide's `disconnect()` leaves the namespace only (the connection
    /// stays), so the other servers are asked for the same: `close: false`, as
    /// Node's `disconnectSockets()`. [`Cluster::disconnect_sockets`] closes
    /// whole connections.
    async fn disconnect_socket(&self, opts: BroadcastOptions) -> Result<(), BroadcastError> {
        if !self.stays_local(&opts) {
            self.send(Command::Disconnect {
                opts: wire_opts(&opts, &self.cluster.inner.ids),
                close: false,
            });
        }
        self.local
            .disconnect_socket(opts)
            .map_err(BroadcastError::Socket)
    }

    async fn rooms(&self, opts: BroadcastOptions) -> Result<Vec<SioRoom>, Error> {
        let mut rooms: std::collections::BTreeSet<String> = self
            .local
            .rooms(opts.clone())
            .into_iter()
            .map(|r| r.to_string())
            .collect();
        if !self.stays_local(&opts) {
            let wire = wire_opts(&opts, &self.cluster.inner.ids);
            // The node picks the request (allRooms or fetchSockets) and words its timeout.
            let done = settled(self.remote(RequestKind::Rooms(wire)).await?)?;
            if let Outcome::AllRooms(remote) = done {
                rooms.extend(remote.iter().map(Room::to_string));
            }
        }
        Ok(rooms.into_iter().map(std::borrow::Cow::Owned).collect())
    }

    async fn fetch_sockets(&self, opts: BroadcastOptions) -> Result<Vec<RemoteSocketData>, Error> {
        let mut sockets = self.local.fetch_sockets(opts.clone());
        if !self.stays_local(&opts) {
            let wire = wire_opts(&opts, &self.cluster.inner.ids);
            let done = settled(self.remote(RequestKind::Fetch(wire)).await?)?;
            if let Outcome::Fetch(remote) = done {
                sockets.extend(remote.iter().map(|s| self.remote_socket(&s.id)));
            }
        }
        Ok(sockets)
    }

    fn get_local(&self) -> &CoreLocalAdapter<E> {
        &self.local
    }
}

impl<E: SocketEmitter> cluster::LocalSockets for CrosscastAdapter<E> {
    fn matching(&self, opts: &crosscast_core::BroadcastOpts) -> Vec<socketioxide_core::Sid> {
        self.local.sockets(convert::local_opts(opts))
    }

    fn disconnect(&self, sids: &[socketioxide_core::Sid]) {
        for sid in sids {
            let _ = self.local.disconnect_socket(BroadcastOptions::new(*sid));
        }
    }

    fn infos(&self, opts: &crosscast_core::BroadcastOpts) -> Vec<crosscast_core::SocketInfo> {
        namespace::local_socket_infos(&self.local, &self.cluster.inner.sockets, opts)
    }
}

/// The acks of a broadcast: this server's clients and the other servers' merged.
pub type AckStream<E> = Select<<E as SocketEmitter>::AckStream, RemoteAcks<E>>;

/// The acks of other servers' clients, as they arrive; ends when the request
/// completes (all acks in, or its timeout).
///
/// When the node's completion says the request timed out with answers
/// missing (a server that never reported its client count, or clients that
/// never acked), the last item is one `(random sid, Err(Timeout))`: the same
/// signal socketioxide gives for a local socket that did not ack, and what
/// Node's `emitWithAck` rejects with ("operation has timed out"). A broadcast
/// that stayed on this server ends without it; one the node refused ends with
/// it, since the remote acks it stood for will never come.
pub struct RemoteAcks<E: SocketEmitter> {
    rx: mpsc::UnboundedReceiver<crosscast_core::Value>,
    /// The node's completion of the request; `None` for a broadcast that
    /// stayed on this server.
    completion: Option<oneshot::Receiver<crosscast_core::node::Completion>>,
    adapter: Weak<CrosscastAdapter<E>>,
    next: u64,
    done: bool,
}

impl<E: SocketEmitter> std::fmt::Debug for RemoteAcks<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteAcks")
            .field("received", &self.next)
            .finish()
    }
}

impl<E: SocketEmitter> Stream for RemoteAcks<E> {
    type Item = AckStreamItem<E::AckError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(value)) => {
                    let Some(adapter) = self.adapter.upgrade() else {
                        continue;
                    };
                    let Ok(encoded) = adapter.local.parser().encode_value(&value, None) else {
                        continue;
                    };
                    // Remote acks carry no socket id: each gets a random one,
                    // which nothing addresses (so nothing remembers it).
                    self.next += 1;
                    return Poll::Ready(Some((socketioxide_core::Sid::new(), Ok(encoded))));
                }
                Poll::Ready(None) => {
                    let incomplete = match self.completion.as_mut().map(|c| Pin::new(c).poll(cx)) {
                        None => false,
                        Some(Poll::Pending) => return Poll::Pending,
                        Some(Poll::Ready(Ok(done))) => done.timed_out && done.missing > 0,
                        // Dropped before it completed: refused by the node or
                        // the adapter closed.
                        Some(Poll::Ready(Err(_))) => true,
                    };
                    self.done = true;
                    return Poll::Ready(match (incomplete, timeout_error::<E>()) {
                        (true, Some(e)) => Some((socketioxide_core::Sid::new(), Err(e))),
                        _ => None,
                    });
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// socketioxide's "ack timed out" in the emitter's own error type, which the
/// adapter traits let an adapter build only through serde (its unit variant
/// `Timeout`). `None` for an emitter whose error type has no such variant.
fn timeout_error<E: SocketEmitter>() -> Option<E::AckError> {
    use serde::de::value::{Error as ValueError, StrDeserializer};
    <E::AckError as serde::Deserialize>::deserialize(StrDeserializer::<ValueError>::new("Timeout"))
        .ok()
}

impl<E: SocketEmitter> FusedStream for RemoteAcks<E> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

/// The future of a namespace's initialisation (spawnable for dynamic namespaces).
pub struct InitRes(Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>);

impl std::fmt::Debug for InitRes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitRes")
    }
}

impl Future for InitRes {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl Spawnable for InitRes {
    fn spawn(self) {
        tokio::spawn(async move {
            if let Err(e) = self.await {
                tracing::error!(error = %e, "namespace adapter failed to start");
            }
        });
    }
}
