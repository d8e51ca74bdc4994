//! The HTTP routes besides Socket.IO: the page, the client bundle, `/healthz`, `/metrics`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::driver::Driver;

use super::admin::Admin;
use super::cluster::Cluster;
use super::metrics::{self, Metrics};
use super::page;
use super::publish::Publisher;

/// What the routes read.
#[derive(Clone, Debug)]
pub(crate) struct Status {
    /// The cluster (mode, uid, counters, Redis state).
    pub(crate) cluster: Arc<Cluster>,
    /// The app's counters.
    pub(crate) metrics: Arc<Metrics>,
    /// The app's own Redis connection (bridges), present whenever Redis is configured.
    pub(crate) redis: Option<Driver>,
    /// `--publish`.
    pub(crate) publisher: Arc<Publisher>,
    /// `--admin`.
    pub(crate) admin: Option<Arc<Admin>>,
}

impl Status {
    /// `None` without Redis; else whether every Redis connection of the server is up.
    fn redis_up(&self) -> Option<bool> {
        let app = self.redis.as_ref().map(Driver::is_connected);
        match (app, self.cluster.redis_connected()) {
            (None, None) => None,
            (a, c) => Some(a.unwrap_or(true) && c.unwrap_or(true)),
        }
    }
}

/// The routes, to be combined with the Socket.IO layer.
pub(crate) fn router(status: Status) -> Router {
    Router::new()
        .route("/", get(index))
        .route(page::SOCKET_IO_JS_PATH, get(socket_io_js))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(status)
}

async fn index() -> Html<&'static str> {
    Html(page::INDEX_HTML)
}

async fn socket_io_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        page::SOCKET_IO_JS,
    )
        .into_response()
}

/// 200 with `{status, uid, adapter, redis: {configured, connected}}`; 503 while Redis is
/// configured but unreachable.
async fn healthz(State(status): State<Status>) -> Response {
    let up = status.redis_up();
    let healthy = up.unwrap_or(true);
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "unavailable" },
        "uid": status.cluster.uid(),
        "adapter": status.cluster.mode(),
        "redis": { "configured": up.is_some(), "connected": up },
        "sockets": status.metrics.connected(),
        "client": page::SOCKET_IO_CLIENT_VERSION,
        "admin_ui": status.admin.as_ref().map(|_| super::admin::ui::ADMIN_UI_VERSION),
    });
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

async fn metrics_text(State(status): State<Status>) -> Response {
    let text = metrics::render(&metrics::Snapshot {
        app: &status.metrics,
        cluster: status.cluster.stats(),
        bridge: status.redis.as_ref().map(Driver::stats),
        redis_up: status.redis_up(),
        publish: status.publisher.stats(),
        records: status.cluster.socket_records(),
        admin: status.admin.as_deref(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
