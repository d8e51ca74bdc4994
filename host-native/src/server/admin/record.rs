//! What the Admin UI shows of a socket: the object `@socket.io/admin-ui` 0.5.1's
//! `serialize(socket, nsp)` builds, from a socket's record ([`SocketInfo`]) whichever
//! server, Rust or Node.js, it is connected to.
//!
//! The shape, keys in Node's order: `{id, clientId, transport, nsp, data, handshake:
//! {address, headers, query, issued, secure, time, url, xdomain}, rooms}`.
//! - `clientId` and `transport` come from `data._admin`, which every instrumented server
//!   (Node's `instrument()` in development mode, `crosscast serve --admin`) puts in its
//!   sockets' data; they are left out when a socket has none, as `undefined` is in JSON.
//! - `data` is shown without `_admin`.
//! - `address` is the `cf-connecting-ip` header, else `x-forwarded-for`, else the
//!   handshake's address.
//! - The handshake's `auth` is never shown (Node leaves it out too: it may hold a
//!   password).

use crosscast_core::{SocketInfo, Value};

/// The key of the admin fields in a socket's data.
pub(crate) const ADMIN_DATA_KEY: &str = "_admin";

/// The `_admin` data field of a socket: its client (connection) id as the UI groups
/// sockets, and its transport (`polling` or `websocket`).
pub(crate) fn admin_data(client_id: &str, transport: &str) -> Value {
    Value::map([
        ("clientId", Value::from(client_id)),
        ("transport", Value::from(transport)),
    ])
}

/// The UI's record of socket `info` of namespace `nsp`.
pub(crate) fn socket_value(info: &SocketInfo, nsp: &str) -> Value {
    let admin = info.data.as_ref().and_then(|d| d.get(ADMIN_DATA_KEY));
    let mut fields: Vec<(String, Value)> = vec![("id".into(), Value::from(info.id.as_str()))];
    for key in ["clientId", "transport"] {
        if let Some(v) = admin.and_then(|a| a.get(key)) {
            fields.push((key.into(), v.clone()));
        }
    }
    fields.push(("nsp".into(), Value::from(nsp)));
    let data = match &info.data {
        Some(Value::Map(entries)) => Value::Map(
            entries
                .iter()
                .filter(|(k, _)| k != ADMIN_DATA_KEY)
                .cloned()
                .collect(),
        ),
        Some(other) => other.clone(),
        None => Value::Map(Vec::new()),
    };
    fields.push(("data".into(), data));
    fields.push(("handshake".into(), handshake_value(info.handshake.as_ref())));
    fields.push((
        "rooms".into(),
        Value::Array(
            info.rooms
                .iter()
                .map(|r| Value::from(r.to_string()))
                .collect(),
        ),
    ));
    Value::Map(fields)
}

fn handshake_value(handshake: Option<&Value>) -> Value {
    let empty = Value::Map(Vec::new());
    let field = |key: &str| handshake.and_then(|h| h.get(key)).cloned();
    let headers = field("headers").unwrap_or_else(|| empty.clone());
    let header = |name: &str| {
        headers
            .get(name)
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            .cloned()
    };
    let address = header("cf-connecting-ip")
        .or_else(|| header("x-forwarded-for"))
        .or_else(|| field("address"))
        .unwrap_or(Value::Nil);
    Value::Map(vec![
        ("address".into(), address),
        ("headers".into(), headers),
        ("query".into(), field("query").unwrap_or(empty)),
        ("issued".into(), field("issued").unwrap_or(Value::Nil)),
        (
            "secure".into(),
            field("secure").unwrap_or(Value::Bool(false)),
        ),
        ("time".into(), field("time").unwrap_or(Value::Nil)),
        ("url".into(), field("url").unwrap_or(Value::Nil)),
        (
            "xdomain".into(),
            field("xdomain").unwrap_or(Value::Bool(false)),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crosscast_core::Room;

    fn info(data: Value, headers: Value) -> SocketInfo {
        let handshake = Some(Value::map([
            ("headers", headers),
            (
                "time",
                Value::from("Fri Dec 04 2026 01:00:00 GMT+0000 (Coordinated Universal Time)"),
            ),
            ("address", Value::from("127.0.0.1")),
            ("xdomain", Value::Bool(false)),
            ("secure", Value::Bool(false)),
            ("issued", Value::from(1_796_000_000_000_u64)),
            ("url", Value::from("/socket.io/?EIO=4&transport=websocket")),
            ("query", Value::map([("EIO", Value::from("4"))])),
            ("auth", Value::map([("password", Value::from("secret"))])),
        ]));
        SocketInfo {
            id: "AAAAAAAAAAAAAAAA".into(),
            handshake,
            rooms: vec![
                Room::Str("AAAAAAAAAAAAAAAA".into()),
                Room::Str("lobby".into()),
            ],
            data: Some(data),
        }
    }

    #[test]
    fn a_socket_reads_as_node_serializes_it_without_admin_fields_or_auth() {
        let data = Value::map([
            ("server", Value::from("node-1")),
            (ADMIN_DATA_KEY, admin_data("AAAAAAAAAAAA", "websocket")),
        ]);
        let shown = socket_value(&info(data, Value::map([("host", Value::from("x"))])), "/");
        let keys: Vec<&str> = match &shown {
            Value::Map(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        };
        assert_eq!(
            keys,
            [
                "id",
                "clientId",
                "transport",
                "nsp",
                "data",
                "handshake",
                "rooms"
            ]
        );
        assert_eq!(
            shown.get("clientId").and_then(Value::as_str),
            Some("AAAAAAAAAAAA")
        );
        assert_eq!(
            shown.get("transport").and_then(Value::as_str),
            Some("websocket")
        );
        assert_eq!(
            shown.get("data"),
            Some(&Value::map([("server", Value::from("node-1"))]))
        );
        let handshake = shown.get("handshake").cloned().unwrap_or(Value::Nil);
        assert_eq!(handshake.get("auth"), None, "the password stays out");
        assert_eq!(
            handshake.get("address").and_then(Value::as_str),
            Some("127.0.0.1")
        );
        assert_eq!(
            handshake.get("query").and_then(|q| q.get("EIO")),
            Some(&Value::from("4"))
        );
        assert_eq!(
            shown.get("rooms"),
            Some(&Value::Array(vec![
                Value::from("AAAAAAAAAAAAAAAA"),
                Value::from("lobby")
            ]))
        );
    }

    #[test]
    fn the_address_is_the_proxy_header_first_and_a_socket_without_admin_fields_has_none() {
        let headers = Value::map([
            ("x-forwarded-for", Value::from("10.0.0.2")),
            ("cf-connecting-ip", Value::from("10.0.0.1")),
        ]);
        let shown = socket_value(&info(Value::Map(Vec::new()), headers), "/chat");
        let handshake = shown.get("handshake").cloned().unwrap_or(Value::Nil);
        assert_eq!(
            handshake.get("address").and_then(Value::as_str),
            Some("10.0.0.1")
        );
        assert_eq!(shown.get("clientId"), None);
        assert_eq!(shown.get("nsp").and_then(Value::as_str), Some("/chat"));
        let only_forwarded = Value::map([("x-forwarded-for", Value::from("10.0.0.2"))]);
        let shown = socket_value(&info(Value::Map(Vec::new()), only_forwarded), "/");
        let handshake = shown.get("handshake").cloned().unwrap_or(Value::Nil);
        assert_eq!(
            handshake.get("address").and_then(Value::as_str),
            Some("10.0.0.2")
        );
    }
}
