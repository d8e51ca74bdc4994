//! The cluster seam of the server: everything the app needs that only a cluster can answer.
//!
//! `serve::launch` picks the Socket.IO adapter and builds one of these. [`Cluster`] is what
//! the app asks the cluster: how many servers there are, a
//! server-side emit with acknowledgements to the other servers, the server-side events they
//! send, and counters for `/metrics`.
//!
//! Two kinds of node:
//! - [`Cluster::Local`], without a Redis: the single node of the embedded mode on
//!   socketioxide's `LocalAdapter` (one server, no other servers, no server-side events).
//! - [`Cluster::Redis`], with a Redis (`--redis-url`, `--redis-cluster`): socketioxide on
//!   [`CrosscastAdapter`], a member of a cluster of Rust and Node.js servers that speak
//!   `@socket.io/redis-adapter`'s classic or sharded protocol.

use std::sync::{Arc, Mutex, PoisonError};

use crosscast_core::Value;
use tokio::sync::oneshot;

use crate::adapter;

use super::metrics::ClusterStats;

/// A server-side event sent by another server of the cluster (Node's `serverSideEmit`).
#[derive(Debug)]
pub(crate) struct ServerEvent {
    /// The event name.
    pub(crate) event: String,
    /// The arguments, without the acknowledgement callback.
    pub(crate) args: Vec<Value>,
    /// Where to send the answer when the sender asked for one (`serverSideEmitWithAck`).
    /// Dropping it without sending means "no answer".
    pub(crate) reply: Option<oneshot::Sender<Value>>,
}

/// Receives every [`ServerEvent`]; must return quickly (spawn for slow work).
pub(crate) type ServerEventHandler = Arc<dyn Fn(ServerEvent) + Send + Sync>;

/// An error of a cluster operation, shown to clients as `{error: <message>}`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ClusterError(pub(crate) String);

/// The node of a single-server deployment: no other server exists.
pub(crate) struct Local {
    uid: String,
    handler: Mutex<Option<ServerEventHandler>>,
}

impl Local {
    /// A node named `uid`.
    pub(crate) fn new(uid: String) -> Self {
        Self {
            uid,
            handler: Mutex::new(None),
        }
    }
}

/// A member of a Redis cluster, through the cluster adapter's handle.
#[derive(Debug)]
pub(crate) struct Redis {
    pub(crate) handle: adapter::Cluster,
}

/// The namespace of the chat app.
pub(crate) const NSP: &str = "/";

/// What the app asks the cluster. Cheap to share behind an `Arc`.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum Cluster {
    /// The embedded single node (socketioxide's `LocalAdapter`).
    Local(Local),
    /// A member of a Redis cluster (socketioxide's adapter is [`CrosscastAdapter`]).
    Redis(Redis),
}

impl Cluster {
    /// This server's id in the cluster (its adapter uid), for logs and `/healthz`.
    pub(crate) fn uid(&self) -> String {
        match self {
            Cluster::Local(local) => local.uid.clone(),
            Cluster::Redis(redis) => redis.handle.uid(NSP).unwrap_or_default(),
        }
    }

