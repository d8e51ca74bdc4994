//! `--cors-origin`: which web pages may use the Socket.IO endpoint (every path under
//! `/socket.io/`: HTTP long-polling and the WebSocket upgrade alike).
//!
//! Contract, for a request to the endpoint:
//! - Without an `Origin` header (a non-browser client, a same-origin `GET`): served.
//! - `Origin` of the server itself (its host and port are the request's `Host`, the scheme's
//!   default port omitted; the scheme is not compared, as a TLS proxy may sit in front):
//!   served, with no flag.
//! - `Origin` allowed by `--cors-origin` (or any with `*`): served, and the response carries
//!   the CORS headers: `Access-Control-Allow-Origin` (the origin; `*` with `*`),
//!   `Access-Control-Allow-Credentials: true` (not with `*`, where browsers forbid it), and
//!   `Vary`; a preflight (`OPTIONS`) is answered with the methods `GET, POST` and the headers
//!   the browser asked for.
//! - Any other `Origin` (including `null`): `403` with a one-line text body and no CORS
//!   headers, before Socket.IO sees the request: a long-polling handshake gets no session, a
//!   WebSocket upgrade is not upgraded.
//!
//! Other routes (`/`, `/healthz`, `/metrics`, the client bundle) are never refused; an allowed
//! origin gets the CORS headers there too.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use super::cli::{CorsOrigin, parse_cors_origin, split_port};

/// The path of the Socket.IO endpoint (socketioxide's default).
const ENDPOINT: &str = "/socket.io";

/// The origins of `--cors-origin`.
#[derive(Clone, Debug)]
pub(crate) struct OriginPolicy {
    any: bool,
    allowed: Arc<Vec<String>>,
}

impl OriginPolicy {
    /// The policy of `origins` (empty: same origin only).
    pub(crate) fn new(origins: &[CorsOrigin]) -> Self {
        let mut allowed = Vec::new();
        let mut any = false;
        for origin in origins {
            match origin {
                CorsOrigin::Any => any = true,
                CorsOrigin::Exact(o) if !allowed.contains(o) => allowed.push(o.clone()),
                CorsOrigin::Exact(_) => {}
            }
        }
        Self {
            any,
            allowed: Arc::new(allowed),
        }
    }

    /// Whether a request with `Origin: origin` and `Host: host` may use the endpoint.
    pub(crate) fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        if self.any {
            return true;
        }
        let Ok(CorsOrigin::Exact(origin)) = parse_cors_origin(origin) else {
            return false;
        };
        self.allowed.contains(&origin) || host.is_some_and(|host| same_origin(&origin, host))
    }

    /// The layer that writes the CORS headers for the allowed origins.
    pub(crate) fn layer(&self) -> CorsLayer {
        let cors = CorsLayer::new()
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(AllowHeaders::mirror_request())
            .max_age(Duration::from_secs(86_400));
        if self.any {
            return cors.allow_origin(AllowOrigin::any());
        }
        let list: Vec<HeaderValue> = self
            .allowed
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        cors.allow_origin(AllowOrigin::list(list))
            .allow_credentials(true)
    }
}

/// Whether the normalised `origin` names the server the request reached as `host`.
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let default = match scheme {
        "http" | "ws" => "80",
        "https" | "wss" => "443",
        _ => "",
    };
    let host = match split_port(&host) {
        (name, Some(port)) if port == default => name.to_owned(),
        _ => host,
    };
    authority == host
}

/// Refuses requests to the endpoint from origins the policy does not allow (see the module
/// docs); everything else goes on.
pub(crate) async fn guard(
    State(policy): State<OriginPolicy>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let endpoint = path == ENDPOINT || path.starts_with("/socket.io/");
    if endpoint && let Some(origin) = request.headers().get(header::ORIGIN) {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        let origin_text = origin.to_str().unwrap_or("");
        if !policy.allows(origin_text, host) {
            tracing::debug!(origin = origin_text, "refused: origin not allowed");
            let body = format!(
                "origin not allowed: {origin_text:?} (see crosscast serve --cors-origin)\n"
            );
            return (StatusCode::FORBIDDEN, body).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str]) -> OriginPolicy {
        let parsed: Vec<CorsOrigin> = origins
            .iter()
            .map(|o| parse_cors_origin(o).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        OriginPolicy::new(&parsed)
    }

    #[test]
    fn same_origin_needs_no_flag() {
        let none = policy(&[]);
        assert!(none.allows("http://127.0.0.1:3000", Some("127.0.0.1:3000")));
        assert!(none.allows("https://chat.example", Some("chat.example")));
        assert!(none.allows("https://chat.example", Some("Chat.Example:443")));
        assert!(none.allows("http://[::1]:3000", Some("[::1]:3000")));
        assert!(!none.allows("http://127.0.0.1:3001", Some("127.0.0.1:3000")));
        assert!(!none.allows("https://evil.example", Some("chat.example")));
        assert!(!none.allows("null", Some("chat.example")));
        assert!(!none.allows("http://127.0.0.1:3000", None));
    }

    #[test]
    fn listed_origins_and_any() {
        let listed = policy(&["https://app.example", "http://localhost:5173"]);
        assert!(listed.allows("https://app.example", Some("api.example")));
        assert!(listed.allows("https://APP.example:443", Some("api.example")));
        assert!(listed.allows("http://localhost:5173", Some("api.example")));
        assert!(!listed.allows("http://app.example", Some("api.example")));
        assert!(!listed.allows("https://app.example.evil", Some("api.example")));
        let any = policy(&["*"]);
        assert!(any.allows("https://whatever.example", Some("api.example")));
        assert!(any.allows("null", None));
    }
}
