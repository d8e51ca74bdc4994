//! What one client may do: the limits of `crosscast serve` and their enforcement.
//!
//! - Connections: at most `--max-connections` sockets; one more gets `connect_error` with
//!   "too many connections" (a middleware), or, when it raced another one past the check, is
//!   disconnected right after connecting. Each refusal counts `reason="connections"`.
//! - Payload: Engine.IO's own limits, set from `--max-payload`: a WebSocket message (and
//!   frame), an HTTP long-polling request body, and the binary attachments of one packet
//!   together. Over it the connection is closed (polling answers 413). socketioxide does not
//!   tell the app why a WebSocket closed, so [`PayloadWatch`] counts the closes engineioxide
//!   logs as `MessageTooLong` (`reason="payload"`), [`count_polling_refusals`] the 413s, and
//!   a socket closed on a parse error counts `reason="packet"`.
//! - Events: every client event the app handles passes [`Guarded`], a token bucket per socket
//!   (`--max-events-per-second`, `--events-burst`), checked before the event is parsed or a
//!   task is spawned for it, so a flooding socket costs little and never delays the others.
//!   An event over the rate is dropped (`{error}` to its ack, `reason="rate"`). Refusals have
//!   their own bucket of the same rate and burst: a socket that empties it too (it sends more
//!   than twice the rate for as long as a burst lasts) is disconnected (`reason="flood"`).
//! - Requests: `who` and `x:sse` start cluster-wide requests; at most
//!   `--max-requests-per-socket` per socket are in flight ([`SocketLimits::request`]).
//! - Rooms: `join` refuses room names no client may join ([`room_refusal`]) and a room over
//!   `--max-rooms-per-socket`.
//!
//! Per-socket state lives in the socket's handlers (an `Arc` they share) and goes with them:
//! no table grows with the number of sockets.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Data, Event};
use socketioxide::handler::{FromMessageParts, MessageHandler, Value};
use socketioxide::socket::Socket;

use super::admin::Admin;
use super::cli::ServeConfig;
use super::metrics::{Metrics, Refusal};
use crate::adapter::convert::Gathered;

/// The longest room name a client may join, in bytes.
pub(crate) const MAX_ROOM_NAME_BYTES: usize = 256;

/// Room names no client may join besides id-shaped ones and the empty name: the names
/// Socket.IO reserves for server-side events (the core's list).
const RESERVED_ROOMS: [&str; 8] = crosscast_core::event_name::SERVER_SIDE_RESERVED_EVENTS;

/// The limits of the configuration, shared by every socket.
#[derive(Debug)]
pub(crate) struct Limits {
    /// `--max-connections`.
    pub(crate) max_connections: usize,
    /// `--max-events-per-second`.
    pub(crate) events_per_second: f64,
    /// `--events-burst`.
    pub(crate) events_burst: f64,
    /// `--max-requests-per-socket`.
    pub(crate) max_requests: usize,
    /// `--max-rooms-per-socket`.
    pub(crate) max_rooms: usize,
    /// `--client-sse`: the server-side events `x:sse` may send.
    pub(crate) client_sse: Vec<String>,
    /// Sockets admitted now.
    admitted: AtomicUsize,
    metrics: Arc<Metrics>,
    /// Client event handlers run inside it; it closes when the server stops (`shutdown`).
    pub(crate) gate: Arc<super::shutdown::Gate>,
}

impl Limits {
    /// The limits of `config`, counting refusals in `metrics`.
    pub(crate) fn new(config: &ServeConfig, metrics: Arc<Metrics>) -> Self {
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Self {
            max_connections: count(config.max_connections),
            events_per_second: config.max_events_per_second as f64,
            events_burst: config.events_burst as f64,
            max_requests: count(config.max_requests_per_socket),
            max_rooms: count(config.max_rooms_per_socket),
            client_sse: config.client_sse.clone(),
            admitted: AtomicUsize::new(0),
            metrics,
            gate: Arc::default(),
        }
    }

    /// Counts a refusal.
    pub(crate) fn refused(&self, reason: Refusal) {
        self.metrics.refused(reason);
    }

    /// Whether another connection would be admitted now (the connect middleware's check;
    /// [`Limits::admit`] decides).
    pub(crate) fn has_room_for_a_connection(&self) -> bool {
        self.admitted.load(Ordering::Relaxed) < self.max_connections
    }

