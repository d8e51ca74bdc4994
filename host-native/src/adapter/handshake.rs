//! A socket's handshake (the core's [`Handshake`], shaped as Node's
//! `socket.handshake`) from the HTTP request socketioxide keeps for each socket: what other
//! servers' `fetchSockets()` show of it once the app registers it (see
//! [`super::Cluster::register_socket`]).
//!
//! ```no_run
//! use crosscast::adapter::{Cluster, CrosscastAdapter, handshake};
//! use crosscast_core::Value;
//! use socketioxide::SocketIo;
//! use socketioxide::extract::{SocketRef, TryData};
//!
//! type A = CrosscastAdapter<socketioxide::adapter::Emitter>;
//!
//! async fn register_every_socket(cluster: Cluster, io: SocketIo<A>) {
//!     io.ns("/", move |socket: SocketRef<A>, TryData(auth): TryData<Value>| {
//!         let auth = auth.unwrap_or_else(|_| Value::Map(Vec::new()));
//!         let handshake = handshake::from_request(socket.req_parts(), auth);
//!         let data = Value::map([("user", Value::from("alice"))]);
//!         let _ = cluster.register_socket("/", socket.id, handshake, data);
//!         let cluster = cluster.clone();
//!         socket.on_disconnect(async move |socket: SocketRef<A>| {
//!             cluster.forget_socket("/", socket.id);
//!         });
//!         async {}
//!     })
//!     .await
//!     .ok();
//! }
//! ```
//!
//! The client address comes from axum's `ConnectInfo<SocketAddr>`: serve with
//! `into_make_service_with_connect_info::<SocketAddr>()`.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
pub use crosscast_core::Handshake;
use crosscast_core::Value;

/// The handshake of a socket connected now through the HTTP request `parts`
/// (`socket.req_parts()`), with the client's `auth`: the core's
/// [`Handshake::from_http`] of the request's headers, path and query, TLS
/// scheme and client address. The address comes from axum's
/// `ConnectInfo<SocketAddr>`: serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`, or it is empty.
pub fn from_request(parts: &Parts, auth: Value) -> Handshake {
    from_request_at(parts, auth, now_ms())
}

/// [`from_request`] at a given connection time (ms since the Unix epoch).
pub fn from_request_at(parts: &Parts, auth: Value, issued_ms: u64) -> Handshake {
    let address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_default();
    let url = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    let secure = matches!(parts.uri.scheme_str(), Some("https" | "wss"));
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    Handshake::from_http(headers, url, address, secure, auth, issued_ms)
}

/// The handshake of a socket nothing is known of, connected now.
pub(crate) fn unknown_now() -> Handshake {
    Handshake::issued_at(now_ms())
}

/// Milliseconds since the Unix epoch (0 before it).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[test]
    fn a_request_gives_the_core_its_headers_url_and_address() {
        let addr: SocketAddr = "127.0.0.1:40000".parse().expect("an address");
        let (parts, ()) = Request::builder()
            .uri("/socket.io/?EIO=4&a=1&a=2")
            .header("host", "h1")
            .header("host", "h2")
            .header("x-dup", "1")
            .header("X-Dup", "2")
            .header("origin", "http://app.test")
            .extension(ConnectInfo(addr))
            .body(())
            .expect("a request")
            .into_parts();
        let auth = Value::map([("token", Value::from("t"))]);
        let h = from_request_at(&parts, auth.clone(), 1_796_281_463_698);
        assert_eq!(
            h.headers,
            vec![
                ("host".to_owned(), Value::from("h1")),
                ("x-dup".to_owned(), Value::from("1, 2")),
                ("origin".to_owned(), Value::from("http://app.test")),
            ]
        );
        assert_eq!(h.url, "/socket.io/?EIO=4&a=1&a=2");
        assert_eq!(
            h.query,
            vec![
                ("EIO".to_owned(), Value::from("4")),
                (
                    "a".to_owned(),
                    Value::Array(vec![Value::from("1"), Value::from("2")])
                ),
            ]
        );
        assert_eq!(h.address, "127.0.0.1");
        assert!(h.xdomain && !h.secure);
        assert_eq!(h.auth, auth);
        assert_eq!(h.issued_ms, 1_796_281_463_698);
    }

    #[test]
    fn without_connect_info_the_address_is_empty_and_wss_is_secure() {
        let (parts, ()) = Request::builder()
            .uri("wss://chat.test/socket.io/")
            .body(())
            .expect("a request")
            .into_parts();
        let h = from_request_at(&parts, Value::Map(Vec::new()), 0);
        assert_eq!(h.address, "");
        assert!(h.secure);
        assert!(!h.xdomain);
        assert_eq!(h.url, "/socket.io/");
        assert!(h.query.is_empty());
    }
}
