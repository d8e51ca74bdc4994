//! `crosscast serve`: binds, connects Redis when configured, runs the app on the adapter that
//! [`launch`] picks, and shuts down gracefully on SIGTERM or SIGINT (the steps and
//! what clients see: `shutdown`).

use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo, SocketIoBuilder};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower_http::trace::TraceLayer;
use tracing::info;

use crate::adapter::{self, ClusterConfig, CrosscastAdapter};
use crate::driver::{Driver, DriverEvent, PubSubKind};

use super::admin::{self, ADMIN_NSP, Admin, LiveEvent};
use super::bridge;
use super::chat::{self, Chat};
use super::cli::ServeConfig;
use super::cluster::{Cluster, Local, NSP, Redis};
use super::cors::{self, OriginPolicy};
use super::http::{self, Status};
use super::limits::{self, Limits};
use super::logs;
use super::metrics::Metrics;
use super::publish::Publisher;
use super::shutdown::{self, CLIENTS_BOUND, Deadline, HANDLERS_BOUND, SHUTDOWN_BOUND};

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
    let redis = match config.redis.driver_config(PubSubKind::of(&config.adapter)) {
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
    launch(config, shared).await
}

/// Serves `io` (already mounted) with the HTTP routes until SIGTERM or SIGINT, then stops as
/// `shutdown` describes.
pub(crate) async fn run<A: Adapter>(
    config: ServeConfig,
    shared: Shared,
    io: SocketIo<A>,
    layer: SocketIoLayer<A>,
    cluster: Arc<Cluster>,
    chat: Chat,
    admin: Option<(Arc<Admin>, mpsc::Receiver<LiveEvent>)>,
) -> Result<Served, ServeError> {
    // From here on every log line names this node.
    logs::set_node_uid(&cluster.uid());
    chat.serve_server_events(io.clone());
    let admin_side = admin.as_ref().map(|(a, _)| Arc::clone(a));
    let admin_task = admin.map(|(admin, feed)| admin.serve(io.clone(), feed, cluster.uid()));
    let Shared {
        listener,
        metrics,
        redis,
        publisher,
        limits,
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
        publisher: Arc::clone(&publisher),
        redis: driver.clone(),
        admin: admin_side,
    };
    let origins = OriginPolicy::new(&config.cors.cors_origins);
    let mut routes = http::router(status);
    if config.admin.admin {
        routes = routes.merge(admin::ui::routes());
    }
    let app = routes
        .layer(layer)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            limits::count_polling_refusals,
        ))
        .layer(origins.layer())
        .layer(axum::middleware::from_fn_with_state(origins, cors::guard))
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
    let deadline = Deadline::start();
    // 1. No new connection.
    let _ = stop_tx.send(true);
    // 2. No new client event (nor bridged message); those being handled finish first.
    if let Some(task) = admin_task {
        task.abort();
    }
    if let Some(task) = bridge_task {
        task.abort();
        let _ = deadline
            .run("stopping the bridges", HANDLERS_BOUND, task)
            .await;
    }
    deadline
        .run(
            "the client events being handled",
            HANDLERS_BOUND,
            limits.gate.close(),
        )
        .await;
    // 3. and 4. Every client's transport closes (clients see "transport close" and
    // reconnect); then every namespace adapter closes: its node leaves the cluster.
    deadline
        .run("closing the client connections", CLIENTS_BOUND, io.close())
        .await;
    // 5. What is queued for Redis is published, then the connections close.
    deadline
        .run("leaving the cluster", SHUTDOWN_BOUND, cluster.close())
        .await;
    deadline
        .run(
            "the --publish messages in flight",
            SHUTDOWN_BOUND,
            shutdown::until(|| publisher.in_flight() == 0),
        )
        .await;
    if let Some(driver) = driver {
        deadline
            .run("closing Redis", SHUTDOWN_BOUND, driver.close())
            .await;
    }
    // 6. The last HTTP connections.
    if deadline
        .run("closing the HTTP connections", SHUTDOWN_BOUND, &mut server)
        .await
        .is_none()
    {
        server.abort();
    }
    info!(events_not_handled = limits.gate.turned_away(), "stopped");
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

/// Builds Socket.IO on the adapter `config` asks for, mounts the chat app on namespace `/`,
/// and serves until SIGTERM or SIGINT. With a Redis, fails when it is unreachable.
pub(crate) async fn launch(config: ServeConfig, shared: Shared) -> Result<Served, ServeError> {
    let Some(driver) = config.redis.driver_config(PubSubKind::of(&config.adapter)) else {
        let (layer, io) = socket_io_builder(&config).build_layer();
        let cluster = Arc::new(Cluster::Local(Local::new(
            socketioxide_core::Uid::new().to_string(),
        )));
        let admin = config.admin.admin.then(|| Admin::new(&config.admin));
        let chat = chat::Chat::new(
            Arc::clone(&cluster),
            shared.metrics.clone(),
            shared.publisher.clone(),
            shared.limits.clone(),
            admin.as_ref().map(|(a, _)| Arc::clone(a)),
        );
        io.ns(NSP, chat::connect_handler(chat.clone()));
        if let Some((a, _)) = &admin {
            io.ns(
                ADMIN_NSP,
                admin::connect_handler(Arc::clone(a), Arc::clone(&cluster)),
            );
        }
        return run(config, shared, io, layer, cluster, chat, admin).await;
    };
    let mut cluster_config = ClusterConfig::new(
        driver.url.clone(),
        config.adapter.clone().with_key(config.key.clone()),
    );
    // The Redis of --redis-url / --redis-cluster / --redis-ca (the kind follows the mode).
    cluster_config.driver = driver;
    cluster_config.requests_timeout_ms = config.requests_timeout;
    let bytes = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    cluster_config.publish_queue_bytes = bytes(config.cluster_publish_queue_bytes);
    cluster_config.inbox_queue_bytes = bytes(config.cluster_inbox_bytes);
    cluster_config.driver.event_capacity_bytes = bytes(config.redis_inbound_queue_bytes);
    let handle = adapter::Cluster::connect(cluster_config)
        .await
        .map_err(|e| ServeError(config.redis.explain(e.to_string())))?;
    let (layer, io) = socket_io_builder(&config)
        .with_adapter::<CrosscastAdapter<_>>(handle.clone())
        .build_layer();
    let cluster = Arc::new(Cluster::Redis(Redis { handle }));
    let admin = config.admin.admin.then(|| Admin::new(&config.admin));
    let chat = chat::Chat::new(
        Arc::clone(&cluster),
        shared.metrics.clone(),
        shared.publisher.clone(),
        shared.limits.clone(),
        admin.as_ref().map(|(a, _)| Arc::clone(a)),
    );
    io.ns(NSP, chat::connect_handler(chat.clone()))
        .await
        .map_err(|e| ServeError(format!("cannot join the cluster: {e}")))?;
    if let Some((a, _)) = &admin {
        io.ns(
            ADMIN_NSP,
            admin::connect_handler(Arc::clone(a), Arc::clone(&cluster)),
        )
        .await
        .map_err(|e| ServeError(format!("cannot join the cluster in {ADMIN_NSP}: {e}")))?;
    }
    run(config, shared, io, layer, cluster, chat, admin).await
}
