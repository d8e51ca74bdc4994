//! What the driver reports to its consumer, and the bounded queue that carries it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use redis::{Msg, PushInfo, PushKind};
use tokio::sync::mpsc;

/// An event of a [`Driver`](super::Driver), in the order it happened.
///
/// Sequence: `Connected` once after [`Driver::connect`](super::Driver::connect); then, each
/// time the link to Redis is lost, `Disconnected`, and once it is back `Connected` followed by
/// `Resubscribed` when every wanted channel and pattern is subscribed again. Messages
/// published while the driver was disconnected are lost (Redis pub/sub keeps nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DriverEvent {
    /// A pub/sub message. `pattern` is the matching pattern for a `PSUBSCRIBE`.
    /// Channel and pattern are decoded as UTF-8, lossily (Node does the same).
    Message {
        /// The channel the message was published on.
        channel: String,
        /// The pattern that matched, for pattern subscriptions.
        pattern: Option<String>,
        /// The payload, byte for byte.
        payload: Bytes,
    },
    /// Both connections to Redis are up.
    Connected,
    /// The link to Redis was lost; the driver reconnects with backoff.
    Disconnected {
        /// Why, for logs.
        reason: String,
    },
    /// After a reconnect: every wanted subscription is active again.
    Resubscribed,
}

/// Counters of a [`Driver`](super::Driver), monotonic since `connect`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverStats {
    /// Successful reconnections (the first connection is not counted).
    pub reconnects: u64,
    /// Messages accepted by Redis through [`Driver::publish`](super::Driver::publish).
    pub published: u64,
    /// Publish calls that returned an error (including while disconnected).
    pub publish_failures: u64,
    /// Pub/sub messages received from Redis, delivered or not.
    pub received: u64,
    /// Events (messages or state changes) dropped because the event queue was full or its
    /// receiver was gone.
    pub dropped: u64,
}

/// The shared counters behind [`DriverStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) reconnects: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) publish_failures: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> DriverStats {
        DriverStats {
            reconnects: self.reconnects.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            publish_failures: self.publish_failures.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// The producing side of the event queue. Never blocks: an event that does not fit is
/// dropped and counted.
#[derive(Clone, Debug)]
pub(crate) struct EventSink {
    tx: mpsc::Sender<DriverEvent>,
    counters: Arc<Counters>,
}

impl EventSink {
    pub(crate) fn new(tx: mpsc::Sender<DriverEvent>, counters: Arc<Counters>) -> Self {
        Self { tx, counters }
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Queues `event`, or counts it as dropped.
    pub(crate) fn emit(&self, event: DriverEvent) {
        if self.tx.try_send(event).is_err() {
            Counters::bump(&self.counters.dropped);
        }
    }

    /// Queues a message received on a RESP2 subscriber connection.
    pub(crate) fn message(&self, msg: &Msg) {
        Counters::bump(&self.counters.received);
        let pattern = if msg.from_pattern() {
            msg.get_pattern::<Vec<u8>>()
                .ok()
                .map(|p| String::from_utf8_lossy(&p).into_owned())
        } else {
            None
        };
        let channel = msg
            .get_channel::<Vec<u8>>()
            .map(|c| String::from_utf8_lossy(&c).into_owned())
            .unwrap_or_default();
        self.emit(DriverEvent::Message {
            channel,
            pattern,
            payload: Bytes::copy_from_slice(msg.get_payload_bytes()),
        });
    }

    /// Handles a RESP3 push frame: forwards `message`, `pmessage` and `smessage`, ignores
    /// subscription confirmations. Returns `true` for the library's disconnection notice.
    pub(crate) fn push(&self, info: PushInfo) -> bool {
        match info.kind {
            PushKind::Disconnection => true,
            PushKind::Message | PushKind::PMessage | PushKind::SMessage => {
                if let Some(msg) = Msg::from_push_info(info) {
                    self.message(&msg);
                }
                false
            }
            _ => false,
        }
    }
}
