//! Errors of the cluster adapter.

use socketioxide_core::adapter::errors::AdapterError;

use crate::driver::DriverError;

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Redis is unreachable right now; the driver is reconnecting. Operations that
    /// need answers from other servers fail at once instead of waiting.
    #[error("Redis is not connected")]
    NotConnected,
    /// The adapter or the cluster handle was closed.
    #[error("the adapter is closed")]
    Closed,
    /// Some servers did not answer in time. The text is the core's, worded as
    /// the official adapter of the cluster's protocol words it (for example
    /// `timeout reached while waiting for fetchSockets response`).
    #[error("{0}")]
    TimedOut(String),
    /// The namespace has no adapter in this cluster (it was never created, or closed).
    #[error("no namespace {0:?} in this cluster")]
    UnknownNamespace(String),
    /// The Redis driver failed.
    #[error("Redis driver: {0}")]
    Driver(#[from] DriverError),
    /// The operation is larger than the namespace's whole queue
    /// ([`ClusterConfig::inbox_queue_bytes`](super::ClusterConfig::inbox_queue_bytes)):
    /// it could never be queued, so nothing was sent.
    #[error("the operation ({bytes} bytes) is larger than the namespace queue ({limit} bytes)")]
    TooLarge {
        /// About how many bytes the operation holds.
        bytes: usize,
        /// The bound of the namespace queue.
        limit: usize,
    },
    /// A value could not be converted for the Socket.IO parser.
    #[error("encoding a packet: {0}")]
    Encode(String),
    /// The core refused the operation: a reserved server-side event name, or
    /// a value nested deeper than the cluster carries. Nothing was sent.
    #[error(transparent)]
    Refused(#[from] crosscast_core::UsageError),
}

impl From<Error> for AdapterError {
    fn from(e: Error) -> Self {
        AdapterError(Box::new(e))
    }
}
