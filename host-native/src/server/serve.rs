//! `crosscast serve`: binds, connects Redis when configured, runs the app on the adapter that
//! [`cluster::launch`] picks, and shuts down gracefully on SIGTERM or SIGINT.

use std::sync::Arc;
use std::time::Duration;

use socketioxide::adapter::Adapter;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo, SocketIoBuilder};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower_http::trace::TraceLayer;
use tracing::{info, warn};

use crate::driver::{Driver, DriverEvent, PubSubKind};

use super::bridge;
use super::chat::Chat;
use super::cli::{AdapterKind, ServeConfig};
use super::cluster::{self, Cluster};
use super::http::{self, Status};
use super::limits::{self, Limits};
use super::metrics::Metrics;
use super::publish::Publisher;

/// How long closing Socket.IO and then the HTTP connections may take after a signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A failure of `crosscast serve`, shown as one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ServeError(pub(crate) String);

/// What `serve` prepared before Socket.IO exists: the listener and the app's Redis connection.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The bound listener.
    pub(crate) listener: TcpListener,
    /// The app's counters.
    pub(crate) metrics: Arc<Metrics>,
    /// The app's own Redis connection (bridges, health) and its events, with a Redis.
    pub(crate) redis: Option<(Driver, mpsc::Receiver<DriverEvent>)>,
    /// `--publish`, on the app's Redis connection.
    pub(crate) publisher: Arc<Publisher>,
    /// What one client may do.
    pub(crate) limits: Arc<Limits>,
}

/// Socket.IO's builder with the limits of `config` that Engine.IO enforces: `--max-payload`
/// bounds a WebSocket message and frame, a long-polling request body, and the binary
/// attachments of one packet together.
pub(crate) fn socket_io_builder(config: &ServeConfig) -> SocketIoBuilder {
    let max = config.max_payload;
    let max_bytes = usize::try_from(max).unwrap_or(usize::MAX);
    SocketIo::builder()
        .max_payload(max)
        .ws_max_message_size(max_bytes)
        .ws_max_frame_size(max_bytes)
        .with_parser(ParserConfig::common().max_incoming_binary_buf_size(max_bytes))
}

/// How the server ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Served {
    /// A signal asked it to stop and it did.
    Stopped,
}

/// Runs `crosscast serve` until a signal; errors are one-line messages.
pub(crate) async fn serve(config: ServeConfig) -> Result<Served, ServeError> {
    if !config.bridges.is_empty() && !config.redis.is_configured() {
        return Err(ServeError(
            "--bridge needs a Redis: --redis-url or --redis-cluster".into(),
        ));
    }
    if !config.publishes.is_empty() && !config.redis.is_configured() {
        return Err(ServeError(
            "--publish needs a Redis: --redis-url or --redis-cluster".into(),
        ));
    }
    // The plain channels of --bridge and --publish are shard channels in a sharded cluster
    // (SSUBSCRIBE/SPUBLISH), as everything else of it.
    let kind = match config.adapter {
        AdapterKind::Classic => PubSubKind::Classic,
        AdapterKind::Sharded => PubSubKind::Sharded,
    };
    let redis = match config.redis.driver_config(kind) {
        Some(mut driver_config) => {
            driver_config.event_capacity_bytes =
                usize::try_from(config.redis_inbound_queue_bytes).unwrap_or(usize::MAX);
            let connected = Driver::connect(driver_config)
                .await
                .map_err(|e| ServeError(config.redis.explain(e.to_string())))?;
            Some(connected)
        }
        None => None,
    };
    let addr = if config.host.contains(':') && !config.host.starts_with('[') {
        format!("[{}]:{}", config.host, config.port)
    } else {
        format!("{}:{}", config.host, config.port)
    };
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| ServeError(format!("cannot listen on {addr}: {e}")))?;
    let publisher = Arc::new(Publisher::new(
        config.publishes.clone(),
        config
            .bridges
            .iter()
            .map(|b| (b.channel.clone(), b.event.clone()))
            .collect(),
        usize::try_from(config.publish_max_bytes).unwrap_or(usize::MAX),
        redis.as_ref().map(|(driver, _)| driver.clone()),
    ));
    let metrics = Arc::new(Metrics::default());
    let limits = Arc::new(Limits::new(&config, Arc::clone(&metrics)));
    let shared = Shared {
        listener,
        metrics,
        redis,
        publisher,
        limits,
    };
    cluster::launch(config, shared).await
}

/// Serves `io` (already mounted) with the HTTP routes until SIGTERM or SIGINT, then stops
/// accepting, closes Socket.IO (and so the adapter), the cluster and Redis.
pub(crate) async fn run<A: Adapter>(
    config: ServeConfig,
    shared: Shared,
    io: SocketIo<A>,
    layer: SocketIoLayer<A>,
    cluster: Arc<Cluster>,
    chat: Chat,
) -> Result<Served, ServeError> {
    chat.serve_server_events(io.clone());
    let Shared {
        listener,
        metrics,
        redis,
        publisher,
        limits: _,
    } = shared;
    let (driver, bridge_task) = match redis {
        Some((driver, events)) => {
            let task = bridge::spawn(
                io.clone(),
                &driver,
                events,
                config.bridges.clone(),
                Arc::clone(&metrics),
                Arc::clone(&publisher),
            );
            (Some(driver), Some(task))
        }
        None => (None, None),
    };
    let status = Status {
        cluster: Arc::clone(&cluster),
        metrics: Arc::clone(&metrics),
        publisher,
        redis: driver.clone(),
    };
    let app = http::router(status)
        .layer(layer)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            limits::count_polling_refusals,
        ))
        .layer(TraceLayer::new_for_http());
    let local = listener
        .local_addr()
        .map_err(|e| ServeError(format!("cannot read the bound address: {e}")))?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    // ConnectInfo gives each socket's handshake its client address.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        })
        .into_future();
    let mut server = tokio::spawn(server);
    // The start line on stdout, which tools wait for (the shape of
    // interop/node/peer-server.js), and the same in the log.
    println!("listening on http://{local} uid={}", cluster.uid());
    info!(
        adapter = cluster.mode(),
        uid = %cluster.uid(),
        "crosscast {} listening on http://{local}",
        env!("CARGO_PKG_VERSION")
    );

    tokio::select! {
        signal = shutdown_signal() => {
            info!("{signal}: shutting down");
        }
        ended = &mut server => {
            return Err(ServeError(match ended {
                Ok(Ok(())) => "the HTTP server stopped unexpectedly".into(),
                Ok(Err(e)) => format!("the HTTP server failed: {e}"),
                Err(e) => format!("the HTTP server task failed: {e}"),
            }));
        }
    }
    let _ = stop_tx.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, io.close())
        .await
        .is_err()
    {
        warn!("closing Socket.IO took longer than {SHUTDOWN_GRACE:?}");
    }
    match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
        Ok(_) => {}
        Err(_) => {
            warn!("open HTTP connections after {SHUTDOWN_GRACE:?}: dropping them");
            server.abort();
        }
    }
    cluster.close().await;
    if let Some(driver) = driver {
        driver.close().await;
    }
    if let Some(task) = bridge_task {
        task.abort();
    }
    info!("stopped");
    Ok(Served::Stopped)
}

/// Resolves with the signal's name on SIGTERM or SIGINT.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        _ => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}
