//! The configuration of a node: its uid, namespace, protocol and timing.

use crate::channel::SubscriptionMode;
use crate::error::UsageError;
use crate::limits::Limits;

/// Node's default channel prefix: `key` of the classic adapter and the
/// emitter, `channelPrefix` of the sharded adapter.
pub const DEFAULT_KEY: &str = "socket.io";

/// How many random bytes a host draws for one node uid
/// ([`Protocol::uid_from_random`]).
pub const UID_RANDOM_BYTES: usize = 8;

/// The URL-safe base64 alphabet, in value order: the characters of Node's
/// uids and socket ids, and of socketioxide's ids.
pub const URL_SAFE_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

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

/// The options of the official adapters' factories that shape the protocol,
/// as Node names them, for [`Protocol::from_node_options`]. `None` (or
/// `false`) is an absent option, which takes Node's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeOptions {
    /// `key` of `createAdapter` (classic).
    pub key: Option<String>,
    /// `publishOnSpecificResponseChannel` of `createAdapter` (classic).
    pub publish_on_specific_response_channel: bool,
    /// `channelPrefix` of `createShardedAdapter` (sharded).
    pub channel_prefix: Option<String>,
    /// `subscriptionMode` of `createShardedAdapter` (sharded): `static`,
    /// `dynamic` or `dynamic-private`.
    pub subscription_mode: Option<String>,
}

impl Protocol {
    /// The classic protocol with Node's defaults.
    pub fn classic() -> Self {
        Protocol::Classic {
            key: DEFAULT_KEY.to_owned(),
            publish_on_specific_response_channel: false,
        }
    }

    /// The sharded protocol with Node's defaults (`dynamic` mode).
    pub fn sharded() -> Self {
        Protocol::Sharded {
            channel_prefix: DEFAULT_KEY.to_owned(),
            subscription_mode: SubscriptionMode::Dynamic,
        }
    }

