//! The classic dialect (`createAdapter`): broadcasts on `K#N#` and room
//! channels, requests on `K-request#N#`, responses on `K-response#N#` (or the
//! requester's `K-response#N#<uid>#`), crosscast membership on
//! `K-crosscast#N#` in the sharded envelope. Everything is `PUBLISH`ed.

use super::{
    Action, Answer, Ask, Decoded, Dialect, Dropped, Inbound, Message, Part, PendingRequests, Reply,
    Response, Signal, TimedOut, only_received, waiting_for,
};
use crate::channel::{ClassicChannel, ClassicChannels};
use crate::classic::{
    ClassicBroadcast, ClassicRequest, ClassicResponse, RawResponse, RequestBody, RequestType,
    Target,
};
use crate::limits::Limits;
use crate::node::event::{PublishKind, ServerCountCommand, Subscription};
use crate::node::requests::RequestKind;
use crate::options::BroadcastOpts;
use crate::packet::Packet;
use crate::room::Room;
use crate::sharded::{ShardedBody, ShardedMessage};
use crate::value::Value;

/// The classic channels and encodings of one node.
#[derive(Debug)]
pub(crate) struct Classic {
    channels: ClassicChannels,
    members: String,
    specific: bool,
    uid: String,
    nsp: String,
}

impl Classic {
    /// Prefix `key`; `specific`: answer on the requester's own response channel.
    pub(crate) fn new(key: &str, uid: &str, nsp: &str, specific: bool) -> Self {
        Classic {
            channels: ClassicChannels::new(key, nsp),
            members: format!("{key}-crosscast#{nsp}#"),
            specific,
            uid: uid.to_owned(),
            nsp: nsp.to_owned(),
        }
    }

    fn request(&self, request_id: Option<String>, body: RequestBody) -> Message {
        Message {
            channel: self.channels.request().to_owned(),
            payload: ClassicRequest {
                uid: Some(self.uid.clone()),
                request_id,
                body,
            }
            .encode(),
        }
    }

    /// Where to answer a request of `requester`.
    fn reply(&self, requester: Option<&str>, wire_id: String) -> Reply {
        let channel = match (self.specific, requester) {
            (true, Some(uid)) => self.channels.specific_response(uid),
            _ => self.channels.response().to_owned(),
        };
        Reply { channel, wire_id }
    }

    fn on_membership(&self, payload: &[u8], limits: &Limits) -> Decoded {
        let inbound = match ShardedMessage::decode(payload, limits) {
            Ok(msg) if msg.uid == self.uid => Inbound::Dropped(Dropped::Own),
            Ok(msg) if msg.nsp != self.nsp => Inbound::Dropped(Dropped::OtherNamespace),
            Ok(msg) => Inbound::PeerSignal {
                uid: msg.uid,
                signal: match msg.body {
                    ShardedBody::InitialHeartbeat => Some(Signal::InitialHeartbeat),
                    ShardedBody::Heartbeat => Some(Signal::Heartbeat),
                    ShardedBody::AdapterClose => Some(Signal::Close),
                    _ => None,
                },
            },
            Err(_) => Inbound::Dropped(Dropped::Undecodable),
        };
        Decoded {
            alive: None,
            inbound,
        }
    }

    fn on_broadcast(&self, payload: &[u8], limits: &Limits) -> Decoded {
        let msg = match ClassicBroadcast::decode(payload, limits) {
            Ok(msg) => msg,
            Err(_) => return Decoded::dropped(Dropped::Undecodable),
        };
        if msg.uid == self.uid {
            return Decoded::dropped(Dropped::Own);
        }
        if msg.packet.nsp.as_deref() != Some(self.nsp.as_str()) {
            return Decoded::dropped(Dropped::OtherNamespace);
        }
        Decoded {
            alive: Some(msg.uid),
            inbound: Inbound::Broadcast {
                packet: msg.packet,
                opts: msg.opts,
            },
        }
    }

