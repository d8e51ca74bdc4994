//! Channel names of the classic and sharded protocols (NODE-WIRE.md §3.2, §4.2).
//!
//! Namespace and room names are inserted verbatim. A room may contain `#`: the
//! room of a broadcast channel is everything between the prefix and the final `#`.

use crate::room::Room;

/// The channels of one classic adapter: prefix `key`, namespace `nsp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassicChannels {
    broadcast_prefix: String,
    request: String,
    response: String,
    response_prefix: String,
}

/// What a classic channel is for, as seen by the adapter that subscribed it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClassicChannel<'a> {
    /// `K#N#`: a broadcast to the namespace.
    Broadcast,
    /// `K#N#<room>#`: a broadcast to one room.
    RoomBroadcast(&'a str),
    /// `K-request#N#`.
    Request,
    /// `K-response#N#`.
    Response,
    /// `K-response#N#<uid>#`: a response for the node with this uid.
    SpecificResponse(&'a str),
}

impl ClassicChannels {
    /// The channels for prefix `key` and namespace `nsp` (e.g. `"socket.io"`, `"/"`).
    pub fn new(key: &str, nsp: &str) -> Self {
        Self {
            broadcast_prefix: format!("{key}#{nsp}#"),
            request: format!("{key}-request#{nsp}#"),
            response: format!("{key}-response#{nsp}#"),
            response_prefix: format!("{key}-response#{nsp}#"),
        }
    }

    /// `K#N#`, or `K#N#<room>#` for a single-room broadcast.
    pub fn broadcast(&self, room: Option<&Room>) -> String {
        match room {
            None => self.broadcast_prefix.clone(),
            Some(room) => format!("{}{}#", self.broadcast_prefix, room.as_channel_part()),
        }
    }

    /// The channel a broadcast with these target rooms is published on: the room
    /// channel when there is exactly one room, else the base channel.
    pub fn broadcast_for(&self, rooms: &[Room]) -> String {
        match rooms {
            [room] => self.broadcast(Some(room)),
            _ => self.broadcast(None),
        }
    }

    /// The pattern to PSUBSCRIBE: `K#N#*`.
    pub fn broadcast_pattern(&self) -> String {
        format!("{}*", self.broadcast_prefix)
    }

    /// `K-request#N#`: the requests channel, whose subscriber count is the server count.
    pub fn request(&self) -> &str {
        &self.request
    }

    /// `K-response#N#`.
    pub fn response(&self) -> &str {
        &self.response
    }

    /// `K-response#N#<uid>#`.
    pub fn specific_response(&self, uid: &str) -> String {
        format!("{}{uid}#", self.response_prefix)
    }

    /// Classifies a channel; `None` when it is not one of this adapter's.
    pub fn classify<'a>(&self, channel: &'a str) -> Option<ClassicChannel<'a>> {
        if channel == self.request {
            return Some(ClassicChannel::Request);
        }
        if channel == self.response {
            return Some(ClassicChannel::Response);
        }
        if let Some(rest) = channel.strip_prefix(self.response_prefix.as_str()) {
            return rest.strip_suffix('#').map(ClassicChannel::SpecificResponse);
        }
        let rest = channel.strip_prefix(self.broadcast_prefix.as_str())?;
        if rest.is_empty() {
            return Some(ClassicChannel::Broadcast);
        }
        rest.strip_suffix('#').map(ClassicChannel::RoomBroadcast)
    }
}

/// The subscription mode of the sharded adapter; every node of a cluster must use
/// the same one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionMode {
    /// Only the main and private channels.
    Static,
    /// Also one channel per public room (not a socket id), subscribed while the room exists.
    #[default]
    Dynamic,
    /// Also one channel per room, socket-id rooms included.
    DynamicPrivate,
}

impl SubscriptionMode {
    /// The mode of its name in Node's options (`static`, `dynamic`,
    /// `dynamic-private`); `None` for any other name.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "static" => Some(Self::Static),
            "dynamic" => Some(Self::Dynamic),
            "dynamic-private" => Some(Self::DynamicPrivate),
            _ => None,
        }
    }
}

/// The channels of one sharded adapter: prefix `P`, namespace `N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardedChannels {
    main: String,
    mode: SubscriptionMode,
}

impl ShardedChannels {
    /// The channels for `channelPrefix` and namespace `nsp`.
    pub fn new(prefix: &str, nsp: &str, mode: SubscriptionMode) -> Self {
        Self {
            main: format!("{prefix}#{nsp}#"),
            mode,
        }
    }

    /// `P#N#`: every request and non-room broadcast; its SHARDNUMSUB is the server count.
    pub fn main(&self) -> &str {
        &self.main
    }

