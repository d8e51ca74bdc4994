//! Counters of what a node saw and did, for metrics.

/// Counters since the node was made (monotonic), and gauges of what the node
/// holds now (named `*_pending`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages handed to [`super::Node::handle_message`].
    pub received: u64,
    /// Messages published.
    pub published: u64,
    /// Messages that could not be decoded (dropped).
    pub decode_errors: u64,
    /// This node's own messages heard back (dropped).
    pub ignored_own: u64,
    /// Messages of another namespace (dropped).
    pub ignored_other_nsp: u64,
    /// Messages of an unknown or unexpected type (dropped).
    pub ignored_unknown_type: u64,
    /// Messages on channels or for requests of other nodes (dropped).
    pub ignored_not_for_us: u64,
    /// Responses to this node's requests that came after their completion.
    pub late_responses: u64,
    /// Host answers or acks that came after the node stopped waiting.
    pub late_host_answers: u64,
    /// Requests completed with every expected answer, or early because the
    /// missing servers were known to be gone.
    pub requests_completed: u64,
    /// Requests ended by their deadline.
    pub requests_timed_out: u64,
    /// Completed requests that ended with answers missing (servers gone).
    pub requests_partial: u64,
    /// Server-side events of other servers waiting for this host's answer now
    /// (a gauge). Each leaves when the host answers or releases it, or when
    /// the requests timeout passes.
    pub server_side_acks_pending: u64,
    /// Server-side events that were never answered by the host and expired.
    pub server_side_acks_expired: u64,
    /// Remote broadcasts with acks this node still collects client acks for
    /// now (a gauge).
    pub remote_acks_pending: u64,
    /// Questions to the host open now (a gauge).
    pub questions_pending: u64,
    /// Messages of other servers dropped because the table they would fill
    /// ([`crate::Limits::max_pending`]) was full.
    pub dropped_table_full: u64,
    /// Client acks of other servers for one of this node's broadcasts beyond
    /// the clients those servers counted: dropped, never streamed to the host
    /// (a peer cannot grow a request's ack stream past what it announced).
    pub dropped_excess_acks: u64,
    /// Operations of the local app refused because a value nests deeper than
    /// the cluster carries.
    pub refused_too_deep: u64,
    /// Server-side events with a reserved event name: the local app's
    /// (refused with an error) and other servers' (dropped before the host
    /// sees them, since replaying them would fake a connection or an error).
    pub refused_reserved_event: u64,
}
