//! What other servers see of this server's sockets through `fetchSockets`:
//! each socket's handshake and `socket.data`, as Node's `RemoteSocket` carries
//! them.
//!
//! socketioxide hands an adapter neither the handshake nor any per-socket data,
//! so the application registers them per socket ([`Cluster::register_socket`],
//! in the connect handler) and forgets them on disconnect
//! ([`Cluster::forget_socket`]). The records live in one bounded book per
//! cluster: at most [`SocketRecordLimits::max_records`] records and
//! [`SocketRecordLimits::max_bytes`] bytes in all, each at most
//! [`SocketRecordLimits::max_record_bytes`]. When the book is full, the records
//! of sockets that are no longer connected are swept first (at most once a
//! second), so an application that forgets to call `forget_socket` leaks
//! nothing for long. A socket without a record answers with an empty handshake
//! (`issued` the time of the answer) and empty `data`.
//!
//! ```no_run
//! # async fn run(cluster: crosscast::adapter::Cluster) {
//! use crosscast::adapter::{CrosscastAdapter, Handshake};
//! use crosscast_core::Value;
//! use socketioxide::extract::{SocketRef, TryData};
//!
//! type A = CrosscastAdapter<socketioxide::adapter::Emitter>;
//! # let io: socketioxide::SocketIo<A> = todo!();
//! io.ns("/", move |socket: SocketRef<A>, TryData(auth): TryData<Value>| {
//!     let auth = auth.unwrap_or_else(|_| Value::Map(Vec::new()));
//!     let handshake = Handshake::from_request(socket.req_parts(), auth);
//!     let data = Value::map([("user", Value::from("alice"))]);
//!     let _ = cluster.register_socket("/", socket.id, handshake, data);
//!     let cluster = cluster.clone();
//!     socket.on_disconnect(async move |socket: SocketRef<A>| {
//!         cluster.forget_socket("/", socket.id);
//!     });
//!     async {}
//! })
//! .await
//! .ok();
//! # }
//! ```
//!
//! Values nested deeper than [`FIELD_MAX_DEPTH`] in `auth` or `data` are
//! recorded as empty objects (and counted): inside a fetchSockets answer's
//! envelope, a deeper one would make the whole answer undecodable for the
//! crosscast servers that asked.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use crosscast_core::Value;
use socketioxide_core::Sid;
use socketioxide_core::adapter::{BroadcastFlags, BroadcastOptions, CoreAdapter, SocketEmitter};

use super::CrosscastAdapter;
use super::cluster::Cluster;

/// Deepest nesting of `auth`, of `socket.data` and of any other handshake field
/// that a record keeps; a deeper value is kept as an empty object.
pub const FIELD_MAX_DEPTH: usize = 32;

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

/// The bounds of the socket records of a cluster ([`super::ClusterConfig::socket_records`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketRecordLimits {
    /// Most records, all namespaces together. Default 100,000.
    pub max_records: usize,
    /// Most bytes of all records together (estimated: the bytes of their
    /// strings and binaries plus 8 per other value). Default 256 MiB.
    pub max_bytes: usize,
    /// Most bytes of one record; a larger one is refused. Default 64 KiB.
    pub max_record_bytes: usize,
}

impl Default for SocketRecordLimits {
    fn default() -> Self {
        Self {
            max_records: 100_000,
            max_bytes: 256 * 1024 * 1024,
            max_record_bytes: 64 * 1024,
        }
    }
}

/// The state of the socket records, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketRecordStats {
    /// Records kept now (a gauge).
    pub records: u64,
    /// Their estimated bytes (a gauge).
    pub bytes: u64,
    /// Records refused because the book was full (records or bytes).
    pub refused_full: u64,
    /// Records refused because they were over `max_record_bytes`.
    pub refused_too_large: u64,
    /// `auth`, `data` or other handshake fields nested deeper than
    /// [`FIELD_MAX_DEPTH`], kept as empty objects.
    pub emptied_too_deep: u64,
    /// Records of sockets no longer connected, removed by a sweep (the
    /// application did not call [`Cluster::forget_socket`]).
    pub swept: u64,
}

/// Why a socket record was not kept. The socket then answers fetchSockets
/// with an empty handshake and empty data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SocketRecordError {
    /// The book holds `max_records` records or `max_bytes` bytes, all of
    /// connected sockets.
    #[error("the socket records are full ({records} records, {bytes} bytes)")]
    Full {
        /// Records kept.
        records: usize,
        /// Bytes kept.
        bytes: usize,
    },
    /// The record is over `max_record_bytes`.
    #[error("a socket record of {bytes} bytes is over the limit of {limit}")]
    TooLarge {
        /// Its estimated size.
        bytes: usize,
        /// `max_record_bytes`.
        limit: usize,
    },
    /// [`Cluster::set_socket_data`] for a socket without a record.
    #[error("no record of socket {0}")]
    Unknown(String),
}