    /// `P#N#<uid>#`: the private response channel of the node `uid`.
    pub fn private(&self, uid: &str) -> String {
        format!("{}{uid}#", self.main)
    }

    /// `P#N#<room>#`.
    pub fn room(&self, room: &Room) -> String {
        format!("{}{}#", self.main, room.as_channel_part())
    }

    /// Whether a local room needs its own channel subscribed in this mode: exactly
    /// when a publisher of this mode may publish a single-room broadcast there.
    ///
    /// In `dynamic` mode Node publishes to the room channel of any room that is not
    /// 20 characters long, so the 16-character socket ids of socketioxide get a
    /// channel too, and 20-character rooms never need one.
    pub fn subscribes_room(&self, room: &Room) -> bool {
        match self.mode {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !looks_like_socket_id(room),
            SubscriptionMode::DynamicPrivate => true,
        }
    }

    /// The channel of a plain broadcast (Node's `computeChannel`): the room channel
    /// when there is exactly one room and the mode allows it, else the main channel.
    /// A broadcast with acks always takes the main channel.
    pub fn broadcast_for(&self, rooms: &[Room], with_ack: bool) -> String {
        if with_ack {
            return self.main.clone();
        }
        match (self.mode, rooms) {
            (SubscriptionMode::Dynamic, [room]) if !looks_like_socket_id(room) => self.room(room),
            (SubscriptionMode::DynamicPrivate, [room]) => self.room(room),
            _ => self.main.clone(),
        }
    }

    /// The part between `P#N#` and the final `#`, if `channel` is one of this
    /// adapter's channels (`Some("")` for the main channel).
    pub fn suffix<'a>(&self, channel: &'a str) -> Option<&'a str> {
        let rest = channel.strip_prefix(self.main.as_str())?;
        if rest.is_empty() {
            return Some("");
        }
        rest.strip_suffix('#')
    }
}

/// Node's test for "a socket id" in `dynamic` mode: a string of length 20.
pub fn looks_like_socket_id(room: &Room) -> bool {
    matches!(room, Room::Str(s) if s.encode_utf16().count() == 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_channels_classify_rooms_with_hashes() {
        let ch = ClassicChannels::new("socket.io", "/");
        assert_eq!(ch.classify("socket.io#/#"), Some(ClassicChannel::Broadcast));
        assert_eq!(
            ch.classify("socket.io#/#a#b#"),
            Some(ClassicChannel::RoomBroadcast("a#b"))
        );
        assert_eq!(
            ch.classify("socket.io-request#/#"),
            Some(ClassicChannel::Request)
        );
        assert_eq!(
            ch.classify("socket.io-response#/#"),
            Some(ClassicChannel::Response)
        );
        assert_eq!(
            ch.classify("socket.io-response#/#AbCdEf#"),
            Some(ClassicChannel::SpecificResponse("AbCdEf"))
        );
        assert_eq!(ch.classify("socket.io#/admin#"), None);
        assert_eq!(ch.classify("other#/#"), None);
        assert_eq!(ch.broadcast_pattern(), "socket.io#/#*");
        assert_eq!(ch.broadcast_for(&[Room::Int(123)]), "socket.io#/#123#");
    }

    #[test]
    fn sharded_channel_selection_follows_compute_channel() {
        let sid = Room::from("SOCKETID000000000002");
        let room = Room::from("room1");
        let dynamic = ShardedChannels::new("socket.io", "/", SubscriptionMode::Dynamic);
        assert_eq!(
            dynamic.broadcast_for(std::slice::from_ref(&room), false),
            "socket.io#/#room1#"
        );
        assert_eq!(
            dynamic.broadcast_for(std::slice::from_ref(&sid), false),
            "socket.io#/#"
        );
        assert_eq!(
            dynamic.broadcast_for(std::slice::from_ref(&room), true),
            "socket.io#/#"
        );
        let private = ShardedChannels::new("pfx", "/", SubscriptionMode::DynamicPrivate);
        assert_eq!(
            private.broadcast_for(std::slice::from_ref(&sid), false),
            "pfx#/#SOCKETID000000000002#"
        );
        let fixed = ShardedChannels::new("pfx", "/", SubscriptionMode::Static);
        assert_eq!(fixed.broadcast_for(&[room], false), "pfx#/#");
        assert_eq!(fixed.suffix("pfx#/#"), Some(""));
        assert_eq!(fixed.suffix("pfx#/#abc#"), Some("abc"));
        assert_eq!(fixed.suffix("pfx#/x#"), None);
    }
}
