//! The cluster seam of the server: everything the app needs that only a cluster can answer,
//! and the choice of Socket.IO adapter.
//!
//! [`launch`] builds Socket.IO with the adapter the configuration asks for, registers the chat
//! namespace, and hands the result to [`super::serve::run`], which is generic over the
//! adapter. [`Cluster`] is what the app asks the cluster: how many servers there are, a
//! server-side emit with acknowledgements to the other servers, the server-side events they
//! send, and counters for `/metrics`.
//!
//! Today only [`Cluster::Local`] exists: the single node of the embedded mode on
//! socketioxide's `LocalAdapter` (one server, no other servers, no server-side events). A Redis
//! cluster plugs in as another variant plus one more arm in [`launch`].

use std::sync::{Arc, Mutex, PoisonError};

use crosscast_core::Value;
use socketioxide::SocketIo;
use tokio::sync::oneshot;

use super::chat;
use super::cli::ServeConfig;
use super::serve::{self, ServeError, Served, Shared};

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

/// Monotonic counters of the cluster layer, as `/metrics` shows them. All zero on a
/// [`Cluster::Local`] node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClusterStats {
    /// Messages published to the other servers.
    pub(crate) published: u64,
    /// Messages received from the other servers.
    pub(crate) received: u64,
    /// Messages lost before processing (a full queue).
    pub(crate) dropped: u64,
    /// Messages from other servers that could not be decoded.
    pub(crate) decode_errors: u64,
    /// Requests to other servers answered by all of them.
    pub(crate) requests_completed: u64,
    /// Requests to other servers that timed out without any answer.
    pub(crate) requests_timed_out: u64,
    /// Requests to other servers that timed out with some answers.
    pub(crate) requests_partial: u64,
    /// Reconnections of the cluster's Redis connections.
    pub(crate) reconnects: u64,
}

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

/// What the app asks the cluster. Cheap to share behind an `Arc`.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum Cluster {
    /// The embedded single node (socketioxide's `LocalAdapter`).
    Local(Local),
}

impl Cluster {
    /// This server's id in the cluster (its adapter uid), for logs and `/healthz`.
    pub(crate) fn uid(&self) -> &str {
        match self {
            Cluster::Local(local) => &local.uid,
        }
    }

    /// The adapter mode for `/healthz`: `memory`, `classic` or `sharded`.
    pub(crate) fn mode(&self) -> &'static str {
        match self {
            Cluster::Local(_) => "memory",
        }
    }

    /// The number of servers in the cluster, this one included.
    pub(crate) async fn server_count(&self) -> Result<u16, ClusterError> {
        match self {
            Cluster::Local(_) => Ok(1),
        }
    }

    /// Sends `event` with `args` to every other server and collects their answers, waiting
    /// at most the configured requests timeout. Answers come in arrival order.
    pub(crate) async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
    ) -> Result<Vec<Value>, ClusterError> {
        let _ = (event, args);
        match self {
            Cluster::Local(_) => Ok(Vec::new()),
        }
    }

    /// Installs the receiver of server-side events from the other servers, replacing any
    /// previous one.
    pub(crate) fn on_server_event(&self, handler: ServerEventHandler) {
        match self {
            Cluster::Local(local) => {
                *local.handler.lock().unwrap_or_else(PoisonError::into_inner) = Some(handler);
            }
        }
    }

    /// Whether the cluster's Redis connections are up; `None` when it uses no Redis.
    pub(crate) fn redis_connected(&self) -> Option<bool> {
        match self {
            Cluster::Local(_) => None,
        }
    }

    /// A snapshot of the counters.
    pub(crate) fn stats(&self) -> ClusterStats {
        match self {
            Cluster::Local(_) => ClusterStats::default(),
        }
    }

    /// Leaves the cluster (unsubscribes, closes connections). Idempotent.
    pub(crate) async fn close(&self) {
        match self {
            Cluster::Local(_) => {}
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

/// Builds Socket.IO on the adapter `config` asks for, mounts the chat app on namespace `/`,
/// and serves until SIGTERM or SIGINT.
pub(crate) async fn launch(config: ServeConfig, shared: Shared) -> Result<Served, ServeError> {
    // Until the Redis adapter is wired here, `--redis-url` still connects Redis (health,
    // bridges) but Socket.IO stays on the local adapter: a node of one.
    if config.redis_url.is_some() {
        tracing::warn!(
            "the Redis cluster adapter is not wired yet: Socket.IO runs on the in-memory adapter \
             (this server alone)"
        );
    }
    let (layer, io) = SocketIo::builder().build_layer();
    let cluster = Arc::new(Cluster::Local(Local::new(
        socketioxide_core::Uid::new().to_string(),
    )));
    let app = chat::Chat::new(Arc::clone(&cluster), shared.metrics.clone(), &config);
    io.ns("/", chat::connect_handler(app.clone()));
    serve::run(config, shared, io, layer, cluster, app).await
}