    /// Admits one more socket, or `None` at `--max-connections`. The socket leaves with the
    /// [`Admission`] (dropped by its disconnect handler).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Admission> {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_connections).then_some(n + 1)
            })
            .ok()
            .map(|_| Admission(Arc::clone(self)))
    }

    /// The state of a socket that just connected; with `admin`, the events it handles are
    /// reported to the Admin UI.
    pub(crate) fn socket(self: &Arc<Self>, admin: Option<Arc<Admin>>) -> Arc<SocketLimits> {
        let now = Instant::now();
        Arc::new(SocketLimits {
            limits: Arc::clone(self),
            buckets: Mutex::new(Buckets {
                events: Bucket::full(self.events_burst, now),
                refusals: Bucket::full(self.events_burst, now),
                flooded: false,
            }),
            requests: AtomicUsize::new(0),
            rooms: Mutex::new(()),
            admin,
        })
    }

    /// Whether `x:sse` may send `event`.
    pub(crate) fn client_may_send(&self, event: &str) -> bool {
        self.client_sse.iter().any(|e| e == event)
    }
}

/// One admitted socket; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Admission(Arc<Limits>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Self {
            tokens: burst,
            at: now,
        }
    }

    fn take(&mut self, now: Instant, rate: f64, burst: f64) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct Buckets {
    events: Bucket,
    refusals: Bucket,
    flooded: bool,
}

/// What happens to one client event.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Handle,
    Refuse,
    Disconnect,
    /// Already disconnected for flooding: dropped silently.
    Drop,
}

/// The limits of one socket, shared by its handlers.
#[derive(Debug)]
pub(crate) struct SocketLimits {
    limits: Arc<Limits>,
    buckets: Mutex<Buckets>,
    requests: AtomicUsize,
    rooms: Mutex<()>,
    /// With `--admin`: told of every event handled (the UI's `event_received`).
    admin: Option<Arc<Admin>>,
}

impl SocketLimits {
    /// The shared limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    fn verdict(&self, now: Instant) -> Verdict {
        let (rate, burst) = (self.limits.events_per_second, self.limits.events_burst);
        let mut b = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if b.flooded {
            return Verdict::Drop;
        }
        if b.events.take(now, rate, burst) {
            return Verdict::Handle;
        }
        if b.refusals.take(now, rate, burst) {
            return Verdict::Refuse;
        }
        b.flooded = true;
        Verdict::Disconnect
    }

    /// A cluster request slot, or `None` (counted) when `--max-requests-per-socket` are in
    /// flight. The slot is freed when the permit drops.
    pub(crate) fn request(self: &Arc<Self>) -> Option<RequestPermit> {
        let max = self.limits.max_requests;
        let taken = self
            .requests
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            self.limits.refused(Refusal::Requests);
            return None;
        }
        Some(RequestPermit(Arc::clone(self)))
    }

    /// Runs `join` unless `rooms_now` (the socket's rooms besides its id room) are at
    /// `--max-rooms-per-socket` already and `room` is not one of them. Serialised per socket,
    /// so concurrent joins cannot pass the bound together.
    pub(crate) fn join_bounded(
        &self,
        room: &str,
        rooms_now: impl FnOnce() -> Vec<String>,
        join: impl FnOnce(),
    ) -> Result<(), RoomRefusal> {
        let _serial = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let rooms = rooms_now();
        if rooms.len() >= self.limits.max_rooms && !rooms.iter().any(|r| r == room) {
            self.limits.refused(Refusal::Rooms);
            return Err(RoomRefusal::TooMany(self.limits.max_rooms));
        }
        join();
        Ok(())
    }
}

/// A cluster request in flight of one socket.
#[derive(Debug)]
pub(crate) struct RequestPermit(Arc<SocketLimits>);

impl Drop for RequestPermit {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a `join` was refused; its text is the ack's `error`.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum RoomRefusal {
    /// A name with the shape of a Socket.IO socket id, or the id of a socket.
    SocketId,
    /// A reserved name.
    Reserved,
    /// Longer than [`MAX_ROOM_NAME_BYTES`].
    TooLong,
    /// Over `--max-rooms-per-socket` (the bound).
    TooMany(usize),
}

impl fmt::Display for RoomRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoomRefusal::SocketId => write!(f, "a socket id room cannot be joined"),
            RoomRefusal::Reserved => write!(f, "a reserved room name"),
            RoomRefusal::TooLong => {
                write!(f, "a room name is at most {MAX_ROOM_NAME_BYTES} bytes")
            }
            RoomRefusal::TooMany(n) => write!(f, "a socket joins at most {n} rooms"),
        }
    }
}

