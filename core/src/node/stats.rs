//! Counters of what a node saw and did, for metrics.

/// Monotonic counters since the node was made.
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
}
