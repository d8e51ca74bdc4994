//! What the driver reports to its consumer, and the bounded queue that carries it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use redis::{Msg, PushInfo, PushKind};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::budget::{ByteBudget, Charged};

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
    /// Events (messages or state changes) dropped, for any reason: the sum of the
    /// `dropped_*` counters.
    pub dropped: u64,
    /// Events dropped because the event queue held
    /// [`event_capacity`](super::DriverConfig::event_capacity) events.
    pub dropped_queue_full: u64,
    /// Messages dropped because their payload would have passed
    /// [`event_capacity_bytes`](super::DriverConfig::event_capacity_bytes).
    pub dropped_queue_bytes: u64,
    /// Events dropped because the receiver of the event queue was gone.
    pub dropped_closed: u64,
    /// Payload bytes handed out and still alive now (a gauge, at most
    /// `event_capacity_bytes`).
    pub queued_bytes: u64,
    /// The most payload bytes alive at once since `connect` (at most `event_capacity_bytes`).
    pub queued_bytes_peak: u64,
}

/// The shared counters behind [`DriverStats`].
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) reconnects: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) publish_failures: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) dropped_queue_bytes: AtomicU64,
    pub(crate) dropped_closed: AtomicU64,
    /// The bound of the payload bytes handed out.
    pub(crate) bytes: Arc<ByteBudget>,
}

impl Counters {
    /// Zero counters, with a payload bound of `limit_bytes`.
    pub(crate) fn new(limit_bytes: usize) -> Self {
        Self {
            reconnects: AtomicU64::new(0),
            published: AtomicU64::new(0),
            publish_failures: AtomicU64::new(0),
            received: AtomicU64::new(0),
            dropped_queue_full: AtomicU64::new(0),
            dropped_queue_bytes: AtomicU64::new(0),
            dropped_closed: AtomicU64::new(0),
            bytes: ByteBudget::new(limit_bytes),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> DriverStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (full, bytes, closed) = (
            load(&self.dropped_queue_full),
            load(&self.dropped_queue_bytes),
            load(&self.dropped_closed),
        );
        DriverStats {
            reconnects: load(&self.reconnects),
            published: load(&self.published),
            publish_failures: load(&self.publish_failures),
            received: load(&self.received),
            dropped: full + bytes + closed,
            dropped_queue_full: full,
            dropped_queue_bytes: bytes,
            dropped_closed: closed,
            queued_bytes: self.bytes.used() as u64,
            queued_bytes_peak: self.bytes.peak() as u64,
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

    /// Queues `event`, or counts it as dropped (by reason).
    pub(crate) fn emit(&self, event: DriverEvent) {
        match self.tx.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => Counters::bump(&self.counters.dropped_queue_full),
            Err(TrySendError::Closed(_)) => Counters::bump(&self.counters.dropped_closed),
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
        // Checked before the copy: a message that does not fit costs nothing.
        if self.tx.is_closed() {
            Counters::bump(&self.counters.dropped_closed);
            return;
        }
        if self.tx.capacity() == 0 {
            Counters::bump(&self.counters.dropped_queue_full);
            return;
        }
        let raw = msg.get_payload_bytes();
        let Some(charge) = self.counters.bytes.try_charge(raw.len()) else {
            Counters::bump(&self.counters.dropped_queue_bytes);
            return;
        };
        self.emit(DriverEvent::Message {
            channel,
            pattern,
            payload: Charged::bytes(raw.to_vec(), charge),
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
