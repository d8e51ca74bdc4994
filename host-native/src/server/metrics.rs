//! The counters of the server and their Prometheus text exposition (`GET /metrics`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::adapter::SocketRecordStats;
use crate::driver::DriverStats;

use super::cluster::ClusterStats;
use super::publish::{DropReason, PublishStats};

/// Counters owned by the app (the cluster and the drivers keep their own).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    connected: AtomicI64,
    chat_messages: AtomicU64,
    bridge_messages: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
}

/// Why the server refused something a client did (`crosscast_client_refused_total{reason}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Refusal {
    /// A connection over --max-connections.
    Connections,
    /// A message over --max-payload (the connection is closed).
    Payload,
    /// A packet Socket.IO could not parse, or whose binary attachments together exceed
    /// --max-payload (the connection is closed).
    Packet,
    /// An event over --max-events-per-second.
    Rate,
    /// A socket disconnected because it kept sending over the rate.
    Flood,
    /// A cluster request over --max-requests-per-socket.
    Requests,
    /// A `join` of a room no client may join (an id room, a reserved or too long name).
    Room,
    /// A `join` over --max-rooms-per-socket.
    Rooms,
    /// An `x:sse` of an event that is not on the --client-sse allowlist.
    Sse,
}

impl Refusal {
    /// Every reason, in the order `/metrics` lists them.
    pub(crate) const ALL: [Refusal; 9] = [
        Refusal::Connections,
        Refusal::Payload,
        Refusal::Packet,
        Refusal::Rate,
        Refusal::Flood,
        Refusal::Requests,
        Refusal::Room,
        Refusal::Rooms,
        Refusal::Sse,
    ];

    /// The `reason` label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::Connections => "connections",
            Refusal::Payload => "payload",
            Refusal::Packet => "packet",
            Refusal::Rate => "rate",
            Refusal::Flood => "flood",
            Refusal::Requests => "requests",
            Refusal::Room => "room",
            Refusal::Rooms => "rooms",
            Refusal::Sse => "sse",
        }
    }

    fn index(self) -> usize {
        Refusal::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or_default()
    }
}

impl Metrics {
    /// A socket connected to this server.
    pub(crate) fn socket_connected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    /// A socket of this server disconnected.
    pub(crate) fn socket_disconnected(&self) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
    }

    /// A client of this server sent a `chat message` or a `room message`.
    pub(crate) fn chat_message(&self) {
        self.chat_messages.fetch_add(1, Ordering::Relaxed);
    }

    /// A bridged Redis message was emitted to the local clients.
    pub(crate) fn bridge_message(&self) {
        self.bridge_messages.fetch_add(1, Ordering::Relaxed);
    }

    /// The server refused something a client did, for `reason`.
    pub(crate) fn refused(&self, reason: Refusal) {
        self.refused[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// How many refusals for `reason` so far (for `payload`, with the WebSocket messages
    /// engineioxide refused, which only the process-wide tracing watch sees).
    pub(crate) fn refusals(&self, reason: Refusal) -> u64 {
        let own = self.refused[reason.index()].load(Ordering::Relaxed);
        match reason {
            Refusal::Payload => own + super::limits::websocket_payload_refusals(),
            _ => own,
        }
    }

    /// Sockets connected to this server now.
    pub(crate) fn connected(&self) -> i64 {
        self.connected.load(Ordering::Relaxed)
    }
}

/// Everything one scrape shows.
#[derive(Debug)]
pub(crate) struct Snapshot<'a> {
    /// The app's counters.
    pub(crate) app: &'a Metrics,
    /// The cluster's counters.
    pub(crate) cluster: ClusterStats,
    /// The bridge driver's counters, when Redis is configured.
    pub(crate) bridge: Option<DriverStats>,
    /// Whether Redis is reachable: `None` without Redis.
    pub(crate) redis_up: Option<bool>,
    /// The counters of `--publish`.
    pub(crate) publish: &'a PublishStats,
    /// The sockets' handshake records (what other servers' fetchSockets show).
    pub(crate) records: SocketRecordStats,
}