impl Cluster {
    /// Records what other servers see of socket `sid` of namespace `nsp`
    /// through fetchSockets: its `handshake` and its `data` (Node's
    /// `socket.data`; give an empty map when the app keeps none). Replaces an
    /// earlier record of the same socket. Call it in the connect handler and
    /// [`Cluster::forget_socket`] on disconnect. A refused record leaves the
    /// socket without one (see [`SocketRecordError`]); the refusal is counted
    /// in [`Cluster::socket_records`].
    pub fn register_socket(
        &self,
        nsp: &str,
        sid: Sid,
        handshake: Handshake,
        data: Value,
    ) -> Result<(), SocketRecordError> {
        self.inner.sockets.register(nsp, sid, &handshake, data)
    }

    /// Replaces the `data` of a registered socket (Node apps change
    /// `socket.data` at will; other servers see the latest one given here).
    pub fn set_socket_data(
        &self,
        nsp: &str,
        sid: Sid,
        data: Value,
    ) -> Result<(), SocketRecordError> {
        self.inner.sockets.set_data(nsp, sid, data)
    }

    /// Forgets the record of socket `sid` of namespace `nsp`; whether there was one.
    pub fn forget_socket(&self, nsp: &str, sid: Sid) -> bool {
        self.inner.sockets.remove(nsp, sid)
    }

    /// The socket records' gauges and counters.
    pub fn socket_records(&self) -> SocketRecordStats {
        self.inner.sockets.stats()
    }
}

/// The ids of a namespace's connected sockets, `None` once its adapter is gone.
pub(crate) type LiveSockets = Arc<dyn Fn() -> Option<Vec<Sid>> + Send + Sync>;

/// How often, at most, a full book looks for records of departed sockets.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The socket records of a cluster, per namespace.
pub(crate) struct SocketBook {
    limits: SocketRecordLimits,
    inner: Mutex<Records>,
    refused_full: AtomicU64,
    refused_too_large: AtomicU64,
    emptied_too_deep: AtomicU64,
    swept: AtomicU64,
}

#[derive(Default)]
struct Records {
    by_nsp: HashMap<String, HashMap<Sid, Record>>,
    count: usize,
    bytes: usize,
    live: HashMap<String, LiveSockets>,
    last_sweep: Option<Instant>,
}

struct Record {
    handshake: Value,
    data: Value,
    bytes: usize,
}

impl std::fmt::Debug for SocketBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketBook")
            .field("limits", &self.limits)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Records {
    fn take(&mut self, nsp: &str, sid: Sid) -> Option<Record> {
        let sockets = self.by_nsp.get_mut(nsp)?;
        let record = sockets.remove(&sid)?;
        if sockets.is_empty() {
            self.by_nsp.remove(nsp);
        }
        self.count -= 1;
        self.bytes -= record.bytes;
        Some(record)
    }
}

