//! `server_stats`: what each instrumented server tells every admin client of the cluster
//! every [`STATS_INTERVAL`], the fields `@socket.io/admin-ui` 0.5.1 sends:
//! `{serverId, hostname, pid, uptime, clientsCount, pollingClientsCount,
//! aggregatedEvents, namespaces: [{name, socketsCount}]}`.
//!
//! `aggregatedEvents` counts, per second, the connections (`rawConnection`) and
//! disconnections (`rawDisconnection`, with the reason as `subType`) since the last
//! report: the UI's connection histogram. The buffer's keys are a second, a type and a
//! reason from closed sets, and it is emptied at every report, so it holds a few dozen
//! entries; [`EventBuffer::MAX_KEYS`] bounds it should reports stop (counted).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crosscast_core::Value;

/// How often a server reports (Node's 2 s).
pub(crate) const STATS_INTERVAL: Duration = Duration::from_secs(2);

/// An event count's key: the second (ms since the epoch), the type and the sub-type.
type EventKey = (i64, &'static str, Option<&'static str>);

/// The counts of connection events, per second, until the next report.
#[derive(Debug, Default)]
pub(crate) struct EventBuffer {
    counts: Mutex<BTreeMap<EventKey, u64>>,
    dropped: AtomicU64,
}

impl EventBuffer {
    /// Most keys kept between two reports.
    pub(crate) const MAX_KEYS: usize = 1024;

    /// Counts one event of `kind` (and `sub_kind`) at `now_ms` (ms since the epoch).
    pub(crate) fn push(&self, kind: &'static str, sub_kind: Option<&'static str>, now_ms: i64) {
        let second = now_ms - now_ms.rem_euclid(1000);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (second, kind, sub_kind);
        if let Some(n) = counts.get_mut(&key) {
            *n += 1;
        } else if counts.len() < Self::MAX_KEYS {
            counts.insert(key, 1);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts since the last call, as the UI reads them; empties the buffer.
    pub(crate) fn take(&self) -> Value {
        let counts =
            std::mem::take(&mut *self.counts.lock().unwrap_or_else(PoisonError::into_inner));
        Value::Array(
            counts
                .into_iter()
                .map(|((timestamp, kind, sub_kind), count)| {
                    let mut entry = vec![
                        ("timestamp".to_owned(), Value::from(timestamp)),
                        ("type".to_owned(), Value::from(kind)),
                    ];
                    if let Some(sub) = sub_kind {
                        entry.push(("subType".to_owned(), Value::from(sub)));
                    }
                    entry.push(("count".to_owned(), Value::from(count)));
                    Value::Map(entry)
                })
                .collect(),
        )
    }

    /// Events not counted because the buffer was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One server's report.
#[derive(Debug)]
pub(crate) struct ServerStats<'a> {
    pub(crate) server_id: &'a str,
    pub(crate) hostname: &'a str,
    pub(crate) pid: u32,
    pub(crate) uptime: Duration,
    pub(crate) clients: usize,
    pub(crate) polling_clients: usize,
    /// Each namespace's name and local socket count.
    pub(crate) namespaces: Vec<(String, usize)>,
}

impl ServerStats<'_> {
    /// The report with `events` (from [`EventBuffer::take`]), keys in Node's order.
    pub(crate) fn to_value(&self, events: Value) -> Value {
        Value::map([
            ("serverId", Value::from(self.server_id)),
            ("hostname", Value::from(self.hostname)),
            ("pid", Value::from(u64::from(self.pid))),
            ("uptime", Value::Float(self.uptime.as_secs_f64())),
            ("clientsCount", Value::from(self.clients)),
            ("pollingClientsCount", Value::from(self.polling_clients)),
            ("aggregatedEvents", events),
            (
                "namespaces",
                Value::Array(
                    self.namespaces
                        .iter()
                        .map(|(name, n)| {
                            Value::map([
                                ("name", Value::from(name.as_str())),
                                ("socketsCount", Value::from(*n)),
                            ])
                        })
                        .collect(),
                ),
            ),
        ])
    }
}

/// The machine's host name (as Node's `os.hostname()`), empty when unknown.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_per_second_and_a_report_empties_the_buffer() {
        let buffer = EventBuffer::default();
        buffer.push("rawConnection", None, 1_000_100);
        buffer.push("rawConnection", None, 1_000_900);
        buffer.push("rawConnection", None, 1_001_000);
        buffer.push("rawDisconnection", Some("transport close"), 1_001_500);
        let report = buffer.take();
        let Value::Array(entries) = report else {
            panic!("not an array: {report:?}");
        };
        let summary: Vec<(i64, &str, Option<&str>, i64)> = entries
            .iter()
            .map(|e| {
                let int = |k: &str| match e.get(k) {
                    Some(Value::Int(n)) => *n,
                    Some(Value::UInt(n)) => i64::try_from(*n).unwrap_or(-1),
                    _ => -1,
                };
                (
                    int("timestamp"),
                    e.get("type").and_then(Value::as_str).unwrap_or(""),
                    e.get("subType").and_then(Value::as_str),
                    int("count"),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (1_000_000, "rawConnection", None, 2),
                (1_001_000, "rawConnection", None, 1),
                (1_001_000, "rawDisconnection", Some("transport close"), 1),
            ]
        );
        assert_eq!(buffer.take(), Value::Array(Vec::new()));
    }

    #[test]
    fn the_buffer_is_bounded_when_no_report_takes_it() {
        let buffer = EventBuffer::default();
        let seconds = EventBuffer::MAX_KEYS as i64 + 10;
        for s in 0..seconds {
            buffer.push("rawConnection", None, s * 1000);
        }
        assert_eq!(buffer.dropped(), 10);
        let Value::Array(entries) = buffer.take() else {
            panic!("not an array");
        };
        assert_eq!(entries.len(), EventBuffer::MAX_KEYS);
    }

    #[test]
    fn a_report_has_the_fields_the_ui_reads_in_nodes_order() {
        let stats = ServerStats {
            server_id: "rust-1",
            hostname: "box",
            pid: 42,
            uptime: Duration::from_millis(1500),
            clients: 3,
            polling_clients: 1,
            namespaces: vec![("/".into(), 2), ("/admin".into(), 1)],
        };
        let value = stats.to_value(Value::Array(Vec::new()));
        let Value::Map(fields) = &value else {
            panic!("not a map");
        };
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "serverId",
                "hostname",
                "pid",
                "uptime",
                "clientsCount",
                "pollingClientsCount",
                "aggregatedEvents",
                "namespaces"
            ]
        );
        assert_eq!(value.get("uptime"), Some(&Value::Float(1.5)));
        let first = match value.get("namespaces") {
            Some(Value::Array(n)) => n.first().cloned(),
            _ => None,
        };
        assert_eq!(
            first,
            Some(Value::map([
                ("name", Value::from("/")),
                ("socketsCount", Value::from(2_usize))
            ]))
        );
    }
}
