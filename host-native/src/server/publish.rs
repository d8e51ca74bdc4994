//! `--publish CHANNEL[:EVENT]`: client events out to a plain Redis channel, for the programs
//! that are not Socket.IO servers (workers, bots, analytics).
//!
//! Contract:
//! - Every client event named EVENT (default `chat message`) is PUBLISHed (SPUBLISH with
//!   `--adapter sharded`) on CHANNEL once, by the server the client is connected to: a string
//!   argument as it is, anything else as JSON.
//! - A payload that JSON cannot carry (binary, NaN or infinite numbers, extension types) or
//!   that is over `--publish-max-bytes` is not published; it is counted by reason in
//!   `/metrics` (`crosscast_publish_dropped_total{reason}`), and the client's own delivery is
//!   unaffected.
//! - Publishing never holds up the chat: it runs beside the client's handler, at most
//!   [`MAX_IN_FLIGHT`] at a time (beyond that: dropped, reason `busy`); while Redis is
//!   down it fails at once (reason `redis`).
//!
//! No echo when a channel is also a `--bridge` channel. Then the channel is the event's path
//! through the cluster: the `chat message` of a client is not broadcast through the adapter
//! as well, or every client would get it twice (once from the adapter, once from the bridge of
//! its server). Its server delivers it to its own clients at once, in the form the bridge
//! gives a Redis message (a string), and publishes it; every other server's bridge delivers
//! it to theirs. The one copy that would come back, the server's own, is recognised by its
//! bytes in an [`Echoes`] book filled before the PUBLISH is sent and skipped once. The book
//! holds at most [`MAX_ECHOES`] entries, each for at most [`ECHO_TTL`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmpv::Value as Msg;
use tracing::warn;

use crate::driver::Driver;

use super::cli::Publish;

/// Publishes in flight at most; a client event beyond that is not published (`busy`).
pub(crate) const MAX_IN_FLIGHT: usize = 1024;
/// Own messages awaited back from a bridged channel at most.
pub(crate) const MAX_ECHOES: usize = 4096;
/// How long an own message is awaited back.
pub(crate) const ECHO_TTL: Duration = Duration::from_secs(10);

/// Why a client event was not published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// JSON cannot carry the value.
    Unencodable,
    /// The payload is over `--publish-max-bytes`.
    TooLarge,
    /// [`MAX_IN_FLIGHT`] publishes were in flight.
    Busy,
    /// Redis refused it, timed out, or is not connected.
    Redis,
}

impl DropReason {
    /// Every reason, in `/metrics` order.
    pub(crate) const ALL: [DropReason; 4] = [
        DropReason::Unencodable,
        DropReason::TooLarge,
        DropReason::Busy,
        DropReason::Redis,
    ];

    /// The `reason` label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            DropReason::Unencodable => "unencodable",
            DropReason::TooLarge => "too_large",
            DropReason::Busy => "busy",
            DropReason::Redis => "redis",
        }
    }
}

/// The counters of `--publish`.
#[derive(Debug, Default)]
pub(crate) struct PublishStats {
    published: AtomicU64,
    dropped: [AtomicU64; 4],
    echoes_skipped: AtomicU64,
}