/// Whether `room` has the shape of a Socket.IO socket id: 20 characters (Node's ids) or 16
/// (socketioxide's) of `[A-Za-z0-9_-]`.
pub(crate) fn is_socket_id_shaped(room: &str) -> bool {
    matches!(room.len(), 16 | 20)
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Why a client may not join or leave `room`, if it may not: an id-shaped name or the id of
/// a socket of this server (`is_local_socket`), a reserved name, a name over
/// [`MAX_ROOM_NAME_BYTES`].
pub(crate) fn room_refusal(
    room: &str,
    is_local_socket: impl FnOnce(&str) -> bool,
) -> Option<RoomRefusal> {
    if room.len() > MAX_ROOM_NAME_BYTES {
        return Some(RoomRefusal::TooLong);
    }
    if room.is_empty() || RESERVED_ROOMS.contains(&room) {
        return Some(RoomRefusal::Reserved);
    }
    if is_socket_id_shaped(room) || is_local_socket(room) {
        return Some(RoomRefusal::SocketId);
    }
    None
}

/// A message handler behind the socket's event bucket: over the rate the event is refused
/// (its ack gets `{error}`) before it is parsed; a flooding socket is disconnected.
#[derive(Debug, Clone)]
pub(crate) struct Guarded<H> {
    socket: Arc<SocketLimits>,
    handler: H,
}

/// `handler` behind the limits of `socket`.
pub(crate) fn guarded<H>(socket: &Arc<SocketLimits>, handler: H) -> Guarded<H> {
    Guarded {
        socket: Arc::clone(socket),
        handler,
    }
}

/// The marker of [`Guarded`]'s [`MessageHandler`] implementation.
#[derive(Debug)]
pub(crate) struct ViaGuard<T>(std::marker::PhantomData<T>);

impl<A, T, H> MessageHandler<A, ViaGuard<T>> for Guarded<H>
where
    A: Adapter,
    H: MessageHandler<A, T>,
    T: Send + Sync + 'static,
{
    fn call(&self, s: Arc<Socket<A>>, mut v: Value, ack_id: Option<i64>) {
        match self.socket.verdict(Instant::now()) {
            Verdict::Handle => {
                if let Some(admin) = self.socket.admin.as_ref().filter(|a| a.development()) {
                    // The event's name and arguments, read from a copy: the handler reads
                    // the original.
                    let mut copy = v.clone();
                    let event = Event::from_message_parts(&s, &mut copy, &ack_id);
                    let args = Data::<Gathered>::from_message_parts(&s, &mut copy, &ack_id);
                    if let (Ok(Event(event)), Ok(Data(Gathered(args)))) = (event, args) {
                        admin.event_received(s.ns(), &s.id.to_string(), event, args);
                    }
                }
                self.handler.call(s, v, ack_id)
            }
            Verdict::Refuse => {
                self.socket.limits.refused(Refusal::Rate);
                if ack_id.is_some() {
                    let Ok(ack) = AckSender::<A>::from_message_parts(&s, &mut v, &ack_id);
                    let error = format!(
                        "rate limit: at most {} events per second",
                        self.socket.limits.events_per_second
                    );
                    let _ = ack.send(&serde_json::json!({ "error": error }));
                }
            }
            Verdict::Disconnect => {
                self.socket.limits.refused(Refusal::Rate);
                self.socket.limits.refused(Refusal::Flood);
                tracing::info!(sid = %s.id, "disconnecting a socket that floods events");
                let _ = s.disconnect();
            }
            Verdict::Drop => self.socket.limits.refused(Refusal::Rate),
        }
    }
}

/// The tracing target of engineioxide's WebSocket transport, whose debug event
/// "error when handling packet: WsTransport(Capacity(MessageTooLong { .. }))" is the only
/// sign of a message over the limit.
pub(crate) const WS_TRANSPORT_TARGET: &str = "engineioxide::transport::ws";

/// A tracing layer (for [`WS_TRANSPORT_TARGET`] at debug level) that counts the WebSocket
/// connections engineioxide closed for a message over `--max-payload`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PayloadWatch;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PayloadWatch {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut seen = TooLong(false);
        event.record(&mut seen);
        if seen.0 {
            super::metrics::count_websocket_payload_refusal();
        }
    }
}

