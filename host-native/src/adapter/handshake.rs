//! A socket's handshake as Node's socket.io builds it (`socket.handshake`),
//! from the HTTP request socketioxide keeps for each socket: what other
//! servers' `fetchSockets()` show of it once the app registers it (see
//! [`super::Cluster::register_socket`]).
//!
//! ```no_run
//! use crosscast::adapter::{Cluster, CrosscastAdapter, Handshake};
//! use crosscast_core::Value;
//! use socketioxide::SocketIo;
//! use socketioxide::extract::{SocketRef, TryData};
//!
//! type A = CrosscastAdapter<socketioxide::adapter::Emitter>;
//!
//! async fn register_every_socket(cluster: Cluster, io: SocketIo<A>) {
//!     io.ns("/", move |socket: SocketRef<A>, TryData(auth): TryData<Value>| {
//!         let auth = auth.unwrap_or_else(|_| Value::Map(Vec::new()));
//!         let handshake = Handshake::from_request(socket.req_parts(), auth);
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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use crosscast_core::Value;

/// A socket's handshake as Node's socket.io builds it (`socket.handshake`).
///
/// [`Handshake::from_request`] fills it from the HTTP request socketioxide kept
/// (`socket.req_parts()`) and the client's `auth` payload; every field can be
/// changed afterwards (behind a proxy, set `address` from a forwarded header).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Handshake {
    /// The request headers, lower-case names in arrival order. A value is a
    /// string, or an array of strings for `set-cookie`, as in Node.
    pub headers: Vec<(String, Value)>,
    /// `Date.prototype.toString()` of the connection time, in UTC
    /// (`Wed Dec 03 2025 06:47:12 GMT+0000 (Coordinated Universal Time)`).
    pub time: String,
    /// The client's IP address (no port), empty when unknown.
    pub address: String,
    /// Whether the request had an `Origin` header.
    pub xdomain: bool,
    /// Whether the connection was over TLS.
    pub secure: bool,
    /// The connection time, in milliseconds since the Unix epoch.
    pub issued_ms: u64,
    /// The request's path and query (`/socket.io/?EIO=4&transport=websocket`).
    pub url: String,
    /// The query parameters: a string per name, an array for a repeated name.
    pub query: Vec<(String, Value)>,
    /// The client's auth payload (`{}` when it sent none).
    pub auth: Value,
}

impl Default for Handshake {
    /// The handshake of a socket nothing is known of, issued now.
    fn default() -> Self {
        let issued_ms = epoch_ms(SystemTime::now());
        Self {
            headers: Vec::new(),
            time: js_date_string(issued_ms),
            address: String::new(),
            xdomain: false,
            secure: false,
            issued_ms,
            url: "/socket.io/".to_owned(),
            query: Vec::new(),
            auth: Value::Map(Vec::new()),
        }
    }
}

/// Headers Node keeps once (the first one) when a request repeats them.
const SINGLE_HEADERS: [&str; 18] = [
    "age",
    "authorization",
    "content-length",
    "content-type",
    "etag",
    "expires",
    "from",
    "host",
    "if-modified-since",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "proxy-authorization",
    "referer",
    "retry-after",
    "server",
    "user-agent",
];

/// Node's `querystring.parse` keeps at most this many parameters.
const MAX_QUERY_KEYS: usize = 1000;

impl Handshake {
    /// The handshake of a socket connected now through the HTTP request `parts`
    /// (`socket.req_parts()`), with the client's `auth`. Headers follow Node's
    /// rules for repeated names (`set-cookie` an array, `cookie` joined with
    /// `; `, the others with `, `, a few kept once) and are read as Latin-1;
    /// the query is decoded as `querystring.parse` does. `address` comes from
    /// axum's `ConnectInfo<SocketAddr>`: serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`, or it is empty.
    pub fn from_request(parts: &Parts, auth: Value) -> Self {
        Self::from_request_at(parts, auth, epoch_ms(SystemTime::now()))
    }

    /// [`Handshake::from_request`] at a given connection time (ms since the epoch).
    pub fn from_request_at(parts: &Parts, auth: Value, issued_ms: u64) -> Self {
        let mut headers: Vec<(String, Value)> = Vec::new();
        for name in parts.headers.keys() {
            let values: Vec<String> = parts
                .headers
                .get_all(name)
                .iter()
                .map(|v| v.as_bytes().iter().map(|&b| char::from(b)).collect())
                .collect();
            let name = name.as_str();
            let value = match name {
                "set-cookie" => Value::Array(values.into_iter().map(Value::Str).collect()),
                "cookie" => Value::Str(values.join("; ")),
                _ if SINGLE_HEADERS.contains(&name) => {
                    Value::Str(values.into_iter().next().unwrap_or_default())
                }
                _ => Value::Str(values.join(", ")),
            };
            headers.push((name.to_owned(), value));
        }
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_default();
        let url = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| parts.uri.path().to_owned());
        Self {
            xdomain: parts.headers.contains_key("origin"),
            secure: parts.uri.scheme_str() == Some("https")
                || parts.uri.scheme_str() == Some("wss"),
            headers,
            time: js_date_string(issued_ms),
            address,
            issued_ms,
            url,
            query: parse_query(parts.uri.query().unwrap_or("")),
            auth,
        }
    }

    /// The handshake as Node's `RemoteSocket` reads it, keys in Node's order.
    pub(crate) fn to_value(&self) -> Value {
        Value::map([
            ("headers", Value::Map(self.headers.clone())),
            ("time", Value::from(self.time.as_str())),
            ("address", Value::from(self.address.as_str())),
            ("xdomain", Value::Bool(self.xdomain)),
            ("secure", Value::Bool(self.secure)),
            ("issued", Value::from(self.issued_ms)),
            ("url", Value::from(self.url.as_str())),
            ("query", Value::Map(self.query.clone())),
            ("auth", self.auth.clone()),
        ])
    }
}

