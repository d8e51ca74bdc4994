//! Bounds on what a decoder accepts from a peer and on what the node keeps.

use crate::value::Value;

/// Limits applied to every message decoded from Redis and to the tables a node
/// keeps for its peers.
///
/// A decoder never allocates more than a small multiple of the input size,
/// whatever lengths the input declares: a container's declared element count is
/// checked against the bytes that remain before anything is reserved.
///
/// One depth limit everywhere: a packet's `[event, ...args]` array counts as one
/// level, as serde_json (socketioxide's parser) counts it, and the cluster
/// carries what nests at most [`Limits::MAX_VALUE_DEPTH`] levels, at least as
/// much as socketioxide accepts from a client. The node refuses a deeper value before
/// publishing it ([`crate::UsageError::TooDeep`]); a decoder accepts a whole
/// message that deep plus the envelope around the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of arrays and maps a decoder accepts in a whole message
    /// (envelope included). Default [`Limits::DEFAULT_MAX_DEPTH`].
    pub max_depth: usize,
    /// Largest message accepted, in bytes. Default 64 MiB.
    pub max_message_bytes: usize,
    /// Most entries in each table that a peer's messages fill (pending
    /// server-side acks, remote broadcast acks, open questions to the host,
    /// crosscast peers tracked by their heartbeats);
    /// past it the message is dropped and counted. Default 65,536.
    pub max_pending: usize,
    /// The longest time a peer's request may keep state alive in this node
    /// (a remote broadcast's `flags.timeout`), in ms. Default 60,000.
    pub max_remote_timeout_ms: u64,
}

impl Limits {
    /// The deepest value the cluster carries: serde_json's default recursion
    /// limit (socketioxide's parser accepts one level less), so whatever a
    /// socketioxide server accepts from a client can be carried.
    pub const MAX_VALUE_DEPTH: usize = 128;
    /// The most levels an envelope adds around a packet's data (a sharded
    /// broadcast: message, `data`, `packet`, then the data array itself).
    pub const ENVELOPE_DEPTH: usize = 4;
    /// Default maximum nesting depth of a whole message.
    pub const DEFAULT_MAX_DEPTH: usize = Self::MAX_VALUE_DEPTH + Self::ENVELOPE_DEPTH;
    /// Default maximum message size in bytes (64 MiB).
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
    /// Default bound on each table of peer state.
    pub const DEFAULT_MAX_PENDING: usize = 65_536;
    /// Default cap on a peer's timeout, in ms.
    pub const DEFAULT_MAX_REMOTE_TIMEOUT_MS: u64 = 60_000;

    /// The deepest value the node publishes: `max_depth` less the envelope.
    pub fn max_value_depth(&self) -> usize {
        self.max_depth.saturating_sub(Self::ENVELOPE_DEPTH)
    }

    /// Checks that `data` (a packet's `[event, ...args]`, a server-side event,
    /// counted as one array) nests at most [`Limits::max_value_depth`] levels.
    pub fn check_depth(&self, data: &[Value]) -> Result<(), crate::UsageError> {
        let limit = self.max_value_depth();
        if depth_exceeds(data, limit) {
            Err(crate::UsageError::TooDeep { limit })
        } else {
            Ok(())
        }
    }
}

/// Whether the array of `items` nests deeper than `limit` levels. Walks with an
/// explicit stack: a value built by an app may be arbitrarily deep.
fn depth_exceeds(items: &[Value], limit: usize) -> bool {
    if limit == 0 {
        return true;
    }
    // Each entry: a value and the depth of the container holding it.
    let mut stack: Vec<(&Value, usize)> = items.iter().map(|v| (v, 1)).collect();
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::Array(items) => {
                if depth + 1 > limit {
                    return true;
                }
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            Value::Map(entries) => {
                if depth + 1 > limit {
                    return true;
                }
                stack.extend(entries.iter().map(|(_, v)| (v, depth + 1)));
            }
            _ => {}
        }
    }
    false
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_message_bytes: Self::DEFAULT_MAX_MESSAGE_BYTES,
            max_pending: Self::DEFAULT_MAX_PENDING,
            max_remote_timeout_ms: Self::DEFAULT_MAX_REMOTE_TIMEOUT_MS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Value {
        let mut v = Value::Int(1);
        for _ in 0..levels {
            v = Value::Array(vec![v]);
        }
        v
    }

    #[test]
    fn the_data_array_counts_as_one_level_like_serde_json() {
        let limits = Limits::default();
        // ["e", [[...1...]]] with 127 arrays inside: 128 levels in all.
        let fits = [Value::from("e"), nested(127)];
        assert_eq!(limits.check_depth(&fits), Ok(()));
        let deep = [Value::from("e"), nested(128)];
        assert_eq!(
            limits.check_depth(&deep),
            Err(crate::UsageError::TooDeep { limit: 128 })
        );
        // serde_json (socketioxide's parser) stops one level earlier, so
        // everything a socketioxide server accepts from a client can be carried.
        let serde = |levels: usize| {
            let text = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
            serde_json::from_str::<serde_json::Value>(&text).is_ok()
        };
        assert!(serde(127));
        assert!(!serde(128));
    }

    #[test]
    fn maps_count_like_arrays_and_a_hundred_thousand_levels_do_not_overflow_the_stack() {
        let limits = Limits::default();
        let map = Value::Map(vec![("k".into(), nested(126))]);
        assert_eq!(limits.check_depth(&[map]), Ok(()));
        let mut v = Value::Nil;
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert!(limits.check_depth(std::slice::from_ref(&v)).is_err());
        // Dropping a very deep value recursively would overflow: unwind it.
        while let Value::Array(mut items) = v {
            v = items.pop().unwrap_or(Value::Nil);
        }
    }
}