    fn on_request(
        &self,
        payload: &[u8],
        limits: &Limits,
        requests: &dyn PendingRequests,
    ) -> Decoded {
        let req = match ClassicRequest::decode(payload, limits) {
            Ok(req) => req,
            Err(_) => return Decoded::dropped(Dropped::Undecodable),
        };
        // A request of this node (by request id) or of this uid, heard back.
        let own_uid = req.uid.as_deref() == Some(self.uid.as_str());
        let own_request = req
            .request_id
            .as_deref()
            .is_some_and(|id| requests.owns(id));
        let requester = req.uid.as_deref();
        let reply = req.request_id.map(|id| self.reply(requester, id));
        let ask = |reply: Option<Reply>, ask: Ask| {
            if own_request {
                Inbound::Dropped(Dropped::Own)
            } else {
                match reply {
                    Some(reply) => Inbound::Ask { reply, ask },
                    None => Inbound::Dropped(Dropped::Unanswerable),
                }
            }
        };
        let inbound = match req.body {
            RequestBody::Sockets { rooms } => ask(reply, Ask::SocketIds { rooms }),
            RequestBody::AllRooms => ask(reply, Ask::Rooms),
            RequestBody::Fetch { opts } => ask(reply, Ask::Fetch { opts }),
            RequestBody::Join { target, rooms } => {
                mutation(own_uid, target, reply, Action::Join(rooms))
            }
            RequestBody::Leave { target, rooms } => {
                mutation(own_uid, target, reply, Action::Leave(rooms))
            }
            RequestBody::Disconnect { target, close } => {
                mutation(own_uid, target, reply, Action::Disconnect(close))
            }
            RequestBody::ServerSideEmit { data } => {
                if own_uid {
                    Inbound::Dropped(Dropped::Own)
                } else {
                    Inbound::ServerSideEmit {
                        data,
                        // Node always answers server-side acks on the generic channel.
                        reply: reply.map(|r| Reply {
                            channel: self.channels.response().to_owned(),
                            wire_id: r.wire_id,
                        }),
                    }
                }
            }
            RequestBody::Broadcast { packet, opts } => match reply {
                _ if own_request => Inbound::Dropped(Dropped::Own),
                // A broadcast with acks must name its request.
                None => Inbound::Dropped(Dropped::Undecodable),
                Some(reply) => Inbound::BroadcastWithAck {
                    reply,
                    packet,
                    opts,
                },
            },
            RequestBody::Unknown { .. } => Inbound::Dropped(Dropped::UnknownType),
        };
        Decoded {
            alive: req.uid,
            inbound,
        }
    }

    fn on_response(
        &self,
        payload: &[u8],
        limits: &Limits,
        requests: &dyn PendingRequests,
    ) -> Decoded {
        let raw = match RawResponse::decode(payload, limits) {
            Ok(raw) => raw,
            Err(_) => return Decoded::dropped(Dropped::Undecodable),
        };
        let wire_id = raw.request_id.clone();
        // A classic response reads by the request it answers.
        let expecting = match requests.kind_of(&wire_id) {
            Some(RequestKind::Fetch) => Some(RequestType::RemoteFetch),
            Some(RequestKind::AllRooms) => Some(RequestType::AllRooms),
            Some(RequestKind::ServerSideEmit) => Some(RequestType::ServerSideEmit),
            Some(RequestKind::BroadcastAck) => Some(RequestType::Broadcast),
            Some(RequestKind::ServerCount) | None => None,
        };
        let part = expecting.map(|t| match raw.interpret(t) {
            ClassicResponse::Fetch { sockets, .. } => Part::Sockets(sockets),
            ClassicResponse::AllRooms { rooms, .. } => Part::Rooms(rooms),
            ClassicResponse::ServerSideEmit { data, .. } => Part::Ack(data),
            ClassicResponse::ClientCount { client_count, .. } => Part::ClientCount(client_count),
            ClassicResponse::Ack { packet, .. } => Part::ClientAck(packet),
            _ => Part::Nothing,
        });
        Decoded {
            alive: None,
            inbound: Inbound::Response(Response {
                wire_id,
                from: None,
                part,
            }),
        }
    }
}

/// A join, leave or disconnect request.
fn mutation(own_uid: bool, target: Target, reply: Option<Reply>, action: Action) -> Inbound {
    match target {
        // The host applied its own operation when it made it.
        Target::Opts(_) if own_uid => Inbound::Dropped(Dropped::Own),
        Target::Opts(opts) => Inbound::Mutation { opts, action },
        Target::Socket { sid } => Inbound::SocketMutation { sid, action, reply },
    }
}

/// The classic encoding of an answer (also what the sharded dialect writes
/// for the answers only classic requests ask for).
pub(super) fn classic_answer(request_id: String, answer: Answer) -> Vec<u8> {
    match answer {
        Answer::Fetch(sockets) => ClassicResponse::Fetch {
            request_id,
            sockets,
        },
        Answer::SocketIds(sockets) => ClassicResponse::Sockets {
            request_id,
            sockets,
        },
        Answer::Rooms(rooms) => ClassicResponse::AllRooms { request_id, rooms },
        Answer::Done => ClassicResponse::Done { request_id },
        Answer::ClientCount(client_count) => ClassicResponse::ClientCount {
            request_id,
            client_count,
        },
        Answer::ClientAck(packet) => ClassicResponse::Ack { request_id, packet },
        Answer::ServerSideAck(data) => ClassicResponse::ServerSideEmit { request_id, data },
    }
    .encode()
}

