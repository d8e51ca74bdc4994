//! Errors of the core, grouped by cause.
//!
//! [`DecodeError`]: bytes from a peer that cannot be understood. The node counts
//! these and drops the message; they never change state.
//! [`UsageError`]: the host broke the contract of an input method.

/// Bytes from a peer (through Redis) that cannot be decoded into a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside a value.
    #[error("unexpected end of input at byte {offset}")]
    Truncated {
        /// Where the missing bytes should have started.
        offset: usize,
    },
    /// Bytes remain after the top-level value (notepack refuses these too).
    #[error("{count} trailing bytes")]
    TrailingBytes {
        /// How many bytes follow the value.
        count: usize,
    },
    /// The reserved msgpack marker `0xc1`.
    #[error("reserved msgpack marker 0xc1 at byte {offset}")]
    ReservedMarker {
        /// Position of the marker.
        offset: usize,
    },
    /// A string that is not valid UTF-8.
    #[error("invalid UTF-8 in a string at byte {offset}")]
    InvalidUtf8 {
        /// Position of the string's first byte.
        offset: usize,
    },
    /// Nesting deeper than the configured limit.
    #[error("nesting deeper than the limit of {limit}")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// A message larger than the configured limit.
    #[error("message of {size} bytes is over the limit of {limit}")]
    TooLarge {
        /// The message size.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A map key that is not a string or a number.
    #[error("map key of unsupported type at byte {offset}")]
    MapKey {
        /// Position of the key.
        offset: usize,
    },
    /// A timestamp extension whose fields are out of range.
    #[error("invalid timestamp extension at byte {offset}")]
    Timestamp {
        /// Position of the extension.
        offset: usize,
    },
    /// JSON text that `JSON.parse` would refuse.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A well-formed value that does not have the shape of the expected message.
    #[error("not a valid {what}: {reason}")]
    Shape {
        /// The message or field being decoded.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A channel name that does not belong to this adapter.
    #[error("channel {0:?} does not belong to this adapter")]
    Channel(String),
}

impl DecodeError {
    pub(crate) fn shape(what: &'static str, reason: &'static str) -> Self {
        DecodeError::Shape { what, reason }
    }
}

/// The host called an input method in a way its contract forbids.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The given request id is not pending.
    #[error("no pending request with id {0}")]
    UnknownRequest(u64),
    /// An answer was given for a question that was not asked or was answered already.
    #[error("no open question with id {0}")]
    UnknownQuestion(u64),
    /// An argument is out of the accepted range.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The event name is reserved (see [`crate::event_name`]): Node peers or
    /// clients would misread it.
    #[error("\"{0}\" is a reserved event name")]
    ReservedEvent(String),
    /// A value is nested deeper than the cluster carries
    /// ([`crate::Limits::max_depth`]); nothing was published.
    #[error("value nested deeper than {limit} levels: the cluster cannot carry it")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// An option of the adapter has a value Node's adapters do not take.
    #[error("invalid option `{option}`: {value:?}")]
    BadOption {
        /// The option, as Node names it.
        option: &'static str,
        /// The value given.
        value: String,
    },
    /// The operation is not available in this adapter mode.
    #[error("operation not supported in {mode} mode: {operation}")]
    Unsupported {
        /// The adapter mode.
        mode: &'static str,
        /// The operation.
        operation: &'static str,
    },
}