/// `querystring.parse(query)`: `+` is a space, `%XX` a byte (an invalid
/// escape stays as it is), a repeated name collects an array, at most
/// [`MAX_QUERY_KEYS`] pairs.
fn parse_query(query: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for pair in query
        .split('&')
        .filter(|p| !p.is_empty())
        .take(MAX_QUERY_KEYS)
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (unescape(key), Value::Str(unescape(value)));
        match index.get(&key) {
            Some(&i) => match &mut out[i].1 {
                Value::Array(items) => items.push(value),
                slot => {
                    let first = std::mem::replace(slot, Value::Nil);
                    *slot = Value::Array(vec![first, value]);
                }
            },
            None => {
                index.insert(key.clone(), out.len());
                out.push((key, value));
            }
        }
    }
    out
}

/// One component of a query: `+` as a space, `%XX` decoded, read as UTF-8
/// (invalid sequences replaced).
fn unescape(text: &str) -> String {
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(high), Some(low)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                    // Two hex digits: at most 255.
                    out.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Milliseconds since the Unix epoch (0 before it).
fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `new Date(ms).toString()` in UTC.
fn js_date_string(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let weekday = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
    format!(
        "{} {} {:02} {:04} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[weekday],
        MONTHS[usize::try_from(month - 1).unwrap_or(0)],
        day,
        year,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn empty() -> Value {
        Value::Map(Vec::new())
    }

    #[test]
    fn a_request_becomes_the_handshake_node_builds() {
        let addr: SocketAddr = "127.0.0.1:40000".parse().expect("an address");
        let (parts, ()) = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket&a=1&a=2&a=3&sp=x+y&pct=%41%zz%&=v&flag")
            .header("host", "h1")
            .header("host", "h2")
            .header("Cookie", "a=1")
            .header("cookie", "b=2")
            .header("set-cookie", "x")
            .header("set-cookie", "y")
            .header("x-dup", "1")
            .header("x-dup", "2")
            .header("x-latin", &b"caf\xe9"[..])
            .header("origin", "http://app.test")
            .extension(ConnectInfo(addr))
            .body(())
            .expect("a request")
            .into_parts();
        let auth = Value::map([("token", Value::from("t"))]);
        let h = Handshake::from_request_at(&parts, auth.clone(), 1_796_281_463_698);
        let header = |name: &str| {
            h.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header("host"),
            Some(Value::from("h1")),
            "kept once, as Node"
        );
        assert_eq!(header("cookie"), Some(Value::from("a=1; b=2")));
        assert_eq!(
            header("set-cookie"),
            Some(Value::Array(vec![Value::from("x"), Value::from("y")]))
        );
        assert_eq!(header("x-dup"), Some(Value::from("1, 2")));
        assert_eq!(
            header("x-latin"),
            Some(Value::from("café")),
            "Latin-1, as Node"
        );
        assert_eq!(
            h.query,
            vec![
                ("EIO".to_owned(), Value::from("4")),
                ("transport".to_owned(), Value::from("websocket")),
                (
                    "a".to_owned(),
                    Value::Array(vec![Value::from("1"), Value::from("2"), Value::from("3")])
                ),
                ("sp".to_owned(), Value::from("x y")),
                ("pct".to_owned(), Value::from("A%zz%")),
                (String::new(), Value::from("v")),
                ("flag".to_owned(), Value::from("")),
            ]
        );
        assert_eq!(h.address, "127.0.0.1");
        assert!(h.xdomain);
        assert!(!h.secure);
        assert_eq!(h.issued_ms, 1_796_281_463_698);
        assert_eq!(
            h.time,
            "Thu Dec 03 2026 07:04:23 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            h.url,
            "/socket.io/?EIO=4&transport=websocket&a=1&a=2&a=3&sp=x+y&pct=%41%zz%&=v&flag"
        );
        assert_eq!(h.auth, auth);
        let keys: Vec<String> = match h.to_value() {
            Value::Map(entries) => entries.into_iter().map(|(k, _)| k).collect(),
            other => panic!("not a map: {other:?}"),
        };
        assert_eq!(
            keys,
            [
                "headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"
            ]
        );
    }

    #[test]
    fn without_connect_info_the_address_is_empty() {
        let (parts, ()) = Request::builder()
            .uri("/socket.io/")
            .body(())
            .expect("a request")
            .into_parts();
        let h = Handshake::from_request_at(&parts, empty(), 0);
        assert_eq!(h.address, "");
        assert!(!h.xdomain);
        assert!(h.query.is_empty());
    }

    #[test]
    fn times_read_as_javascript_dates_do() {
        assert_eq!(
            js_date_string(0),
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            js_date_string(951_782_399_999),
            "Mon Feb 28 2000 23:59:59 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            js_date_string(951_782_400_000),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            js_date_string(4_102_444_800_000),
            "Fri Jan 01 2100 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }
}
