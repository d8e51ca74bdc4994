//! The sharded dialect (`createShardedAdapter`): one envelope
//! `{type, data, uid, nsp}` on the main channel `P#N#`, room channels
//! `P#N#<room>#` by subscription mode, and answers on the requester's private
//! channel `P#N#<uid>#`. Everything is `SPUBLISH`ed.

use super::classic::classic_answer;
use super::{
    Action, Answer, Ask, Decoded, Dialect, Dropped, Inbound, Message, Part, PendingRequests, Reply,
    Response, Signal, TimedOut, only_received, waiting_for,
};
use crate::channel::{ShardedChannels, SubscriptionMode};
use crate::limits::Limits;
use crate::node::event::{PublishKind, ServerCountCommand, Subscription};
use crate::options::BroadcastOpts;
use crate::packet::Packet;
use crate::room::Room;
use crate::sharded::{ShardedBody, ShardedMessage};
use crate::value::Value;

/// The sharded channels and encodings of one node.
#[derive(Debug)]
pub(crate) struct Sharded {
    channels: ShardedChannels,
    private: String,
    uid: String,
    nsp: String,
}

/// `body` in the sharded envelope of the node `uid`.
pub(super) fn envelope(uid: &str, nsp: &str, body: ShardedBody) -> Vec<u8> {
    ShardedMessage {
        uid: uid.to_owned(),
        nsp: nsp.to_owned(),
        body,
    }
    .encode()
}

/// The sharded body of a membership signal.
pub(super) fn signal_body(signal: Signal) -> ShardedBody {
    match signal {
        Signal::InitialHeartbeat => ShardedBody::InitialHeartbeat,
        Signal::Heartbeat => ShardedBody::Heartbeat,
        Signal::Close => ShardedBody::AdapterClose,
    }
}

/// The useful part of a response body.
fn part(body: ShardedBody) -> Part {
    match body {
        ShardedBody::FetchSocketsResponse { sockets, .. } => Part::Sockets(sockets),
        ShardedBody::ServerSideEmitResponse { packet, .. } => Part::Ack(Some(packet)),
        ShardedBody::BroadcastClientCount { client_count, .. } => Part::ClientCount(client_count),
        ShardedBody::BroadcastAck { packet, .. } => Part::ClientAck(packet),
        _ => Part::Nothing,
    }
}

/// A response message, if `body` is a response type.
fn response(uid: String, body: ShardedBody) -> Option<Inbound> {
    let wire_id = body.response_request_id()?.to_owned();
    Some(Inbound::Response(Response {
        wire_id,
        from: Some(uid),
        part: Some(part(body)),
    }))
}

impl Sharded {
    /// Prefix `prefix`, subscription mode `mode`.
    pub(crate) fn new(prefix: &str, uid: &str, nsp: &str, mode: SubscriptionMode) -> Self {
        let channels = ShardedChannels::new(prefix, nsp, mode);
        let private = channels.private(uid);
        Sharded {
            channels,
            private,
            uid: uid.to_owned(),
            nsp: nsp.to_owned(),
        }
    }

    fn main(&self, body: ShardedBody) -> Message {
        Message {
            channel: self.channels.main().to_owned(),
            payload: envelope(&self.uid, &self.nsp, body),
        }
    }

    /// Answers go to the requester's private channel.
    fn reply(&self, requester: &str, wire_id: String) -> Reply {
        Reply {
            channel: self.channels.private(requester),
            wire_id,
        }
    }

    /// A message on this node's private channel: only responses are read there.
    fn on_private(&self, payload: &[u8], limits: &Limits) -> Decoded {
        let msg = match ShardedMessage::decode(payload, limits) {
            Ok(msg) => msg,
            Err(_) => return Decoded::dropped(Dropped::Undecodable),
        };
        let inbound = response(msg.uid, msg.body).unwrap_or(Inbound::Dropped(Dropped::UnknownType));
        Decoded {
            alive: None,
            inbound,
        }
    }

    /// A message on the main channel or a room channel.
    fn on_public(&self, payload: &[u8], limits: &Limits) -> Decoded {
        let msg = match ShardedMessage::decode(payload, limits) {
            Ok(msg) => msg,
            Err(_) => return Decoded::dropped(Dropped::Undecodable),
        };
        if msg.uid == self.uid {
            return Decoded::dropped(Dropped::Own);
        }
        if msg.nsp != self.nsp {
            return Decoded::dropped(Dropped::OtherNamespace);
        }
        let uid = msg.uid;
        let signal = |signal| Inbound::PeerSignal {
            uid: uid.clone(),
            signal: Some(signal),
        };
        let inbound = match msg.body {
            ShardedBody::InitialHeartbeat => signal(Signal::InitialHeartbeat),
            ShardedBody::Heartbeat => signal(Signal::Heartbeat),
            ShardedBody::AdapterClose => signal(Signal::Close),
            ShardedBody::Broadcast { packet, opts } => Inbound::Broadcast { packet, opts },
            ShardedBody::BroadcastWithAck {
                request_id,
                packet,
                opts,
            } => Inbound::BroadcastWithAck {
                reply: self.reply(&uid, request_id),
                packet,
                opts,
            },
            ShardedBody::SocketsJoin { opts, rooms } => Inbound::Mutation {
                opts,
                action: Action::Join(rooms),
            },
            ShardedBody::SocketsLeave { opts, rooms } => Inbound::Mutation {
                opts,
                action: Action::Leave(rooms),
            },
            ShardedBody::DisconnectSockets { opts, close } => Inbound::Mutation {
                opts,
                action: Action::Disconnect(close),
            },
            ShardedBody::FetchSockets {
                mut opts,
                request_id,
            } => {
                opts.flags = Default::default();
                Inbound::Ask {
                    reply: self.reply(&uid, request_id),
                    ask: Ask::Fetch { opts },
                }
            }
            ShardedBody::ServerSideEmit { request_id, packet } => Inbound::ServerSideEmit {
                data: packet,
                reply: request_id.map(|id| self.reply(&uid, id)),
            },
            body @ (ShardedBody::FetchSocketsResponse { .. }
            | ShardedBody::ServerSideEmitResponse { .. }
            | ShardedBody::BroadcastClientCount { .. }
            | ShardedBody::BroadcastAck { .. }) => {
                response(uid.clone(), body).unwrap_or(Inbound::Dropped(Dropped::UnknownType))
            }
            _ => Inbound::Dropped(Dropped::UnknownType),
        };
        Decoded {
            alive: Some(uid),
            inbound,
        }
    }
}

