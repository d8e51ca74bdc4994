//! A socket's handshake as Node's socket.io builds it (`socket.handshake`):
//! what every server of the cluster shows of a socket in `fetchSockets()`.
//!
//! A Node server has it from socket.io; a host that has only the HTTP request
//! (socketioxide) builds it here from the request's parts, so that its sockets
//! read on a Node server exactly as a Node server's own do. The host supplies
//! the connection time: the core reads no clock.

use std::collections::HashMap;

use crate::value::Value;

/// A socket's handshake as Node's socket.io builds it (`socket.handshake`).
///
/// [`Handshake::from_http`] fills it from an HTTP request's parts and the
/// client's `auth` payload; every field can be changed afterwards (behind a
/// proxy, set `address` from a forwarded header). [`Handshake::to_value`] is
/// the record a fetchSockets response carries.
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
    /// The handshake of a socket nothing is known of, connected at `issued_ms`
    /// (milliseconds since the Unix epoch): no headers, no query, `auth` `{}`.
    pub fn issued_at(issued_ms: u64) -> Self {
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

    /// The handshake of a socket connected at `issued_ms` through an HTTP
    /// request with `headers` (each `(name, raw value)` in arrival order; a
    /// name may repeat), `url` (path and query), from the client `address`,
    /// over TLS when `secure`, with the client's `auth`.
    ///
    /// Headers follow Node's rules for repeated names (`set-cookie` an array,
    /// `cookie` joined with `; `, the others with `, `, a few kept once) and are
    /// read as Latin-1; names are lower-cased; the query is decoded as
    /// `querystring.parse` does.
    pub fn from_http<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        url: &str,
        address: String,
        secure: bool,
        auth: Value,
        issued_ms: u64,
    ) -> Self {
        let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let value: String = value.iter().map(|&b| char::from(b)).collect();
            match grouped.iter_mut().find(|(n, _)| *n == name) {
                Some((_, values)) => values.push(value),
                None => grouped.push((name, vec![value])),
            }
        }
        let xdomain = grouped.iter().any(|(n, _)| n == "origin");
        let headers = grouped
            .into_iter()
            .map(|(name, values)| {
                let value = match name.as_str() {
                    "set-cookie" => Value::Array(values.into_iter().map(Value::Str).collect()),
                    "cookie" => Value::Str(values.join("; ")),
                    n if SINGLE_HEADERS.contains(&n) => {
                        Value::Str(values.into_iter().next().unwrap_or_default())
                    }
                    _ => Value::Str(values.join(", ")),
                };
                (name, value)
            })
            .collect();
        let query = url.split_once('?').map_or("", |(_, q)| q);
        Self {
            headers,
            time: js_date_string(issued_ms),
            address,
            xdomain,
            secure,
            issued_ms,
            url: url.to_owned(),
            query: parse_query(query),
            auth,
        }
    }

    /// The handshake as Node's `RemoteSocket` reads it, keys in Node's order.
    pub fn to_value(&self) -> Value {
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

/// `new Date(ms).toString()` in UTC.
fn js_date_string(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (year, month, day) = crate::json::civil_from_days(days);
    let weekday = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
    format!(
        "{} {} {:02} {:04} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[weekday],
        MONTHS[usize::try_from(month.saturating_sub(1)).unwrap_or(0)],
        day,
        year,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_becomes_the_handshake_node_builds() {
        let headers: [(&str, &[u8]); 10] = [
            ("host", b"h1"),
            ("host", b"h2"),
            ("Cookie", b"a=1"),
            ("cookie", b"b=2"),
            ("set-cookie", b"x"),
            ("set-cookie", b"y"),
            ("x-dup", b"1"),
            ("x-dup", b"2"),
            ("x-latin", b"caf\xe9"),
            ("origin", b"http://app.test"),
        ];
        let url = "/socket.io/?EIO=4&transport=websocket&a=1&a=2&a=3&sp=x+y&pct=%41%zz%&=v&flag";
        let auth = Value::map([("token", Value::from("t"))]);
        let h = Handshake::from_http(
            headers,
            url,
            "127.0.0.1".to_owned(),
            false,
            auth.clone(),
            1_796_281_463_698,
        );
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
        assert_eq!(
            header("cookie"),
            Some(Value::from("a=1; b=2")),
            "names lower-cased, then joined"
        );
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
        let names: Vec<&str> = h.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["host", "cookie", "set-cookie", "x-dup", "x-latin", "origin"],
            "first arrival order"
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
        assert!(h.xdomain);
        assert!(!h.secure);
        assert_eq!(h.issued_ms, 1_796_281_463_698);
        assert_eq!(
            h.time,
            "Thu Dec 03 2026 07:04:23 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(h.url, url);
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
    fn a_socket_nothing_is_known_of_has_an_empty_handshake_of_its_time() {
        let h = Handshake::issued_at(0);
        assert_eq!(h.address, "");
        assert!(!h.xdomain);
        assert!(h.query.is_empty() && h.headers.is_empty());
        assert_eq!(h.url, "/socket.io/");
        assert_eq!(h.auth, Value::Map(Vec::new()));
        assert_eq!(
            h.time,
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }

    #[test]
    fn a_url_without_a_query_has_none() {
        let h = Handshake::from_http([], "/socket.io/", String::new(), true, Value::Nil, 5);
        assert!(h.query.is_empty());
        assert!(h.secure);
    }

    #[test]
    fn times_read_as_javascript_dates_do() {
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