    /// The names [`Protocol::named`] knows, as [`Protocol::name`] gives them.
    pub const NAMES: [&'static str; 2] = ["classic", "sharded"];

    /// The protocol of a name in [`Protocol::NAMES`] with Node's defaults, as a
    /// flag or an option names it; `None` for any other name.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "classic" => Some(Self::classic()),
            "sharded" => Some(Self::sharded()),
            _ => None,
        }
    }

    /// The protocol `name` ([`Protocol::NAMES`]) with the `options` its
    /// factory takes in Node; the other protocol's options are ignored, as
    /// Node ignores them. Refused: an unknown name or subscription mode
    /// ([`UsageError::BadOption`]).
    pub fn from_node_options(name: &str, options: &NodeOptions) -> Result<Self, UsageError> {
        let bad = |option: &'static str, value: &str| UsageError::BadOption {
            option,
            value: value.to_owned(),
        };
        // Node's defaults are those of `classic()` and `sharded()`; an option given replaces one.
        let mut protocol = Self::named(name).ok_or_else(|| bad("protocol", name))?;
        match &mut protocol {
            Protocol::Classic {
                key,
                publish_on_specific_response_channel,
            } => {
                if let Some(given) = &options.key {
                    key.clone_from(given);
                }
                *publish_on_specific_response_channel =
                    options.publish_on_specific_response_channel;
            }
            Protocol::Sharded {
                channel_prefix,
                subscription_mode,
            } => {
                if let Some(given) = &options.channel_prefix {
                    channel_prefix.clone_from(given);
                }
                if let Some(mode) = options.subscription_mode.as_deref() {
                    *subscription_mode = SubscriptionMode::named(mode)
                        .ok_or_else(|| bad("subscriptionMode", mode))?;
                }
            }
        }
        Ok(protocol)
    }

    /// `classic` or `sharded`, for logs and health reports.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Classic { .. } => "classic",
            Protocol::Sharded { .. } => "sharded",
        }
    }

    /// Whether the protocol runs on sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`,
    /// Redis 7+): a host picks its Redis connection by it.
    pub fn is_sharded(&self) -> bool {
        matches!(self, Protocol::Sharded { .. })
    }

    /// The same protocol under the channel prefix `key`.
    pub fn with_key(mut self, new_key: impl Into<String>) -> Self {
        match &mut self {
            Protocol::Classic { key, .. } => *key = new_key.into(),
            Protocol::Sharded { channel_prefix, .. } => *channel_prefix = new_key.into(),
        }
        self
    }

    /// A node uid of the shape Node's adapter of this protocol draws, made from
    /// `random`, bytes the host drew (the core draws none): 6 URL-safe
    /// characters for classic (`uid2(6)`: the low 6 bits of the first six
    /// bytes), 16 lowercase hex characters for sharded (`randomId()`: all
    /// eight bytes). Every host derives its uids with this.
    pub fn uid_from_random(&self, random: [u8; UID_RANDOM_BYTES]) -> String {
        match self {
            Protocol::Classic { .. } => random[..6]
                .iter()
                .map(|b| URL_SAFE_ALPHABET[usize::from(b & 63)] as char)
                .collect(),
            Protocol::Sharded { .. } => random.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// Whether a node of this protocol wants [`super::Node::handle_room_added`]
    /// and [`super::Node::handle_room_removed`]: only the sharded `dynamic`
    /// modes subscribe rooms. A host may skip watching its rooms otherwise.
    pub fn wants_room_changes(&self) -> bool {
        matches!(
            self,
            Protocol::Sharded {
                subscription_mode: SubscriptionMode::Dynamic | SubscriptionMode::DynamicPrivate,
                ..
            }
        )
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
    /// Node's `requestsTimeout`.
    pub const DEFAULT_REQUESTS_TIMEOUT_MS: u64 = 5000;
    /// The heartbeat interval (Node's ClusterAdapter `heartbeatInterval`).
    pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 1000;
    /// The heartbeat timeout (Node's ClusterAdapter `heartbeatTimeout`).
    pub const DEFAULT_HEARTBEAT_TIMEOUT_MS: u64 = 3000;
    /// How often pending requests recount the servers.
    pub const DEFAULT_RECOUNT_INTERVAL_MS: u64 = 1000;

    /// A configuration with the defaults above.
    pub fn new(uid: impl Into<String>, nsp: impl Into<String>, protocol: Protocol) -> Self {
        Self {
            uid: uid.into(),
            nsp: nsp.into(),
            protocol,
            requests_timeout_ms: Self::DEFAULT_REQUESTS_TIMEOUT_MS,
            heartbeat_interval_ms: Self::DEFAULT_HEARTBEAT_INTERVAL_MS,
            heartbeat_timeout_ms: Self::DEFAULT_HEARTBEAT_TIMEOUT_MS,
            recount_interval_ms: Self::DEFAULT_RECOUNT_INTERVAL_MS,
            limits: Limits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_options_shape_the_protocol_they_belong_to_and_no_other() {
        let mut options = NodeOptions::default();
        assert_eq!(
            Protocol::from_node_options("classic", &options),
            Ok(Protocol::classic())
        );
        assert_eq!(
            Protocol::from_node_options("sharded", &options),
            Ok(Protocol::sharded())
        );
        options.key = Some("k".into());
        options.publish_on_specific_response_channel = true;
        options.channel_prefix = Some("p".into());
        options.subscription_mode = Some("dynamic-private".into());
        assert_eq!(
            Protocol::from_node_options("classic", &options),
            Ok(Protocol::Classic {
                key: "k".into(),
                publish_on_specific_response_channel: true
            })
        );
        assert_eq!(
            Protocol::from_node_options("sharded", &options),
            Ok(Protocol::Sharded {
                channel_prefix: "p".into(),
                subscription_mode: SubscriptionMode::DynamicPrivate
            })
        );
        options.subscription_mode = Some("Dynamic".into());
        assert_eq!(
            Protocol::from_node_options("sharded", &options).map_err(|e| e.to_string()),
            Err("invalid option `subscriptionMode`: \"Dynamic\"".to_owned())
        );
        assert!(
            Protocol::from_node_options("classic", &options).is_ok(),
            "a sharded option does not concern classic"
        );
        assert!(matches!(
            Protocol::from_node_options("redis", &options),
            Err(UsageError::BadOption {
                option: "protocol",
                ..
            })
        ));
    }

    #[test]
    fn every_listed_name_names_its_protocol_and_nothing_else_does() {
        for name in Protocol::NAMES {
            assert_eq!(Protocol::named(name).map(|p| p.name()), Some(name));
        }
        assert_eq!(Protocol::named("Classic"), None);
        assert_eq!(Protocol::named(""), None);
    }

    #[test]
    fn uids_take_the_shape_node_draws_from_the_hosts_random_bytes() {
        let random = [0, 1, 2, 63, 64, 255, 0xab, 0xcd];
        // Classic: uid2(6), one URL-safe character per byte, its low 6 bits.
        assert_eq!(Protocol::classic().uid_from_random(random), "ABC_A_");
        // Sharded: randomId(), the eight bytes in lowercase hex.
        assert_eq!(
            Protocol::sharded().uid_from_random(random),
            "0001023f40ffabcd"
        );
    }

    #[test]
    fn only_the_dynamic_sharded_modes_want_room_changes() {
        assert!(!Protocol::classic().wants_room_changes());
        assert!(Protocol::sharded().wants_room_changes());
        for (mode, wants) in [
            (SubscriptionMode::Static, false),
            (SubscriptionMode::Dynamic, true),
            (SubscriptionMode::DynamicPrivate, true),
        ] {
            let protocol = Protocol::Sharded {
                channel_prefix: DEFAULT_KEY.to_owned(),
                subscription_mode: mode,
            };
            assert_eq!(protocol.wants_room_changes(), wants, "{mode:?}");
        }
    }
}
