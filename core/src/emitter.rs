//! The emitter (`@socket.io/redis-emitter` 5.x): publishes into a cluster
//! without joining it (NODE-WIRE.md §5). Classic, as Node's emitter; or sharded,
//! as a sharded adapter of uid `emitter` would publish (Node has no sharded
//! emitter; crosscast's `emit --adapter sharded` is one).

use crate::channel::{ClassicChannels, ShardedChannels, SubscriptionMode};
use crate::classic::{ClassicBroadcast, ClassicRequest, EMITTER_UID, RequestBody, Target};
use crate::error::UsageError;
use crate::limits::Limits;
use crate::node::{Protocol, PublishKind};
use crate::options::BroadcastOpts;
use crate::packet::Packet;
use crate::room::Room;
use crate::sharded::{ShardedBody, ShardedMessage};
use crate::value::Value;

/// Event names the emitter refuses, as Node's emitter does: the names a client
/// cannot decode.
pub use crate::event_name::CLIENT_RESERVED_EVENTS as RESERVED_EVENTS;

/// A message ready to publish: the command, the channel and the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publication {
    /// The command to publish it with (`PUBLISH` classic, `SPUBLISH` sharded).
    pub kind: PublishKind,
    /// The Redis channel.
    pub channel: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// An emitter for one namespace under one key prefix.
#[derive(Clone, Debug)]
pub struct Emitter {
    nsp: String,
    channels: Channels,
}

/// The protocol an emitter writes.
#[derive(Clone, Debug)]
enum Channels {
    Classic(ClassicChannels),
    /// Everything goes on the main channel, which every sharded server holds
    /// whatever its subscription mode.
    Sharded(ShardedChannels),
}

impl Emitter {
    /// An emitter for `nsp` (a leading `/` is added when missing, as `of()` does)
    /// under prefix `key`.
    pub fn new(key: &str, nsp: &str) -> Self {
        let nsp = with_slash(nsp);
        Self {
            channels: Channels::Classic(ClassicChannels::new(key, &nsp)),
            nsp,
        }
    }

    /// An emitter into a sharded cluster of `channel_prefix` (any subscription
    /// mode): its messages are those of a sharded adapter of uid `emitter`, on
    /// the main channel, published with `SPUBLISH`.
    pub fn sharded(channel_prefix: &str, nsp: &str) -> Self {
        let nsp = with_slash(nsp);
        Self {
            channels: Channels::Sharded(ShardedChannels::new(
                channel_prefix,
                &nsp,
                SubscriptionMode::Static,
            )),
            nsp,
        }
    }

    /// An emitter into a cluster of `protocol` (its channel prefix; for
    /// sharded, any subscription mode): [`Emitter::new`] or
    /// [`Emitter::sharded`].
    pub fn of(protocol: &Protocol, nsp: &str) -> Self {
        match protocol {
            Protocol::Classic { key, .. } => Self::new(key, nsp),
            Protocol::Sharded { channel_prefix, .. } => Self::sharded(channel_prefix, nsp),
        }
    }

    /// The namespace.
    pub fn nsp(&self) -> &str {
        &self.nsp
    }