impl Dialect for Sharded {
    fn publish_kind(&self) -> PublishKind {
        PublishKind::SPublish
    }

    fn base_subscriptions(&self, _membership: bool) -> Vec<Subscription> {
        vec![
            Subscription::Sharded(self.channels.main().to_owned()),
            Subscription::Sharded(self.private.clone()),
        ]
    }

    fn server_count_channel(&self) -> (String, ServerCountCommand) {
        (
            self.channels.main().to_owned(),
            ServerCountCommand::ShardNumSub,
        )
    }

    fn responses_name_sender(&self) -> bool {
        true
    }

    fn fetch_timeout_ms(&self, opts: &BroadcastOpts, default_ms: u64) -> u64 {
        opts.flags.timeout.unwrap_or(default_ms)
    }

    fn room_subscription(&self, room: &Room) -> Option<Subscription> {
        Some(Subscription::Sharded(self.channels.room(room)))
    }

    fn subscribes_room(&self, room: &Room) -> bool {
        self.channels.subscribes_room(room)
    }

    fn membership(&self, signal: Signal) -> Message {
        self.main(signal_body(signal))
    }

    fn broadcast(&self, mut packet: Packet, opts: &BroadcastOpts) -> Message {
        packet.nsp = None;
        Message {
            channel: self.channels.broadcast_for(&opts.rooms, false),
            payload: envelope(
                &self.uid,
                &self.nsp,
                ShardedBody::Broadcast {
                    packet,
                    opts: opts.clone(),
                },
            ),
        }
    }

    fn broadcast_with_ack(
        &self,
        wire_id: String,
        mut packet: Packet,
        opts: BroadcastOpts,
    ) -> Message {
        packet.nsp = None;
        self.main(ShardedBody::BroadcastWithAck {
            request_id: wire_id,
            packet,
            opts,
        })
    }

    fn mutation(&self, opts: &BroadcastOpts, action: Action) -> Message {
        let opts = opts.clone();
        self.main(match action {
            Action::Join(rooms) => ShardedBody::SocketsJoin { opts, rooms },
            Action::Leave(rooms) => ShardedBody::SocketsLeave { opts, rooms },
            Action::Disconnect(close) => ShardedBody::DisconnectSockets { opts, close },
        })
    }

    fn fetch(&self, wire_id: String, opts: &BroadcastOpts) -> Message {
        self.main(ShardedBody::FetchSockets {
            opts: opts.clone(),
            request_id: wire_id,
        })
    }

    fn has_all_rooms(&self) -> bool {
        // The sharded protocol has no allRooms message (Node answers it locally).
        false
    }

    fn all_rooms(&self, _wire_id: String) -> Option<Message> {
        None
    }

    fn timeout_error(&self, request: TimedOut, received: u64, expected: u64) -> Option<String> {
        match request {
            TimedOut::Fetch | TimedOut::ServerSideEmit => Some(only_received(received, expected)),
            // Node's sharded adapter answers allRooms locally and never times out;
            // crosscast's cluster-wide answer words its timeout as the classic one.
            TimedOut::Rooms => Some(waiting_for("allRooms")),
            TimedOut::Other => None,
        }
    }

    fn server_side_emit(&self, wire_id: Option<String>, data: Vec<Value>) -> Message {
        self.main(ShardedBody::ServerSideEmit {
            request_id: wire_id,
            packet: data,
        })
    }

    fn answer(&self, wire_id: String, answer: Answer) -> Vec<u8> {
        let request_id = wire_id;
        let body = match answer {
            Answer::Fetch(sockets) => ShardedBody::FetchSocketsResponse {
                request_id,
                sockets,
            },
            Answer::ClientCount(client_count) => ShardedBody::BroadcastClientCount {
                request_id,
                client_count,
            },
            Answer::ClientAck(packet) => ShardedBody::BroadcastAck { request_id, packet },
            Answer::ServerSideAck(value) => ShardedBody::ServerSideEmitResponse {
                request_id,
                packet: value.unwrap_or(Value::Nil),
            },
            // Only classic requests ask these; their answers are classic.
            other @ (Answer::SocketIds(_) | Answer::Rooms(_) | Answer::Done) => {
                return classic_answer(request_id, other);
            }
        };
        envelope(&self.uid, &self.nsp, body)
    }

    fn decode(
        &self,
        channel: &str,
        payload: &[u8],
        limits: &Limits,
        _requests: &dyn PendingRequests,
    ) -> Decoded {
        if channel == self.private {
            self.on_private(payload, limits)
        } else if self.channels.suffix(channel).is_some() {
            self.on_public(payload, limits)
        } else {
            Decoded::dropped(Dropped::NotForUs)
        }
    }
}