struct TooLong(bool);

impl tracing::field::Visit for TooLong {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" && format!("{value:?}").contains("MessageTooLong") {
            self.0 = true;
        }
    }
}

/// An axum middleware that counts the Engine.IO long-polling requests refused as over
/// `--max-payload` (engineioxide answers them 413).
pub(crate) async fn count_polling_refusals(
    axum::extract::State(metrics): axum::extract::State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        metrics.refused(Refusal::Payload);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn socket_id_shapes() {
        assert!(is_socket_id_shaped("abcdefghijklmnop"));
        assert!(is_socket_id_shaped("AbC_-0123456789xyzAB"));
        assert!(!is_socket_id_shaped("abcdefghijklmno"));
        assert!(!is_socket_id_shaped("abcdefghijklmnopq"));
        assert!(!is_socket_id_shaped("abcdefghijklmno!"));
        assert!(!is_socket_id_shaped("lobby"));
    }

    #[test]
    fn room_rules() {
        let never = |_: &str| false;
        assert_eq!(room_refusal("lobby", never), None);
        assert_eq!(room_refusal("connect", never), Some(RoomRefusal::Reserved));
        assert_eq!(room_refusal("", never), Some(RoomRefusal::Reserved));
        assert_eq!(
            room_refusal(&"x".repeat(MAX_ROOM_NAME_BYTES + 1), never),
            Some(RoomRefusal::TooLong)
        );
        assert_eq!(
            room_refusal("x".repeat(MAX_ROOM_NAME_BYTES).as_str(), never),
            None
        );
        assert_eq!(
            room_refusal("abcdefghijklmnop", never),
            Some(RoomRefusal::SocketId)
        );
        assert_eq!(
            room_refusal("odd id", |r| r == "odd id"),
            Some(RoomRefusal::SocketId)
        );
    }

    fn limits(rate: u64, burst: u64) -> Arc<Limits> {
        use clap::Parser as _;
        let cli = super::super::cli::Cli::try_parse_from([
            "crosscast",
            "serve",
            "--max-events-per-second",
            &rate.to_string(),
            "--events-burst",
            &burst.to_string(),
            "--max-requests-per-socket",
            "2",
            "--max-connections",
            "2",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let super::super::cli::Command::Serve(config) = cli.command else {
            panic!("not serve");
        };
        Arc::new(Limits::new(&config, Arc::new(Metrics::default())))
    }

    #[test]
    fn a_flooding_socket_gets_its_burst_then_refusals_then_a_disconnect() {
        let limits = limits(1, 3);
        let socket = limits.socket(None);
        let now = Instant::now();
        let verdicts: Vec<Verdict> = (0..8).map(|_| socket.verdict(now)).collect();
        use Verdict::*;
        assert_eq!(
            verdicts,
            [
                Handle, Handle, Handle, Refuse, Refuse, Refuse, Disconnect, Drop
            ]
        );
        // Another socket has its own buckets.
        assert_eq!(limits.socket(None).verdict(now), Handle);
    }

    #[test]
    fn requests_in_flight_and_admissions_are_bounded_and_freed() {
        let limits = limits(1, 1);
        let socket = limits.socket(None);
        let (a, b) = (socket.request(), socket.request());
        assert!(a.is_some() && b.is_some());
        assert!(socket.request().is_none());
        drop(a);
        assert!(socket.request().is_some());
        assert_eq!(limits.metrics.refusals(Refusal::Requests), 1);

        let first = limits.admit();
        let second = limits.admit();
        assert!(first.is_some() && second.is_some());
        assert!(!limits.has_room_for_a_connection());
        assert!(limits.admit().is_none());
        drop(second);
        assert!(limits.has_room_for_a_connection());
        assert!(limits.admit().is_some());
    }

    #[test]
    fn a_bucket_holds_its_burst_and_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::full(3.0, t0);
        assert!((0..3).all(|_| b.take(t0, 10.0, 3.0)));
        assert!(!b.take(t0, 10.0, 3.0));
        // 100 ms at 10 per second: one more token.
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.take(t1, 10.0, 3.0));
        assert!(!b.take(t1, 10.0, 3.0));
        // Never more than the burst, however long it rests.
        let t2 = t1 + Duration::from_secs(3600);
        assert!((0..3).all(|_| b.take(t2, 10.0, 3.0)));
        assert!(!b.take(t2, 10.0, 3.0));
    }
}