    /// The adapter mode for `/healthz`: `memory`, `classic` or `sharded`.
    pub(crate) fn mode(&self) -> &'static str {
        match self {
            Cluster::Local(_) => "memory",
            Cluster::Redis(redis) => redis.handle.mode_name(),
        }
    }

    /// The number of servers in the cluster, this one included.
    pub(crate) async fn server_count(&self) -> Result<u16, ClusterError> {
        match self {
            Cluster::Local(_) => Ok(1),
            Cluster::Redis(redis) => {
                let n = redis.handle.server_count(NSP).await.map_err(error)?;
                Ok(u16::try_from(n).unwrap_or(u16::MAX))
            }
        }
    }

    /// Sends `event` with `args` to every other server and collects their answers, waiting
    /// at most the configured requests timeout. Answers come in arrival order. Fails, as
    /// Node's `serverSideEmitWithAck` does, when some server did not answer in time.
    pub(crate) async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
    ) -> Result<Vec<Value>, ClusterError> {
        match self {
            Cluster::Local(_) => Ok(Vec::new()),
            Cluster::Redis(redis) => {
                let acks = redis
                    .handle
                    .server_side_emit_with_ack(NSP, event, args)
                    .await
                    .map_err(error)?;
                if acks.missing > 0 {
                    return Err(ClusterError(format!(
                        "serverSideEmitWithAck timed out: {} of {} servers answered",
                        acks.values.len(),
                        acks.values.len() as u64 + acks.missing
                    )));
                }
                Ok(acks.values)
            }
        }
    }

    /// Installs the receiver of server-side events from the other servers, replacing any
    /// previous one.
    pub(crate) fn on_server_event(&self, handler: ServerEventHandler) {
        match self {
            Cluster::Local(local) => {
                *local.handler.lock().unwrap_or_else(PoisonError::into_inner) = Some(handler);
            }
            Cluster::Redis(redis) => {
                let Some(mut events) = redis.handle.server_side_events(NSP) else {
                    tracing::warn!("server-side events of {NSP} already have a receiver");
                    return;
                };
                tokio::spawn(async move {
                    while let Some(event) = events.recv().await {
                        let (reply, answer) = oneshot::channel();
                        let ack = event.ack;
                        handler(ServerEvent {
                            event: event.event,
                            args: event.args,
                            reply: ack.is_some().then_some(reply),
                        });
                        if let Some(ack) = ack {
                            tokio::spawn(async move {
                                if let Ok(value) = answer.await {
                                    ack.send(value);
                                }
                            });
                        }
                    }
                });
            }
        }
    }

    /// Records what the other servers' `fetchSockets()` show of socket `sid` of the chat
    /// namespace: the handshake of its HTTP request `parts` with the client's `auth`, and
    /// `data`. A refused record (the bounds of [`adapter::SocketRecordLimits`]) is counted and
    /// leaves the socket with an empty handshake. Nothing to keep without Redis.
    pub(crate) fn register_socket(
        &self,
        sid: socketioxide::socket::Sid,
        parts: &axum::http::request::Parts,
        auth: Value,
        data: Value,
    ) {
        self.register_socket_in(NSP, sid, parts, auth, data);
    }

    /// [`Cluster::register_socket`] for a socket of namespace `nsp`.
    pub(crate) fn register_socket_in(
        &self,
        nsp: &str,
        sid: socketioxide::socket::Sid,
        parts: &axum::http::request::Parts,
        auth: Value,
        data: Value,
    ) {
        if let Cluster::Redis(redis) = self {
            let handshake = adapter::handshake::from_request(parts, auth);
            if let Err(e) = redis.handle.register_socket(nsp, sid, handshake, data) {
                tracing::debug!(%sid, "socket record refused: {e}");
            }
        }
    }

    /// Forgets the record of a disconnected socket of the chat namespace.
    pub(crate) fn forget_socket(&self, sid: socketioxide::socket::Sid) {
        self.forget_socket_in(NSP, sid);
    }

    /// [`Cluster::forget_socket`] for a socket of namespace `nsp`.
    pub(crate) fn forget_socket_in(&self, nsp: &str, sid: socketioxide::socket::Sid) {
        if let Cluster::Redis(redis) = self {
            redis.handle.forget_socket(nsp, sid);
        }
    }

    /// Every socket of namespace `nsp` in the cluster with its record, from the servers
    /// that answered in time (see [`adapter::Cluster::fetch_socket_infos`]); `None`
    /// without Redis (the app lists its own sockets).
    pub(crate) async fn socket_infos(
        &self,
        nsp: &str,
    ) -> Option<Result<adapter::SocketInfos, ClusterError>> {
        match self {
            Cluster::Local(_) => None,
            Cluster::Redis(redis) => Some(
                redis
                    .handle
                    .fetch_socket_infos(nsp, Vec::new())
                    .await
                    .map_err(error),
            ),
        }
    }

    /// Disconnects the sockets of namespace `nsp` in one of `rooms` (every socket when
    /// none is named) on every server; with `close`, their whole connections. `None`
    /// without Redis (the app disconnects its own sockets).
    pub(crate) async fn disconnect_sockets(
        &self,
        nsp: &str,
        rooms: Vec<String>,
        close: bool,
    ) -> Option<Result<(), ClusterError>> {
        match self {
            Cluster::Local(_) => None,
            Cluster::Redis(redis) => Some(
                redis
                    .handle
                    .disconnect_sockets(nsp, rooms, Vec::new(), close)
                    .await
                    .map_err(error),
            ),
        }
    }

    /// The socket records' gauges and counters (all zero without Redis).
    pub(crate) fn socket_records(&self) -> adapter::SocketRecordStats {
        match self {
            Cluster::Local(_) => adapter::SocketRecordStats::default(),
            Cluster::Redis(redis) => redis.handle.socket_records(),
        }
    }

    /// Whether the cluster's Redis connections are up; `None` when it uses no Redis.
    pub(crate) fn redis_connected(&self) -> Option<bool> {
        match self {
            Cluster::Local(_) => None,
            Cluster::Redis(redis) => Some(redis.handle.is_connected()),
        }
    }

    /// A snapshot of the counters.
    pub(crate) fn stats(&self) -> ClusterStats {
        match self {
            Cluster::Local(_) => ClusterStats::default(),
            Cluster::Redis(redis) => {
                let m = redis.handle.metrics();
                ClusterStats {
                    published: m.published,
                    received: m.core.received,
                    dropped: m.driver.dropped + m.publish_dropped + m.inbox_drops.total(),
                    publish_drops: m.publish_drops,
                    inbox_drops: m.inbox_drops,
                    driver: m.driver,
                    publish_queue_bytes: m.publish_queue_bytes,
                    inbox_bytes: m.inbox_bytes,
                    ids_forgotten: m.ids_forgotten,
                    decode_errors: m.core.decode_errors,
                    requests_completed: m.core.requests_completed,
                    requests_timed_out: m.core.requests_timed_out,
                    requests_partial: m.core.requests_partial,
                    reconnects: m.driver.reconnects,
                    server_side_acks_pending: m.core.server_side_acks_pending,
                    server_side_acks_expired: m.core.server_side_acks_expired,
                    remote_acks_pending: m.core.remote_acks_pending,
                    dropped_table_full: m.core.dropped_table_full,
                    dropped_excess_acks: m.core.dropped_excess_acks,
                    refused: m.refused,
                    server_side_dropped: m.server_side_dropped,
                }
            }
        }
    }

    /// Leaves the cluster (unsubscribes, closes connections). Idempotent.
    pub(crate) async fn close(&self) {
        match self {
            Cluster::Local(_) => {}
            Cluster::Redis(redis) => redis.handle.close().await,
        }
    }
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let installed = self
            .handler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        f.debug_struct("Local")
            .field("uid", &self.uid)
            .field("server_event_handler", &installed)
            .finish()
    }
}

fn error(e: adapter::Error) -> ClusterError {
    ClusterError(e.to_string())
}
