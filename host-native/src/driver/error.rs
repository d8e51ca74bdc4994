//! Errors of the driver.

/// An error of a [`Driver`](super::Driver) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The configuration is unusable (bad URL, TLS settings, zero capacity...).
    #[error("invalid Redis driver configuration: {0}")]
    Config(String),
    /// Redis could not be reached or refused the connection set-up (at [`Driver::connect`](super::Driver::connect)).
    #[error("cannot connect to Redis at {target}: {reason}")]
    Unreachable {
        /// The address tried, without credentials.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// The driver is currently disconnected from Redis and reconnecting; nothing was sent.
    #[error("not connected to Redis (reconnecting)")]
    NotConnected,
    /// The command was sent but failed (connection lost, timeout, or an error reply).
    #[error("Redis command failed: {0}")]
    Command(String),
    /// The operation does not exist in the configured pub/sub kind (patterns in sharded mode).
    #[error("{0} is not available with sharded pub/sub")]
    Unsupported(&'static str),
    /// [`Driver::close`](super::Driver::close) was called.
    #[error("the Redis driver is closed")]
    Closed,
}
