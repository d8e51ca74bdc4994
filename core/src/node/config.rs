//! The configuration of a node: its uid, namespace, protocol and timing.

use crate::channel::SubscriptionMode;
use crate::limits::Limits;

/// Which protocol the node speaks, with that protocol's options.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// The classic adapter (`createAdapter`).
    Classic {
        /// `key`: the channel prefix. Node's default is `socket.io`.
        key: String,
        /// Publish responses on `K-response#N#<requester uid>#` instead of the
        /// generic response channel. Node's default is `false`.
        publish_on_specific_response_channel: bool,
    },
    /// The sharded adapter (`createShardedAdapter`).
    Sharded {
        /// `channelPrefix`. Node's default is `socket.io`.
        channel_prefix: String,
        /// `subscriptionMode`; every node of the cluster must use the same.
        subscription_mode: SubscriptionMode,
    },
}

impl Protocol {
    /// The classic protocol with Node's defaults.
    pub fn classic() -> Self {
        Protocol::Classic {
            key: "socket.io".to_owned(),
            publish_on_specific_response_channel: false,
        }
    }

    /// The sharded protocol with Node's defaults (`dynamic` mode).
    pub fn sharded() -> Self {
        Protocol::Sharded {
            channel_prefix: "socket.io".to_owned(),
            subscription_mode: SubscriptionMode::Dynamic,
        }
    }
}

/// The configuration of one namespace adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// This node's uid for the namespace, chosen by the host (random; 6 URL-safe
    /// characters in Node's classic adapter, 16 hex in the sharded one). Must not
    /// be empty or `emitter`.
    pub uid: String,
    /// The namespace, e.g. `/`.
    pub nsp: String,
    /// The protocol.
    pub protocol: Protocol,
    /// Timeout of fetchSockets, allRooms and serverSideEmit with ack, in ms.
    /// Default 5000; 0 means the default, as in Node.
    pub requests_timeout_ms: u64,
    /// How often this node sends a heartbeat, in ms; 0 disables membership.
    /// Default 1000.
    pub heartbeat_interval_ms: u64,
    /// A peer silent for longer than this is gone, in ms. Default 3000.
    pub heartbeat_timeout_ms: u64,
    /// While requests are pending, the server count is asked again this often,
    /// in ms, so that a dead server stops being waited for. Default 1000.
    pub recount_interval_ms: u64,
    /// Decoder limits.
    pub limits: Limits,
}

impl NodeConfig {
    /// A configuration with the defaults above.
    pub fn new(uid: impl Into<String>, nsp: impl Into<String>, protocol: Protocol) -> Self {
        Self {
            uid: uid.into(),
            nsp: nsp.into(),
            protocol,
            requests_timeout_ms: 5000,
            heartbeat_interval_ms: 1000,
            heartbeat_timeout_ms: 3000,
            recount_interval_ms: 1000,
            limits: Limits::default(),
        }
    }
}