    /// `emit(event, ...args)` to the sockets matching `opts`.
    pub fn broadcast(
        &self,
        opts: &BroadcastOpts,
        event: &str,
        args: Vec<Value>,
    ) -> Result<Publication, UsageError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(UsageError::InvalidArgument("reserved event name"));
        }
        let mut packet = Packet::event(event, args);
        Limits::default().check_depth(&packet.data)?;
        let channels = match &self.channels {
            Channels::Classic(channels) => channels,
            Channels::Sharded(channels) => {
                return Ok(self.sharded_message(
                    channels,
                    ShardedBody::Broadcast {
                        packet,
                        opts: opts.clone(),
                    },
                ));
            }
        };
        packet.nsp = Some(self.nsp.clone());
        let message = ClassicBroadcast {
            uid: EMITTER_UID.to_owned(),
            packet,
            opts: opts.clone(),
        };
        Ok(Publication {
            kind: PublishKind::Publish,
            channel: channels.broadcast_for(&opts.rooms),
            payload: message.encode_as_emitter(),
        })
    }

    /// `socketsJoin(rooms)` for the sockets matching `opts`.
    pub fn sockets_join(&self, opts: &BroadcastOpts, rooms: Vec<Room>) -> Publication {
        let opts = opts.clone();
        match &self.channels {
            Channels::Classic(channels) => self.request(
                channels,
                None,
                RequestBody::Join {
                    target: Target::Opts(opts),
                    rooms,
                },
            ),
            Channels::Sharded(channels) => {
                self.sharded_message(channels, ShardedBody::SocketsJoin { opts, rooms })
            }
        }
    }

    /// `socketsLeave(rooms)` for the sockets matching `opts`.
    pub fn sockets_leave(&self, opts: &BroadcastOpts, rooms: Vec<Room>) -> Publication {
        let opts = opts.clone();
        match &self.channels {
            Channels::Classic(channels) => self.request(
                channels,
                None,
                RequestBody::Leave {
                    target: Target::Opts(opts),
                    rooms,
                },
            ),
            Channels::Sharded(channels) => {
                self.sharded_message(channels, ShardedBody::SocketsLeave { opts, rooms })
            }
        }
    }

    /// `disconnectSockets(close)` for the sockets matching `opts`.
    pub fn disconnect_sockets(&self, opts: &BroadcastOpts, close: bool) -> Publication {
        let opts = opts.clone();
        match &self.channels {
            Channels::Classic(channels) => self.request(
                channels,
                None,
                RequestBody::Disconnect {
                    target: Target::Opts(opts),
                    close,
                },
            ),
            Channels::Sharded(channels) => {
                self.sharded_message(channels, ShardedBody::DisconnectSockets { opts, close })
            }
        }
    }

    /// `serverSideEmit(event, ...args)`; acknowledgements are not possible.
    /// Refuses the emitter's reserved names, as Node's emitter does, and every
    /// name of [`crate::event_name::SERVER_SIDE_RESERVED_EVENTS`], which a Node
    /// receiver would replay on its namespace (`connection` would crash it).
    pub fn server_side_emit(
        &self,
        event: &str,
        args: Vec<Value>,
    ) -> Result<Publication, UsageError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(UsageError::InvalidArgument("reserved event name"));
        }
        let mut data = vec![Value::Str(event.to_owned())];
        data.extend(args);
        crate::event_name::check_server_side(&data)?;
        Limits::default().check_depth(&data)?;
        Ok(match &self.channels {
            Channels::Classic(channels) => self.request(
                channels,
                Some(EMITTER_UID.to_owned()),
                RequestBody::ServerSideEmit { data },
            ),
            Channels::Sharded(channels) => self.sharded_message(
                channels,
                ShardedBody::ServerSideEmit {
                    request_id: None,
                    packet: data,
                },
            ),
        })
    }

    /// A classic request on the request channel of `channels`.
    fn request(
        &self,
        channels: &ClassicChannels,
        uid: Option<String>,
        body: RequestBody,
    ) -> Publication {
        let request = ClassicRequest {
            uid,
            request_id: None,
            body,
        };
        Publication {
            kind: PublishKind::Publish,
            channel: channels.request().to_owned(),
            payload: request.encode(),
        }
    }

    /// A sharded message of uid `emitter` on the main channel of `channels`.
    fn sharded_message(&self, channels: &ShardedChannels, body: ShardedBody) -> Publication {
        let channel = channels.main().to_owned();
        let message = ShardedMessage {
            uid: EMITTER_UID.to_owned(),
            nsp: self.nsp.clone(),
            body,
        };
        Publication {
            kind: PublishKind::SPublish,
            channel,
            payload: message.encode(),
        }
    }
}

/// `nsp` with its leading `/`, as `of()` adds it.
fn with_slash(nsp: &str) -> String {
    if nsp.starts_with('/') {
        nsp.to_owned()
    } else {
        format!("/{nsp}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The sharded emitter writes what a sharded adapter of uid `emitter` would,
    /// on the main channel every sharded server holds, with `SPUBLISH`.
    #[test]
    fn a_sharded_emitter_speaks_the_sharded_protocol_on_the_main_channel() {
        let emitter = Emitter::sharded("app", "chat");
        let lobby = BroadcastOpts::to_rooms(["lobby"]);
        let sent = [
            emitter
                .broadcast(&lobby, "note", vec![Value::from(1)])
                .unwrap(),
            emitter.sockets_join(&lobby, vec![Room::from("vip")]),
            emitter.sockets_leave(&lobby, vec![Room::from("vip")]),
            emitter.disconnect_sockets(&lobby, true),
            emitter.server_side_emit("tick", vec![]).unwrap(),
        ];
        let mut types = Vec::new();
        for p in &sent {
            assert_eq!(p.kind, PublishKind::SPublish);
            assert_eq!(p.channel, "app#/chat#");
            let message = ShardedMessage::decode(&p.payload, &Limits::default()).unwrap();
            assert_eq!(
                (message.uid.as_str(), message.nsp.as_str()),
                ("emitter", "/chat")
            );
            types.push(message.body.type_number());
        }
        assert_eq!(types, [3, 4, 5, 6, 9]);
        assert!(
            emitter.broadcast(&lobby, "connect", vec![]).is_err(),
            "reserved"
        );
    }

    #[test]
    fn an_emitter_of_a_protocol_speaks_it_under_its_prefix() {
        let all = BroadcastOpts::all();
        let sharded = Emitter::of(&Protocol::sharded().with_key("app"), "chat");
        let p = sharded.broadcast(&all, "note", vec![]).unwrap();
        assert_eq!(
            (p.kind, p.channel.as_str()),
            (PublishKind::SPublish, "app#/chat#")
        );
        let classic = Emitter::of(&Protocol::classic().with_key("app"), "chat");
        let p = classic.broadcast(&all, "note", vec![]).unwrap();
        assert_eq!(
            (p.kind, p.channel.as_str()),
            (PublishKind::Publish, "app#/chat#")
        );
        assert_eq!(classic.nsp(), "/chat");
    }

    #[test]
    fn a_classic_emitter_publishes_with_publish() {
        let emitter = Emitter::new("socket.io", "/");
        let p = emitter
            .broadcast(&BroadcastOpts::all(), "note", vec![])
            .unwrap();
        assert_eq!(
            (p.kind, p.channel.as_str()),
            (PublishKind::Publish, "socket.io#/#")
        );
    }
}
