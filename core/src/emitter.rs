//! The emitter (`@socket.io/redis-emitter` 5.x): publishes into a classic
//! cluster without joining it (NODE-WIRE.md §5).

use crate::channel::ClassicChannels;
use crate::classic::{ClassicBroadcast, ClassicRequest, EMITTER_UID, RequestBody, Target};
use crate::error::UsageError;
use crate::limits::Limits;
use crate::options::BroadcastOpts;
use crate::packet::Packet;
use crate::room::Room;
use crate::value::Value;

/// Event names the emitter refuses, as Node's emitter does: the names a client
/// cannot decode.
pub use crate::event_name::CLIENT_RESERVED_EVENTS as RESERVED_EVENTS;

/// A message ready to PUBLISH: channel and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publication {
    /// The Redis channel.
    pub channel: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// An emitter for one namespace under one key prefix.
#[derive(Clone, Debug)]
pub struct Emitter {
    nsp: String,
    channels: ClassicChannels,
}

impl Emitter {
    /// An emitter for `nsp` (a leading `/` is added when missing, as `of()` does)
    /// under prefix `key`.
    pub fn new(key: &str, nsp: &str) -> Self {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        Self {
            channels: ClassicChannels::new(key, &nsp),
            nsp,
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
        packet.nsp = Some(self.nsp.clone());
        let message = ClassicBroadcast {
            uid: EMITTER_UID.to_owned(),
            packet,
            opts: opts.clone(),
        };
        Ok(Publication {
            channel: self.channels.broadcast_for(&opts.rooms),
            payload: message.encode_as_emitter(),
        })
    }

    /// `socketsJoin(rooms)` for the sockets matching `opts`.
    pub fn sockets_join(&self, opts: &BroadcastOpts, rooms: Vec<Room>) -> Publication {
        self.request(
            None,
            RequestBody::Join {
                target: Target::Opts(opts.clone()),
                rooms,
            },
        )
    }

    /// `socketsLeave(rooms)` for the sockets matching `opts`.
    pub fn sockets_leave(&self, opts: &BroadcastOpts, rooms: Vec<Room>) -> Publication {
        self.request(
            None,
            RequestBody::Leave {
                target: Target::Opts(opts.clone()),
                rooms,
            },
        )
    }

    /// `disconnectSockets(close)` for the sockets matching `opts`.
    pub fn disconnect_sockets(&self, opts: &BroadcastOpts, close: bool) -> Publication {
        self.request(
            None,
            RequestBody::Disconnect {
                target: Target::Opts(opts.clone()),
                close,
            },
        )
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
        Ok(self.request(
            Some(EMITTER_UID.to_owned()),
            RequestBody::ServerSideEmit { data },
        ))
    }

    fn request(&self, uid: Option<String>, body: RequestBody) -> Publication {
        let request = ClassicRequest {
            uid,
            request_id: None,
            body,
        };
        Publication {
            channel: self.channels.request().to_owned(),
            payload: request.encode(),
        }
    }
}