impl PublishStats {
    /// Messages Redis accepted.
    pub(crate) fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Client events not published for `reason`.
    pub(crate) fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize].load(Ordering::Relaxed)
    }

    /// Own messages that came back on a bridged channel and were not delivered again.
    pub(crate) fn echoes_skipped(&self) -> u64 {
        self.echoes_skipped.load(Ordering::Relaxed)
    }

    fn drop_for(&self, reason: DropReason) {
        self.dropped[reason as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// The own messages awaited back, per channel, oldest first.
#[derive(Debug, Default)]
struct Echoes {
    by_channel: HashMap<String, VecDeque<(Instant, Vec<u8>)>>,
    len: usize,
}

impl Echoes {
    /// Awaits `payload` back on `channel`; false (nothing recorded) when the book is full.
    fn expect(&mut self, now: Instant, channel: &str, payload: &[u8]) -> bool {
        self.expire(now);
        if self.len >= MAX_ECHOES {
            return false;
        }
        self.by_channel
            .entry(channel.to_owned())
            .or_default()
            .push_back((now + ECHO_TTL, payload.to_vec()));
        self.len += 1;
        true
    }

    /// Stops awaiting one `payload` on `channel`; true when it was awaited.
    fn take(&mut self, now: Instant, channel: &str, payload: &[u8]) -> bool {
        self.expire(now);
        let Some(queue) = self.by_channel.get_mut(channel) else {
            return false;
        };
        let Some(at) = queue.iter().position(|(_, p)| p == payload) else {
            return false;
        };
        queue.remove(at);
        self.len -= 1;
        true
    }

    fn expire(&mut self, now: Instant) {
        for queue in self.by_channel.values_mut() {
            while queue.front().is_some_and(|(deadline, _)| *deadline <= now) {
                queue.pop_front();
                self.len -= 1;
            }
        }
        self.by_channel.retain(|_, queue| !queue.is_empty());
    }
}

/// What the chat handler of an event does besides publishing it.
#[derive(Debug)]
pub(crate) enum Route<'a> {
    /// Deliver it as usual (through the adapter).
    Adapter,
    /// The channel is bridged as `event`: deliver `data` to the local clients only, as that
    /// event; the bridges of the other servers deliver it to theirs.
    Bridged {
        /// The event name the bridge uses.
        event: &'a str,
        /// The data as the bridge delivers it.
        data: Msg,
    },
}

/// `--publish`: the routes, the app's own Redis connection and the counters.
#[derive(Debug)]
pub(crate) struct Publisher {
    routes: Vec<Publish>,
    /// `(channel, event)` of every `--bridge`.
    bridged: Vec<(String, String)>,
    max_bytes: usize,
    driver: Option<Driver>,
    in_flight: AtomicUsize,
    echoes: Mutex<Echoes>,
    stats: PublishStats,
}

impl Publisher {
    /// The publisher of `routes` on `driver` (`None` without Redis, then `routes` is empty);
    /// `bridged` are the `(channel, event)` pairs of `--bridge`.
    pub(crate) fn new(
        routes: Vec<Publish>,
        bridged: Vec<(String, String)>,
        max_bytes: usize,
        driver: Option<Driver>,
    ) -> Self {
        Self {
            routes,
            bridged,
            max_bytes,
            driver,
            in_flight: AtomicUsize::new(0),
            echoes: Mutex::new(Echoes::default()),
            stats: PublishStats::default(),
        }
    }

    /// The counters.
    pub(crate) fn stats(&self) -> &PublishStats {
        &self.stats
    }

    /// Publishes in flight now (shutdown waits for none).
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The client events that are published, each once.
    pub(crate) fn events(&self) -> Vec<String> {
        let mut events: Vec<String> = self.routes.iter().map(|r| r.event.clone()).collect();
        events.sort();
        events.dedup();
        events
    }

    /// Publishes the client event `event` with `data` on every channel that takes it, beside
    /// the caller (never waits for Redis), and says how the caller delivers it to the
    /// clients. Only a caller that broadcasts the event to every client (`broadcasts`: the
    /// chat's `chat message`) is ever told [`Route::Bridged`]. Must be called inside the
    /// tokio runtime.
    pub(crate) fn publish(
        self: &Arc<Self>,
        event: &str,
        data: &Msg,
        broadcasts: bool,
    ) -> Route<'_> {
        let mut route = Route::Adapter;
        let routes: Vec<&Publish> = self.routes.iter().filter(|r| r.event == event).collect();
        if routes.is_empty() {
            return route;
        }
        let payload = match payload(data) {
            Some(payload) => payload,
            None => {
                for _ in &routes {
                    self.stats.drop_for(DropReason::Unencodable);
                }
                return route;
            }
        };
        if payload.len() > self.max_bytes {
            for _ in &routes {
                self.stats.drop_for(DropReason::TooLarge);
            }
            return route;
        }
        for publish in routes {
            let bridge_event = self
                .bridged
                .iter()
                .find(|(channel, _)| *channel == publish.channel)
                .map(|(_, event)| event.as_str());
            let echo = match bridge_event {
                Some(bridge_event) if broadcasts && matches!(route, Route::Adapter) => {
                    route = Route::Bridged {
                        event: bridge_event,
                        data: bridged_form(&payload),
                    };
                    true
                }
                _ => false,
            };
            self.send(publish.channel.clone(), payload.clone(), echo);
        }
        route
    }

    /// Whether a message of a bridged `channel` is this server's own, already delivered to
    /// its clients: true once per own message.
    pub(crate) fn take_echo(&self, channel: &str, payload: &[u8]) -> bool {
        if self.routes.is_empty() {
            return false;
        }
        let taken = self
            .echoes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(Instant::now(), channel, payload);
        if taken {
            self.stats.echoes_skipped.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    fn send(self: &Arc<Self>, channel: String, payload: Vec<u8>, echo: bool) {
        let Some(driver) = self.driver.clone() else {
            self.stats.drop_for(DropReason::Redis);
            return;
        };
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.stats.drop_for(DropReason::Busy);
            return;
        }
        // Awaited before it is sent: the subscriber connection may see it before the
        // publisher's answer.
        let echo = echo
            && self
                .echoes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .expect(Instant::now(), &channel, &payload);
        let publisher = Arc::clone(self);
        tokio::spawn(async move {
            let result = driver.publish(&channel, payload.clone()).await;
            publisher.in_flight.fetch_sub(1, Ordering::AcqRel);
            match result {
                Ok(()) => {
                    publisher.stats.published.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    publisher.stats.drop_for(DropReason::Redis);
                    if echo {
                        publisher
                            .echoes
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .take(Instant::now(), &channel, &payload);
                    }
                    warn!(%channel, "publish failed: {e}");
                }
            }
        });
    }
}

/// The payload of a client value: a string as it is, anything else as JSON; `None` when JSON
/// cannot carry it.
pub(crate) fn payload(data: &Msg) -> Option<Vec<u8>> {
    match data {
        Msg::String(s) => s.as_str().map(|s| s.as_bytes().to_vec()),
        other => serde_json::to_vec(&json(other)?).ok(),
    }
}

/// A Redis message as the bridge delivers it: a string when it is UTF-8, else binary.
pub(crate) fn bridged_form(payload: &[u8]) -> Msg {
    match std::str::from_utf8(payload) {
        Ok(text) => Msg::from(text),
        Err(_) => Msg::Binary(payload.to_vec()),
    }
}

fn json(value: &Msg) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    Some(match value {
        Msg::Nil => J::Null,
        Msg::Boolean(b) => J::Bool(*b),
        Msg::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(i), _) => J::from(i),
            (None, Some(u)) => J::from(u),
            (None, None) => return None,
        },
        Msg::F32(f) => J::Number(serde_json::Number::from_f64(f64::from(*f))?),
        Msg::F64(f) => J::Number(serde_json::Number::from_f64(*f)?),
        Msg::String(s) => J::String(s.as_str()?.to_owned()),
        Msg::Array(items) => J::Array(items.iter().map(json).collect::<Option<_>>()?),
        Msg::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (k, v) in entries {
                let key = match k {
                    Msg::String(s) => s.as_str()?.to_owned(),
                    Msg::Integer(i) => i.to_string(),
                    _ => return None,
                };
                map.insert(key, json(v)?);
            }
            J::Object(map)
        }
        Msg::Binary(_) | Msg::Ext(..) => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strings_go_as_they_are_and_other_values_as_json_in_the_clients_key_order() {
        assert_eq!(payload(&Msg::from("hi")).unwrap(), b"hi");
        let object = Msg::Map(vec![
            (Msg::from("z"), Msg::from(1)),
            (Msg::from("a"), Msg::Array(vec![Msg::Nil, Msg::from(true)])),
        ]);
        assert_eq!(payload(&object).unwrap(), br#"{"z":1,"a":[null,true]}"#);
        assert_eq!(payload(&Msg::from(2.5)).unwrap(), b"2.5");
    }

    #[test]
    fn values_json_cannot_carry_are_refused() {
        for value in [
            Msg::Binary(vec![1, 2]),
            Msg::F64(f64::NAN),
            Msg::F64(f64::INFINITY),
            Msg::Ext(1, vec![0]),
            Msg::Array(vec![Msg::from("ok"), Msg::Binary(vec![0])]),
            Msg::Map(vec![(Msg::Boolean(true), Msg::from(1))]),
        ] {
            assert_eq!(payload(&value), None, "{value:?}");
        }
    }

    #[test]
    fn an_unencodable_event_is_counted_and_not_published() {
        let publisher = Arc::new(Publisher::new(
            vec![Publish {
                channel: "chat".into(),
                event: "chat message".into(),
            }],
            Vec::new(),
            1024,
            None,
        ));
        let route = publisher.publish("chat message", &Msg::Binary(vec![0]), true);
        assert!(matches!(route, Route::Adapter));
        assert_eq!(publisher.stats().dropped(DropReason::Unencodable), 1);
        assert_eq!(publisher.stats().published(), 0);
    }

    #[test]
    fn the_echo_book_is_bounded_and_forgets_after_its_ttl() {
        let mut book = Echoes::default();
        let now = Instant::now();
        for i in 0..MAX_ECHOES {
            assert!(book.expect(now, "chat", i.to_string().as_bytes()));
        }
        assert!(!book.expect(now, "chat", b"one more"), "full");
        assert!(book.take(now, "chat", b"7"));
        assert!(!book.take(now, "chat", b"7"), "taken once");
        assert!(!book.take(now, "other", b"8"), "per channel");
        assert!(!book.take(now + ECHO_TTL, "chat", b"8"), "expired");
        assert_eq!(book.len, 0);
        assert!(book.by_channel.is_empty());
    }
}
