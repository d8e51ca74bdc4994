//! Bounds on what a decoder accepts from a peer.

/// Limits applied to every message decoded from Redis.
///
/// A decoder never allocates more than a small multiple of the input size,
/// whatever lengths the input declares: a container's declared element count is
/// checked against the bytes that remain before anything is reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of arrays and maps accepted. Default 64.
    pub max_depth: usize,
    /// Largest message accepted, in bytes. Default 64 MiB.
    pub max_message_bytes: usize,
}

impl Limits {
    /// Default maximum nesting depth.
    pub const DEFAULT_MAX_DEPTH: usize = 64;
    /// Default maximum message size in bytes (64 MiB).
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_message_bytes: Self::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}
