//! The counters of the server and their Prometheus text exposition (`GET /metrics`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::adapter::{self, SocketRecordStats};
use crate::driver::DriverStats;

use super::admin::Admin;
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
            Refusal::Payload => own + websocket_payload_refusals(),
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
    /// With `--admin`: the admin namespace.
    pub(crate) admin: Option<&'a Admin>,
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
        "Cluster messages for the other servers that Redis accepted (PUBLISH/SPUBLISH \
         answered); messages not published are in crosscast_cluster_publish_dropped_total.",
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
        "Cluster messages lost: not published, not queued for the cluster, or received and \
         dropped before processing (the sum of crosscast_cluster_publish_dropped_total, \
         crosscast_cluster_inbox_dropped_total and \
         crosscast_redis_inbound_dropped_total{connection=\"cluster\"}).",
        &[("", c.dropped)],
    );
    let p = &c.publish_drops;
    metric(
        "crosscast_cluster_publish_dropped_total",
        "counter",
        "Cluster messages of this server not published, by reason (queue_full: the publish \
         queue held its 65536 messages; queue_bytes: over --cluster-publish-queue-bytes; \
         redis_down: Redis not connected; redis_error: Redis failed or did not answer in \
         time, so the message may or may not have reached it).",
        &[
            ("{reason=\"queue_full\"}", p.queue_full),
            ("{reason=\"queue_bytes\"}", p.queue_bytes),
            ("{reason=\"redis_down\"}", p.redis_down),
            ("{reason=\"redis_error\"}", p.redis_error),
        ],
    );
    metric(
        "crosscast_cluster_inbox_dropped_total",
        "counter",
        "Operations of this server that did not reach the cluster because the namespace's \
         queue was full, by reason (queue_full: 4096 commands waiting; queue_bytes: over \
         --cluster-inbox-bytes, or larger than all of it).",
        &[
            ("{reason=\"queue_full\"}", c.inbox_drops.queue_full),
            ("{reason=\"queue_bytes\"}", c.inbox_drops.queue_bytes),
        ],
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
        "Requests to the other servers (fetchSockets, allRooms, serverSideEmit with ack, \
         server count), by outcome: completed (every expected answer, or every answer of the \
         servers still there), partial (completed with answers missing from servers known to \
         have left; also counted in completed), timed_out (ended by the requests timeout with \
         the answers that had arrived).",
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
        "Messages of other servers dropped, by reason (table_full: the table they would fill \
         was full: the core's questions, remote acks, server-side acks or peers, 65536 \
         entries each; excess_ack: a client ack for this server's broadcast beyond the \
         clients its server counted).",
        &[
            ("{reason=\"table_full\"}", c.dropped_table_full),
            ("{reason=\"excess_ack\"}", c.dropped_excess_acks),
        ],
    );
    metric(
        "crosscast_server_side_events_dropped_total",
        "counter",
        "Server-side events of other servers not handed to this server's handler, by reason \
         (queue_full: 1024 events were already waiting in the namespace's queue).",
        &[("{reason=\"queue_full\"}", c.server_side_dropped)],
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
        "Messages of --bridge channels dropped before processing (the sum of \
         crosscast_redis_inbound_dropped_total{connection=\"bridge\"}).",
        &[("", bridge.dropped)],
    );
    let d = &c.driver;
    metric(
        "crosscast_redis_inbound_dropped_total",
        "counter",
        "Redis messages (and connection events) received and dropped before processing, by \
         connection and reason (queue_full: 4096 waiting; queue_bytes: over \
         --redis-inbound-queue-bytes; closed: nobody reads them any more).",
        &[
            (
                "{connection=\"cluster\",reason=\"queue_full\"}",
                d.dropped_queue_full,
            ),
            (
                "{connection=\"cluster\",reason=\"queue_bytes\"}",
                d.dropped_queue_bytes,
            ),
            (
                "{connection=\"cluster\",reason=\"closed\"}",
                d.dropped_closed,
            ),
            (
                "{connection=\"bridge\",reason=\"queue_full\"}",
                bridge.dropped_queue_full,
            ),
            (
                "{connection=\"bridge\",reason=\"queue_bytes\"}",
                bridge.dropped_queue_bytes,
            ),
            (
                "{connection=\"bridge\",reason=\"closed\"}",
                bridge.dropped_closed,
            ),
        ],
    );
    metric(
        "crosscast_remote_ids_forgotten_total",
        "counter",
        "Ids of remote sockets (of a shape that does not fit in socketioxide's socket data, \
         unlike Node's) forgotten to keep the id table at 100000 entries; an operation on a \
         remote socket fetched before that reaches no socket.",
        &[("", c.ids_forgotten)],
    );
    metric(
        "crosscast_queued_bytes",
        "gauge",
        "Bytes waiting now, by queue (cluster_publish: for Redis, in flight included, at most \
         --cluster-publish-queue-bytes; cluster_inbox: for the cluster adapter, all \
         namespaces; redis_inbound_cluster / redis_inbound_bridge: Redis payloads received \
         and not yet processed, each at most --redis-inbound-queue-bytes).",
        &[
            ("{queue=\"cluster_publish\"}", c.publish_queue_bytes),
            ("{queue=\"cluster_inbox\"}", c.inbox_bytes),
            ("{queue=\"redis_inbound_cluster\"}", d.queued_bytes),
            ("{queue=\"redis_inbound_bridge\"}", bridge.queued_bytes),
        ],
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
    if let Some(admin) = snapshot.admin {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let a = admin.counters();
        let gate = admin.access().counters();
        metric(
            "crosscast_admin_logins_total",
            "counter",
            "Admin UI connections let in (result: password, session) or refused (result: \
             refused for wrong credentials, busy while --admin's bcrypt checks were all running).",
            &[
                ("{result=\"password\"}", load(&gate.logins)),
                ("{result=\"session\"}", load(&gate.resumed)),
                ("{result=\"refused\"}", load(&gate.refused)),
                ("{result=\"busy\"}", load(&gate.busy)),
            ],
        );
        metric(
            "crosscast_admin_sessions",
            "gauge",
            "Admin UI sessions kept (at most 1024, each for a day).",
            &[(
                "",
                u64::try_from(admin.access().sessions()).unwrap_or(u64::MAX),
            )],
        );
        metric(
            "crosscast_admin_events_total",
            "counter",
            "Live admin events (development mode) published to the cluster.",
            &[("", load(&a.events_sent))],
        );
        metric(
            "crosscast_admin_dropped_total",
            "counter",
            "What the admin side dropped, by reason (feed_full: a live event while 4096 \
             waited; sessions_full: the oldest session, for a new one; buffer_full: a \
             connection event not counted in server_stats).",
            &[
                ("{reason=\"feed_full\"}", load(&a.events_dropped)),
                ("{reason=\"sessions_full\"}", load(&gate.sessions_evicted)),
                ("{reason=\"buffer_full\"}", admin.events_not_counted()),
            ],
        );
        metric(
            "crosscast_admin_actions_total",
            "counter",
            "Admin UI actions (emit, join, leave, disconnect) executed (result: done) or \
             refused as malformed (result: refused).",
            &[
                ("{result=\"done\"}", load(&a.actions)),
                ("{result=\"refused\"}", load(&a.actions_refused)),
            ],
        );
        metric(
            "crosscast_admin_partial_lists_total",
            "counter",
            "Admin socket lists sent without the sockets of a server that did not answer in time.",
            &[("", load(&a.partial_lists))],
        );
    }
    out
}
/// Monotonic counters of the cluster layer, as `/metrics` shows them. All zero on a
/// [`Cluster::Local`] node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClusterStats {
    /// Messages for the other servers that Redis accepted.
    pub(crate) published: u64,
    /// Messages received from the other servers.
    pub(crate) received: u64,
    /// Messages lost: received and dropped before processing, or not published (the sum of
    /// the three next counters).
    pub(crate) dropped: u64,
    /// Messages not published, by reason.
    pub(crate) publish_drops: adapter::PublishDrops,
    /// Operations of this server that did not enter a namespace's queue, by reason.
    pub(crate) inbox_drops: adapter::InboxDrops,
    /// The cluster's Redis connection (inbound queue drops and bytes).
    pub(crate) driver: crate::driver::DriverStats,
    /// Bytes waiting to be published or in flight now.
    pub(crate) publish_queue_bytes: u64,
    /// Bytes waiting in the namespaces' queues now.
    pub(crate) inbox_bytes: u64,
    /// Remote socket ids forgotten to keep the id table bounded.
    pub(crate) ids_forgotten: u64,
    /// Messages from other servers that could not be decoded.
    pub(crate) decode_errors: u64,
    /// Requests to other servers that got every expected answer, or every answer of the
    /// servers still there (`requests_partial` included).
    pub(crate) requests_completed: u64,
    /// Requests to other servers ended by the requests timeout, with the answers that had
    /// arrived by then (possibly some).
    pub(crate) requests_timed_out: u64,
    /// Completed requests with answers missing: expected servers that were known to have
    /// left before the timeout.
    pub(crate) requests_partial: u64,
    /// Reconnections of the cluster's Redis connections.
    pub(crate) reconnects: u64,
    /// Server-side events of other servers awaiting this server's answer (a gauge).
    pub(crate) server_side_acks_pending: u64,
    /// Server-side events never answered here, freed by their timeout.
    pub(crate) server_side_acks_expired: u64,
    /// Remote broadcasts whose client acks this server still relays (a gauge).
    pub(crate) remote_acks_pending: u64,
    /// Messages of other servers dropped because the table they fill was full.
    pub(crate) dropped_table_full: u64,
    /// Client acks of other servers beyond the clients they counted, dropped.
    pub(crate) dropped_excess_acks: u64,
    /// Operations of this server refused before reaching the cluster (reserved
    /// server-side event name, value too deep).
    pub(crate) refused: u64,
    /// Server-side events of other servers dropped at the app's full queue.
    pub(crate) server_side_dropped: u64,
}

/// WebSocket messages engineioxide refused as over `--max-payload`, process-wide (one
/// server per process), seen by [`PayloadWatch`].
static WEBSOCKET_PAYLOAD_REFUSED: AtomicU64 = AtomicU64::new(0);

/// WebSocket messages refused as over `--max-payload` so far.
pub(crate) fn websocket_payload_refusals() -> u64 {
    WEBSOCKET_PAYLOAD_REFUSED.load(Ordering::Relaxed)
}

/// Counts one WebSocket message refused as over `--max-payload` (called by the limits'
/// tracing watch).
pub(crate) fn count_websocket_payload_refusal() {
    WEBSOCKET_PAYLOAD_REFUSED.fetch_add(1, Ordering::Relaxed);
}