impl SocketBook {
    pub(crate) fn new(limits: SocketRecordLimits) -> Self {
        Self {
            limits,
            inner: Mutex::new(Records::default()),
            refused_full: AtomicU64::new(0),
            refused_too_large: AtomicU64::new(0),
            emptied_too_deep: AtomicU64::new(0),
            swept: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `value` with every part nested deeper than [`FIELD_MAX_DEPTH`] (the
    /// value itself for `data`, each field of a handshake) as an empty map.
    fn bounded(&self, value: Value, handshake: bool) -> Value {
        let bound = |v: Value| {
            if shape(&v).depth > FIELD_MAX_DEPTH {
                self.emptied_too_deep.fetch_add(1, Ordering::Relaxed);
                Value::Map(Vec::new())
            } else {
                v
            }
        };
        match value {
            Value::Map(fields) if handshake => {
                Value::Map(fields.into_iter().map(|(k, v)| (k, bound(v))).collect())
            }
            other => bound(other),
        }
    }

    /// Records `handshake` and `data` for `sid` (see [`Cluster::register_socket`]).
    pub(crate) fn register(
        &self,
        nsp: &str,
        sid: Sid,
        handshake: &Handshake,
        data: Value,
    ) -> Result<(), SocketRecordError> {
        let handshake = self.bounded(handshake.to_value(), true);
        let data = self.bounded(data, false);
        self.insert(nsp, sid, handshake, data)
    }

    /// Replaces the data of a recorded socket (see [`Cluster::set_socket_data`]).
    pub(crate) fn set_data(
        &self,
        nsp: &str,
        sid: Sid,
        data: Value,
    ) -> Result<(), SocketRecordError> {
        let (handshake, _) = self
            .get(nsp, sid)
            .ok_or_else(|| SocketRecordError::Unknown(sid.to_string()))?;
        let data = self.bounded(data, false);
        self.insert(nsp, sid, handshake, data)
    }

    /// Tells the book how to list the connected sockets of `nsp` (its adapter started).
    pub(crate) fn attach(&self, nsp: &str, live: LiveSockets) {
        self.lock().live.insert(nsp.to_owned(), live);
    }

    /// Forgets every record of `nsp` (its adapter closed).
    pub(crate) fn detach(&self, nsp: &str) {
        let mut records = self.lock();
        records.live.remove(nsp);
        if let Some(sockets) = records.by_nsp.remove(nsp) {
            records.count -= sockets.len();
            records.bytes -= sockets.values().map(|r| r.bytes).sum::<usize>();
        }
    }

    fn insert(
        &self,
        nsp: &str,
        sid: Sid,
        handshake: Value,
        data: Value,
    ) -> Result<(), SocketRecordError> {
        let bytes = 64 + nsp.len() + shape(&handshake).bytes + shape(&data).bytes;
        let mut records = self.lock();
        records.take(nsp, sid);
        if bytes > self.limits.max_record_bytes {
            self.refused_too_large.fetch_add(1, Ordering::Relaxed);
            return Err(SocketRecordError::TooLarge {
                bytes,
                limit: self.limits.max_record_bytes,
            });
        }
        let fits = |r: &Records| {
            r.count < self.limits.max_records && r.bytes + bytes <= self.limits.max_bytes
        };
        if !fits(&records) {
            let due = records
                .last_sweep
                .is_none_or(|at| at.elapsed() >= SWEEP_EVERY);
            if due {
                records.last_sweep = Some(Instant::now());
                let live: Vec<(String, LiveSockets)> = records
                    .live
                    .iter()
                    .map(|(n, f)| (n.clone(), Arc::clone(f)))
                    .collect();
                // The adapters' own locks are taken without holding the book's.
                drop(records);
                let connected: HashMap<String, Option<HashSet<Sid>>> = live
                    .into_iter()
                    .map(|(n, f)| (n, f().map(|ids| ids.into_iter().collect())))
                    .collect();
                records = self.lock();
                self.sweep(&mut records, &connected);
            }
            if !fits(&records) {
                self.refused_full.fetch_add(1, Ordering::Relaxed);
                return Err(SocketRecordError::Full {
                    records: records.count,
                    bytes: records.bytes,
                });
            }
        }
        records.by_nsp.entry(nsp.to_owned()).or_default().insert(
            sid,
            Record {
                handshake,
                data,
                bytes,
            },
        );
        records.count += 1;
        records.bytes += bytes;
        Ok(())
    }

    /// Removes the records of sockets not in `connected`: every record of a
    /// namespace whose adapter is gone or was never there (nobody would read them).
    fn sweep(&self, records: &mut Records, connected: &HashMap<String, Option<HashSet<Sid>>>) {
        let mut gone = Vec::new();
        for (nsp, sockets) in &records.by_nsp {
            let live = connected.get(nsp).and_then(Option::as_ref);
            for sid in sockets.keys() {
                if !live.is_some_and(|l| l.contains(sid)) {
                    gone.push((nsp.clone(), *sid));
                }
            }
        }
        for (nsp, sid) in gone {
            if records.take(&nsp, sid).is_some() {
                self.swept.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn remove(&self, nsp: &str, sid: Sid) -> bool {
        self.lock().take(nsp, sid).is_some()
    }

    /// The recorded handshake and data of `sid`.
    fn get(&self, nsp: &str, sid: Sid) -> Option<(Value, Value)> {
        let records = self.lock();
        let record = records.by_nsp.get(nsp)?.get(&sid)?;
        Some((record.handshake.clone(), record.data.clone()))
    }

    /// What a fetchSockets answer says of `sid`: its record, or an empty
    /// handshake issued now and empty data.
    pub(crate) fn answer(&self, nsp: &str, sid: Sid) -> (Value, Value) {
        self.get(nsp, sid)
            .unwrap_or_else(|| (Handshake::default().to_value(), Value::Map(Vec::new())))
    }

    pub(crate) fn stats(&self) -> SocketRecordStats {
        let (records, bytes) = {
            let r = self.lock();
            (r.count, r.bytes)
        };
        SocketRecordStats {
            records: records as u64,
            bytes: bytes as u64,
            refused_full: self.refused_full.load(Ordering::Relaxed),
            refused_too_large: self.refused_too_large.load(Ordering::Relaxed),
            emptied_too_deep: self.emptied_too_deep.load(Ordering::Relaxed),
            swept: self.swept.load(Ordering::Relaxed),
        }
    }
}

/// The nesting depth (arrays and maps; 0 for a scalar) and the estimated
/// bytes of a value. Walks with an explicit stack: an app may build a value
/// of any depth.
struct Shape {
    depth: usize,
    bytes: usize,
}

fn shape(value: &Value) -> Shape {
    let mut out = Shape { depth: 0, bytes: 0 };
    let mut stack = vec![(value, 0usize)];
    while let Some((value, level)) = stack.pop() {
        out.bytes += 8;
        match value {
            Value::Str(s) => out.bytes += s.len(),
            Value::Bin(b) | Value::Ext(_, b) => out.bytes += b.len(),
            Value::Array(items) => {
                out.depth = out.depth.max(level + 1);
                stack.extend(items.iter().map(|v| (v, level + 1)));
            }
            Value::Map(entries) => {
                out.depth = out.depth.max(level + 1);
                for (k, v) in entries {
                    out.bytes += k.len();
                    stack.push((v, level + 1));
                }
            }
            _ => {}
        }
    }
    out
}

/// How the book lists the connected sockets of an adapter's namespace.
pub(crate) fn live_sockets<E: SocketEmitter>(
    adapter: std::sync::Weak<CrosscastAdapter<E>>,
) -> LiveSockets {
    Arc::new(move || {
        let adapter = adapter.upgrade()?;
        let mut all = BroadcastOptions::default();
        all.add_flag(BroadcastFlags::Broadcast);
        Some(adapter.get_local().sockets(all))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn limits(max_records: usize, max_bytes: usize, max_record_bytes: usize) -> SocketRecordLimits {
        SocketRecordLimits {
            max_records,
            max_bytes,
            max_record_bytes,
        }
    }

    /// A book whose namespace `/` has the connected sockets `live`.
    fn book_with(limits: SocketRecordLimits, live: &[Sid]) -> SocketBook {
        let book = SocketBook::new(limits);
        let live = live.to_vec();
        book.attach("/", Arc::new(move || Some(live.clone())));
        book
    }

    /// `{leaf: 1}` inside `levels` more maps: nested `levels + 1` deep.
    fn nested(levels: usize) -> Value {
        let mut value = Value::map([("leaf", Value::from(1u64))]);
        for _ in 0..levels {
            value = Value::map([("d", value)]);
        }
        value
    }

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

    #[test]
    fn a_registered_socket_answers_with_its_record_and_a_forgotten_one_with_an_empty_one() {
        let sid = Sid::new();
        let book = book_with(SocketRecordLimits::default(), &[sid]);
        let data = Value::map([("user", Value::from("alice"))]);
        let handshake = Handshake {
            auth: Value::map([("token", Value::from("t"))]),
            ..Handshake::default()
        };
        book.register("/", sid, &handshake, data.clone())
            .expect("kept");
        assert_eq!(book.answer("/", sid), (handshake.to_value(), data));
        let newer = Value::map([("user", Value::from("bob"))]);
        book.set_data("/", sid, newer.clone()).expect("kept");
        assert_eq!(book.answer("/", sid).1, newer);
        assert!(book.remove("/", sid));
        assert!(!book.remove("/", sid));
        let (fallback, data) = book.answer("/", sid);
        assert_eq!(fallback.get("auth"), Some(&empty()));
        assert!(
            fallback
                .get("issued")
                .and_then(Value::as_u64)
                .is_some_and(|t| t > 0)
        );
        assert_eq!(data, empty());
        assert_eq!(
            book.set_data("/", sid, empty()),
            Err(SocketRecordError::Unknown(sid.to_string()))
        );
    }

    #[test]
    fn the_book_does_not_grow_past_disconnects() {
        let book = book_with(SocketRecordLimits::default(), &[]);
        for _ in 0..1000 {
            let sid = Sid::new();
            book.register("/", sid, &Handshake::default(), empty())
                .expect("kept");
            assert!(book.remove("/", sid));
        }
        let stats = book.stats();
        assert_eq!((stats.records, stats.bytes), (0, 0));
        let sid = Sid::new();
        book.register("/", sid, &Handshake::default(), empty())
            .expect("kept");
        book.register("/", sid, &Handshake::default(), empty())
            .expect("replaced");
        assert_eq!(
            book.stats().records,
            1,
            "a second registration replaces the first"
        );
        book.detach("/");
        assert_eq!(
            book.stats(),
            SocketRecordStats::default(),
            "a closed namespace frees all"
        );
    }

    #[test]
    fn a_full_book_refuses_and_counts_once_connected_sockets_fill_it() {
        let sids: Vec<Sid> = (0..4).map(|_| Sid::new()).collect();
        let book = book_with(limits(3, usize::MAX, 64 * 1024), &sids);
        for sid in &sids[..3] {
            book.register("/", *sid, &Handshake::default(), empty())
                .expect("kept");
        }
        let refused = book.register("/", sids[3], &Handshake::default(), empty());
        assert!(matches!(
            refused,
            Err(SocketRecordError::Full { records: 3, .. })
        ));
        let stats = book.stats();
        assert_eq!((stats.records, stats.refused_full, stats.swept), (3, 1, 0));
        assert_eq!(
            book.answer("/", sids[3]).1,
            empty(),
            "answered without a record"
        );
        book.remove("/", sids[0]);
        book.register("/", sids[3], &Handshake::default(), empty())
            .expect("room again");
    }

    #[test]
    fn a_full_book_sweeps_the_records_of_departed_sockets() {
        let connected = Sid::new();
        let book = book_with(limits(3, usize::MAX, 64 * 1024), &[connected]);
        book.register("/", connected, &Handshake::default(), empty())
            .expect("kept");
        // Two sockets that left without forget_socket, and one of a namespace
        // that has no adapter.
        book.register("/", Sid::new(), &Handshake::default(), empty())
            .expect("kept");
        book.register("/nowhere", Sid::new(), &Handshake::default(), empty())
            .expect("kept");
        let newcomer = Sid::new();
        book.register("/", newcomer, &Handshake::default(), empty())
            .expect("the sweep made room");
        let stats = book.stats();
        assert_eq!((stats.records, stats.swept, stats.refused_full), (2, 2, 0));
        assert!(book.get("/", connected).is_some());
    }

    #[test]
    fn the_book_is_bounded_in_bytes_too() {
        let sids: Vec<Sid> = (0..3).map(|_| Sid::new()).collect();
        let one = {
            let book = SocketBook::new(SocketRecordLimits::default());
            book.register("/", sids[0], &Handshake::default(), empty())
                .expect("kept");
            usize::try_from(book.stats().bytes).expect("small")
        };
        let book = book_with(limits(100, 2 * one, 64 * 1024), &sids);
        for sid in &sids[..2] {
            book.register("/", *sid, &Handshake::default(), empty())
                .expect("kept");
        }
        assert!(matches!(
            book.register("/", sids[2], &Handshake::default(), empty()),
            Err(SocketRecordError::Full { records: 2, .. })
        ));
        assert!(book.stats().bytes <= 2 * one as u64);
    }

    #[test]
    fn a_record_over_its_byte_bound_is_refused() {
        let sid = Sid::new();
        let book = book_with(limits(100, usize::MAX, 1024), &[sid]);
        let big = Handshake {
            auth: Value::map([("token", Value::from("x".repeat(2000)))]),
            ..Handshake::default()
        };
        assert!(matches!(
            book.register("/", sid, &big, empty()),
            Err(SocketRecordError::TooLarge { limit: 1024, .. })
        ));
        let stats = book.stats();
        assert_eq!((stats.records, stats.refused_too_large), (0, 1));
    }

    #[test]
    fn fields_nested_too_deep_are_kept_as_empty_objects() {
        let sid = Sid::new();
        let book = book_with(SocketRecordLimits::default(), &[sid]);
        let at_bound = nested(FIELD_MAX_DEPTH - 1);
        let handshake = Handshake {
            auth: at_bound.clone(),
            headers: vec![("x-ok".to_owned(), Value::from("1"))],
            ..Handshake::default()
        };
        book.register("/", sid, &handshake, at_bound.clone())
            .expect("kept");
        assert_eq!(book.answer("/", sid).0.get("auth"), Some(&at_bound));
        assert_eq!(book.answer("/", sid).1, at_bound);
        assert_eq!(book.stats().emptied_too_deep, 0, "at the bound: kept");
        let deeper = Handshake {
            auth: nested(FIELD_MAX_DEPTH),
            ..handshake
        };
        book.register("/", sid, &deeper, nested(200)).expect("kept");
        let (h, data) = book.answer("/", sid);
        assert_eq!(h.get("auth"), Some(&empty()));
        assert_eq!(
            h.get("headers"),
            Some(&Value::map([("x-ok", Value::from("1"))])),
            "the rest of the handshake stays"
        );
        assert_eq!(data, empty());
        assert_eq!(book.stats().emptied_too_deep, 2);
    }
}