/// Renders `snapshot` in the Prometheus text format (version 0.0.4).
pub(crate) fn render(snapshot: &Snapshot<'_>) -> String {
    let mut out = String::new();
    let c = &snapshot.cluster;
    let app = snapshot.app;
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let connected = u64::try_from(app.connected()).unwrap_or(0);
    metric(
        "crosscast_connected_sockets",
        "gauge",
        "Socket.IO sockets connected to this server.",
        &[("", connected)],
    );
    metric(
        "crosscast_chat_messages_total",
        "counter",
        "chat and room messages sent by the clients of this server.",
        &[("", app.chat_messages.load(Ordering::Relaxed))],
    );
    metric(
        "crosscast_messages_published_total",
        "counter",
        "Cluster messages published to the other servers.",
        &[("", c.published)],
    );
    metric(
        "crosscast_messages_received_total",
        "counter",
        "Cluster messages received from the other servers.",
        &[("", c.received)],
    );
    metric(
        "crosscast_messages_dropped_total",
        "counter",
        "Cluster messages dropped before processing (full queue).",
        &[("", c.dropped)],
    );
    metric(
        "crosscast_decode_errors_total",
        "counter",
        "Cluster messages that could not be decoded.",
        &[("", c.decode_errors)],
    );
    metric(
        "crosscast_requests_total",
        "counter",
        "Requests to the other servers, by outcome.",
        &[
            ("{outcome=\"completed\"}", c.requests_completed),
            ("{outcome=\"timed_out\"}", c.requests_timed_out),
            ("{outcome=\"partial\"}", c.requests_partial),
        ],
    );
    metric(
        "crosscast_server_side_acks_pending",
        "gauge",
        "Server-side events of other servers waiting for this server's answer; each is freed when answered, when nobody will answer it, or after the requests timeout.",
        &[("", c.server_side_acks_pending)],
    );
    metric(
        "crosscast_server_side_acks_expired_total",
        "counter",
        "Server-side events of other servers that were never answered here and were freed by their timeout.",
        &[("", c.server_side_acks_expired)],
    );
    metric(
        "crosscast_remote_acks_pending",
        "gauge",
        "Broadcasts with acks of other servers whose client acks this server still relays.",
        &[("", c.remote_acks_pending)],
    );
    metric(
        "crosscast_peer_messages_dropped_total",
        "counter",
        "Messages of other servers dropped because the table they would fill was full, by table.",
        &[("{reason=\"table_full\"}", c.dropped_table_full)],
    );
    metric(
        "crosscast_operations_refused_total",
        "counter",
        "Operations of this server refused before they reached the cluster (a reserved server-side event name, or a value nested deeper than the cluster carries).",
        &[("", c.refused)],
    );
    let bridge = snapshot.bridge.unwrap_or_default();
    metric(
        "crosscast_redis_reconnects_total",
        "counter",
        "Reconnections to Redis, by connection.",
        &[
            ("{connection=\"cluster\"}", c.reconnects),
            ("{connection=\"bridge\"}", bridge.reconnects),
        ],
    );
    metric(
        "crosscast_bridge_messages_total",
        "counter",
        "Messages of --bridge channels emitted to the local clients.",
        &[("", app.bridge_messages.load(Ordering::Relaxed))],
    );
    metric(
        "crosscast_bridge_dropped_total",
        "counter",
        "Messages of --bridge channels dropped before processing (full queue).",
        &[("", bridge.dropped)],
    );
    let publish = snapshot.publish;
    metric(
        "crosscast_publish_messages_total",
        "counter",
        "Client events of --publish that Redis accepted on their plain channel.",
        &[("", publish.published())],
    );
    let labels = DropReason::ALL.map(|r| (format!("{{reason=\"{}\"}}", r.label()), r));
    let samples: Vec<(&str, u64)> = labels
        .iter()
        .map(|(label, r)| (label.as_str(), publish.dropped(*r)))
        .collect();
    metric(
        "crosscast_publish_dropped_total",
        "counter",
        "Client events of --publish not published, by reason (unencodable: JSON cannot carry \
         the value; too_large: over --publish-max-bytes; busy: too many publishes in flight; \
         redis: Redis refused it or was unreachable).",
        &samples,
    );
    metric(
        "crosscast_publish_echoes_skipped_total",
        "counter",
        "This server's own --publish messages that came back on a --bridge channel and were \
         not delivered a second time.",
        &[("", publish.echoes_skipped())],
    );
    let records = &snapshot.records;
    metric(
        "crosscast_socket_records",
        "gauge",
        "Sockets of this server whose handshake and data other servers' fetchSockets can \
         read; each is freed when its socket disconnects.",
        &[("", records.records)],
    );
    metric(
        "crosscast_socket_record_bytes",
        "gauge",
        "Estimated bytes of the socket records.",
        &[("", records.bytes)],
    );
    metric(
        "crosscast_socket_records_dropped_total",
        "counter",
        "Socket records not kept whole, by reason (full: the records were at their bound; \
         too_large: one record over its byte bound; too_deep: an auth, data or handshake \
         field nested too deep, kept as an empty object; swept: the record of a socket that \
         disconnected unnoticed).",
        &[
            ("{reason=\"full\"}", records.refused_full),
            ("{reason=\"too_large\"}", records.refused_too_large),
            ("{reason=\"too_deep\"}", records.emptied_too_deep),
            ("{reason=\"swept\"}", records.swept),
        ],
    );
    let labels = Refusal::ALL.map(|r| (format!("{{reason=\"{}\"}}", r.label()), r));
    let samples: Vec<(&str, u64)> = labels
        .iter()
        .map(|(label, r)| (label.as_str(), app.refusals(*r)))
        .collect();
    metric(
        "crosscast_client_refused_total",
        "counter",
        "What clients of this server were refused, by reason (connections: over \
         --max-connections; payload: a message over --max-payload, connection closed; packet: \
         an unparsable packet or binary attachments over --max-payload, connection closed; \
         rate: an event over --max-events-per-second; flood: a socket disconnected for \
         sending over the rate; requests: over --max-requests-per-socket; room: a join of an \
         id room or a reserved name; rooms: over --max-rooms-per-socket; sse: an x:sse event \
         not on the --client-sse allowlist).",
        &samples,
    );
    if let Some(up) = snapshot.redis_up {
        metric(
            "crosscast_redis_up",
            "gauge",
            "1 while Redis is reachable.",
            &[("", u64::from(up))],
        );
    }
    out
}