impl Dialect for Classic {
    fn publish_kind(&self) -> PublishKind {
        PublishKind::Publish
    }

    fn base_subscriptions(&self, membership: bool) -> Vec<Subscription> {
        let mut subs = vec![
            Subscription::Pattern(self.channels.broadcast_pattern()),
            Subscription::Channel(self.channels.request().to_owned()),
            Subscription::Channel(self.channels.response().to_owned()),
            Subscription::Channel(self.channels.specific_response(&self.uid)),
        ];
        if membership {
            subs.push(Subscription::Channel(self.members.clone()));
        }
        subs
    }

    fn server_count_channel(&self) -> (String, ServerCountCommand) {
        (
            self.channels.request().to_owned(),
            ServerCountCommand::NumSub,
        )
    }

    fn responses_name_sender(&self) -> bool {
        false
    }

    fn fetch_timeout_ms(&self, _opts: &BroadcastOpts, default_ms: u64) -> u64 {
        default_ms
    }

    fn room_subscription(&self, _room: &Room) -> Option<Subscription> {
        None
    }

    fn subscribes_room(&self, _room: &Room) -> bool {
        false
    }

    fn membership(&self, signal: Signal) -> Message {
        Message {
            channel: self.members.clone(),
            payload: super::sharded::envelope(
                &self.uid,
                &self.nsp,
                super::sharded::signal_body(signal),
            ),
        }
    }

    fn broadcast(&self, mut packet: Packet, opts: &BroadcastOpts) -> Message {
        packet.nsp = Some(self.nsp.clone());
        Message {
            channel: self.channels.broadcast_for(&opts.rooms),
            payload: ClassicBroadcast {
                uid: self.uid.clone(),
                packet,
                opts: opts.clone(),
            }
            .encode(),
        }
    }

    fn broadcast_with_ack(
        &self,
        wire_id: String,
        mut packet: Packet,
        opts: BroadcastOpts,
    ) -> Message {
        packet.nsp = Some(self.nsp.clone());
        self.request(Some(wire_id), RequestBody::Broadcast { packet, opts })
    }

    fn mutation(&self, opts: &BroadcastOpts, action: Action) -> Message {
        let target = Target::Opts(opts.clone());
        let body = match action {
            Action::Join(rooms) => RequestBody::Join { target, rooms },
            Action::Leave(rooms) => RequestBody::Leave { target, rooms },
            Action::Disconnect(close) => RequestBody::Disconnect { target, close },
        };
        self.request(None, body)
    }

    fn fetch(&self, wire_id: String, opts: &BroadcastOpts) -> Message {
        self.request(Some(wire_id), RequestBody::Fetch { opts: opts.clone() })
    }

    fn has_all_rooms(&self) -> bool {
        true
    }

    fn all_rooms(&self, wire_id: String) -> Option<Message> {
        Some(self.request(Some(wire_id), RequestBody::AllRooms))
    }

    fn timeout_error(&self, request: TimedOut, received: u64, expected: u64) -> Option<String> {
        match request {
            TimedOut::Fetch => Some(waiting_for("fetchSockets")),
            TimedOut::Rooms => Some(waiting_for("allRooms")),
            // The classic adapter's serverSideEmit words it as the ClusterAdapter does.
            TimedOut::ServerSideEmit => Some(only_received(received, expected)),
            TimedOut::Other => None,
        }
    }

    fn server_side_emit(&self, wire_id: Option<String>, data: Vec<Value>) -> Message {
        self.request(wire_id, RequestBody::ServerSideEmit { data })
    }

    fn answer(&self, wire_id: String, answer: Answer) -> Vec<u8> {
        classic_answer(wire_id, answer)
    }

    fn decode(
        &self,
        channel: &str,
        payload: &[u8],
        limits: &Limits,
        requests: &dyn PendingRequests,
    ) -> Decoded {
        if channel == self.members {
            return self.on_membership(payload, limits);
        }
        match self.channels.classify(channel) {
            Some(ClassicChannel::Broadcast | ClassicChannel::RoomBroadcast(_)) => {
                self.on_broadcast(payload, limits)
            }
            Some(ClassicChannel::Request) => self.on_request(payload, limits, requests),
            Some(ClassicChannel::Response) => self.on_response(payload, limits, requests),
            Some(ClassicChannel::SpecificResponse(uid)) if uid == self.uid => {
                self.on_response(payload, limits, requests)
            }
            _ => Decoded::dropped(Dropped::NotForUs),
        }
    }
}
