//! The records of this server's sockets that other servers read through
//! `fetchSockets`: each socket's handshake and `socket.data`, as Node's
//! `RemoteSocket` carries them.
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
//! Values nested deeper than [`FIELD_MAX_DEPTH`] in `auth`, `data` or another
//! handshake field are recorded as empty objects (and counted): inside a
//! fetchSockets answer's envelope, a deeper one would make the whole answer
//! undecodable for the crosscast servers that asked.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crosscast_core::Value;
use socketioxide_core::Sid;

use super::handshake::{self, Handshake};

/// Deepest nesting of `auth`, of `socket.data` and of any other handshake field
/// that a record keeps; a deeper value is kept as an empty object.
pub const FIELD_MAX_DEPTH: usize = 32;

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
    /// application did not call [`Cluster::forget_socket`](crate::adapter::Cluster::forget_socket)).
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
    /// [`Cluster::set_socket_data`](crate::adapter::Cluster::set_socket_data) for a socket without a record.
    #[error("no record of socket {0}")]
    Unknown(String),
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

    /// Replaces the data of a recorded socket (see [`Cluster::set_socket_data`](crate::adapter::Cluster::set_socket_data)).
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
            .unwrap_or_else(|| (handshake::unknown_now().to_value(), Value::Map(Vec::new())))
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_registered_socket_answers_with_its_record_and_a_forgotten_one_with_an_empty_one() {
        let sid = Sid::new();
        let book = book_with(SocketRecordLimits::default(), &[sid]);
        let data = Value::map([("user", Value::from("alice"))]);
        let mut handshake = Handshake::issued_at(0);
        handshake.auth = Value::map([("token", Value::from("t"))]);
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
            book.register("/", sid, &Handshake::issued_at(0), empty())
                .expect("kept");
            assert!(book.remove("/", sid));
        }
        let stats = book.stats();
        assert_eq!((stats.records, stats.bytes), (0, 0));
        let sid = Sid::new();
        book.register("/", sid, &Handshake::issued_at(0), empty())
            .expect("kept");
        book.register("/", sid, &Handshake::issued_at(0), empty())
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
            book.register("/", *sid, &Handshake::issued_at(0), empty())
                .expect("kept");
        }
        let refused = book.register("/", sids[3], &Handshake::issued_at(0), empty());
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
        book.register("/", sids[3], &Handshake::issued_at(0), empty())
            .expect("room again");
    }

    #[test]
    fn a_full_book_sweeps_the_records_of_departed_sockets() {
        let connected = Sid::new();
        let book = book_with(limits(3, usize::MAX, 64 * 1024), &[connected]);
        book.register("/", connected, &Handshake::issued_at(0), empty())
            .expect("kept");
        // Two sockets that left without forget_socket, and one of a namespace
        // that has no adapter.
        book.register("/", Sid::new(), &Handshake::issued_at(0), empty())
            .expect("kept");
        book.register("/nowhere", Sid::new(), &Handshake::issued_at(0), empty())
            .expect("kept");
        let newcomer = Sid::new();
        book.register("/", newcomer, &Handshake::issued_at(0), empty())
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
            book.register("/", sids[0], &Handshake::issued_at(0), empty())
                .expect("kept");
            usize::try_from(book.stats().bytes).expect("small")
        };
        let book = book_with(limits(100, 2 * one, 64 * 1024), &sids);
        for sid in &sids[..2] {
            book.register("/", *sid, &Handshake::issued_at(0), empty())
                .expect("kept");
        }
        assert!(matches!(
            book.register("/", sids[2], &Handshake::issued_at(0), empty()),
            Err(SocketRecordError::Full { records: 2, .. })
        ));
        assert!(book.stats().bytes <= 2 * one as u64);
    }

    #[test]
    fn a_record_over_its_byte_bound_is_refused() {
        let sid = Sid::new();
        let book = book_with(limits(100, usize::MAX, 1024), &[sid]);
        let mut big = Handshake::issued_at(0);
        big.auth = Value::map([("token", Value::from("x".repeat(2000)))]);
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
        let mut handshake = Handshake::issued_at(0);
        handshake.auth = at_bound.clone();
        handshake.headers = vec![("x-ok".to_owned(), Value::from("1"))];
        book.register("/", sid, &handshake, at_bound.clone())
            .expect("kept");
        assert_eq!(book.answer("/", sid).0.get("auth"), Some(&at_bound));
        assert_eq!(book.answer("/", sid).1, at_bound);
        assert_eq!(book.stats().emptied_too_deep, 0, "at the bound: kept");
        let mut deeper = handshake.clone();
        deeper.auth = nested(FIELD_MAX_DEPTH);
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
