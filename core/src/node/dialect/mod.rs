//! The dialect: how one protocol (classic or sharded) writes and reads the
//! node's messages.
//!
//! A [`Dialect`] owns everything that differs between the protocols: the
//! channels and subscriptions, the publish command, the encoding of every
//! outgoing message, and the decoding of every inbound message into one
//! protocol-neutral [`Inbound`]. The node above it keeps requests, questions,
//! membership, timers and stats, and never asks which protocol it speaks.
//!
//! Contract: a dialect is pure. Encoding and decoding change no state; what a
//! decoded message does (count a stat, ask a question, emit an event) is the
//! node's to decide from the [`Inbound`] it gets.

mod classic;
mod sharded;

pub(crate) use classic::Classic;
pub(crate) use sharded::Sharded;

use super::event::{PublishKind, ServerCountCommand, Subscription};
use super::requests::RequestKind;
use crate::limits::Limits;
use crate::options::BroadcastOpts;
use crate::packet::Packet;
use crate::room::Room;
use crate::socket_info::SocketInfo;
use crate::value::Value;

/// One protocol's channels and encodings. See the module docs.
pub(crate) trait Dialect {
    /// The command every message of this protocol is published with.
    fn publish_kind(&self) -> PublishKind;

    /// The subscriptions the node holds for its whole life (`membership`:
    /// heartbeats are on).
    fn base_subscriptions(&self, membership: bool) -> Vec<Subscription>;

    /// The channel whose subscriber count is the server count, and whether it
    /// is counted with `SHARDNUMSUB` (`true`) or `NUMSUB`.
    fn server_count_channel(&self) -> (String, ServerCountCommand);

    /// Whether responses name the server that sent them, so that a request can
    /// tell which live peers have not answered yet.
    fn responses_name_sender(&self) -> bool;

    /// How long a fetchSockets waits: `default_ms`, unless the protocol lets
    /// the request's own `flags.timeout` override it.
    fn fetch_timeout_ms(&self, opts: &BroadcastOpts, default_ms: u64) -> u64;

    /// The subscription of a room's own channel, if the protocol has room
    /// channels (whether or not this room needs one, see
    /// [`Dialect::subscribes_room`]).
    fn room_subscription(&self, room: &Room) -> Option<Subscription>;

    /// Whether a local room needs its own channel subscribed.
    fn subscribes_room(&self, room: &Room) -> bool;

    /// A crosscast membership signal of this node.
    fn membership(&self, signal: Signal) -> Message;

    /// A broadcast to the other servers.
    fn broadcast(&self, packet: Packet, opts: &BroadcastOpts) -> Message;

    /// A broadcast whose client acks are collected under `wire_id`; `opts`
    /// already carries the timeout.
    fn broadcast_with_ack(&self, wire_id: String, packet: Packet, opts: BroadcastOpts) -> Message;

    /// "The sockets matching `opts` do `action`".
    fn mutation(&self, opts: &BroadcastOpts, action: Action) -> Message;

    /// A fetchSockets request.
    fn fetch(&self, wire_id: String, opts: &BroadcastOpts) -> Message;

    /// Whether the protocol has an allRooms message ([`Dialect::all_rooms`]).
    fn has_all_rooms(&self) -> bool;

    /// An allRooms request; `None` when the protocol has no such message.
    fn all_rooms(&self, wire_id: String) -> Option<Message>;

    /// The error of a request that timed out, as the official adapter of this
    /// protocol words it: `received` of `expected` servers answered. `None`
    /// when the request does not fail on a timeout (the app layer words it).
    fn timeout_error(&self, request: TimedOut, received: u64, expected: u64) -> Option<String>;

    /// A server-side event, with `wire_id` when acks are collected.
    fn server_side_emit(&self, wire_id: Option<String>, data: Vec<Value>) -> Message;

    /// The payload of an answer to the request `wire_id` (published on the
    /// channel of its [`Reply`]).
    fn answer(&self, wire_id: String, answer: Answer) -> Vec<u8>;

    /// Decodes one message received on `channel`. `requests` tells which
    /// requests are this node's and what they expect.
    fn decode(
        &self,
        channel: &str,
        payload: &[u8],
        limits: &Limits,
        requests: &dyn PendingRequests,
    ) -> Decoded;
}

/// Which request timed out, for [`Dialect::timeout_error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimedOut {
    Fetch,
    Rooms,
    ServerSideEmit,
    Other,
}

/// The error text of Node's classic adapter for a request without an answer
/// in time.
pub(crate) fn waiting_for(what: &str) -> String {
    format!("timeout reached while waiting for {what} response")
}

/// The error text of Node's ClusterAdapter (sharded; classic serverSideEmit):
/// `received` of `expected` answers came in time.
pub(crate) fn only_received(received: u64, expected: u64) -> String {
    format!("timeout reached: only {received} responses received out of {expected}")
}

/// What a dialect needs to know of the node's pending requests to read a message.
pub(crate) trait PendingRequests {
    /// Whether `wire_id` names a pending request of this node.
    fn owns(&self, wire_id: &str) -> bool;

    /// What the pending request `wire_id` collects, if it is pending.
    fn kind_of(&self, wire_id: &str) -> Option<RequestKind>;
}

/// A message to publish.
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) channel: String,
    pub(crate) payload: Vec<u8>,
}

/// Where, and under which request id, to answer a peer's request.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub(crate) channel: String,
    pub(crate) wire_id: String,
}

/// A crosscast membership signal (message types 1, 2 and 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    InitialHeartbeat,
    Heartbeat,
    Close,
}

/// What a join, leave or disconnect does to the sockets it targets.
#[derive(Debug)]
pub(crate) enum Action {
    Join(Vec<Room>),
    Leave(Vec<Room>),
    Disconnect(bool),
}

/// An answer of this node to a peer's request.
#[derive(Debug)]
pub(crate) enum Answer {
    /// fetchSockets.
    Fetch(Vec<SocketInfo>),
    /// The legacy socket-ids request.
    SocketIds(Vec<String>),
    /// allRooms.
    Rooms(Vec<Room>),
    /// A legacy single-socket join/leave/disconnect is done.
    Done,
    /// The local client count of a broadcast with acks.
    ClientCount(u64),
    /// One local client's ack of a broadcast with acks.
    ClientAck(Value),
    /// The ack of a server-side event (`None`: an ack without argument).
    ServerSideAck(Option<Value>),
}

/// A decoded message: what it says, and which peer it shows alive.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// A sender whose membership this message refreshes, if it is a member.
    pub(crate) alive: Option<String>,
    /// What the message asks of the node.
    pub(crate) inbound: Inbound,
}

impl Decoded {
    pub(crate) fn dropped(why: Dropped) -> Self {
        Decoded {
            alive: None,
            inbound: Inbound::Dropped(why),
        }
    }
}

/// Why a message is dropped without effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// The bytes are not a message of the protocol.
    Undecodable,
    /// This node's own message, heard back.
    Own,
    /// A message of another namespace.
    OtherNamespace,
    /// A channel, or a response, for another node.
    NotForUs,
    /// A message type the node does not handle.
    UnknownType,
    /// A request that wants an answer but names no request id (not counted).
    Unanswerable,
}

/// A peer's message, protocol-neutral.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// Nothing to do (count why).
    Dropped(Dropped),
    /// A crosscast peer's membership signal; `None`: another message type on
    /// the membership channel.
    PeerSignal { uid: String, signal: Option<Signal> },
    /// Deliver to the local sockets matching `opts`.
    Broadcast { packet: Packet, opts: BroadcastOpts },
    /// Deliver with acks; answer counts and acks to `reply`.
    BroadcastWithAck {
        reply: Reply,
        packet: Packet,
        opts: BroadcastOpts,
    },
    /// The local sockets matching `opts` do `action`.
    Mutation { opts: BroadcastOpts, action: Action },
    /// The local socket `sid` does `action`; answer [`Answer::Done`] to `reply`.
    SocketMutation {
        sid: String,
        action: Action,
        reply: Option<Reply>,
    },
    /// A question about local state, answered to `reply`.
    Ask { reply: Reply, ask: Ask },
    /// A server-side event `[event, ...args]`, acked to `reply` if present.
    ServerSideEmit {
        data: Vec<Value>,
        reply: Option<Reply>,
    },
    /// An answer to one of this node's requests.
    Response(Response),
}

/// What a peer's question asks.
#[derive(Debug)]
pub(crate) enum Ask {
    /// The ids of the local sockets in `rooms` (legacy).
    SocketIds { rooms: Vec<Room> },
    /// Every local room.
    Rooms,
    /// The local sockets matching `opts`.
    Fetch { opts: BroadcastOpts },
}

/// An answer to the request `wire_id`, from `from` when the protocol names it.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) wire_id: String,
    pub(crate) from: Option<String>,
    /// The useful part; `None` when the response cannot count for the request
    /// it names (it is then dropped).
    pub(crate) part: Option<Part>,
}

/// The useful part of one response.
#[derive(Debug)]
pub(crate) enum Part {
    Sockets(Vec<SocketInfo>),
    Rooms(Vec<Room>),
    Ack(Option<Value>),
    ClientCount(u64),
    ClientAck(Value),
    Nothing,
}

/// The dialect a node speaks: one of the two, dispatched statically (so the
/// node stays plain data, `Send`, `Sync` and unwind-safe like its parts).
#[derive(Debug)]
pub(crate) enum AnyDialect {
    Classic(Classic),
    Sharded(Sharded),
}

impl AnyDialect {
    /// The dialect of `protocol` for the node `uid` of namespace `nsp`.
    pub(crate) fn new(protocol: &super::Protocol, uid: &str, nsp: &str) -> Self {
        match protocol {
            super::Protocol::Classic {
                key,
                publish_on_specific_response_channel,
            } => AnyDialect::Classic(Classic::new(
                key,
                uid,
                nsp,
                *publish_on_specific_response_channel,
            )),
            super::Protocol::Sharded {
                channel_prefix,
                subscription_mode,
            } => AnyDialect::Sharded(Sharded::new(channel_prefix, uid, nsp, *subscription_mode)),
        }
    }
}

/// Calls the same method on whichever dialect it is.
macro_rules! each {
    ($self:ident, $d:ident => $call:expr) => {
        match $self {
            AnyDialect::Classic($d) => $call,
            AnyDialect::Sharded($d) => $call,
        }
    };
}

impl Dialect for AnyDialect {
    fn publish_kind(&self) -> PublishKind {
        each!(self, d => d.publish_kind())
    }

    fn base_subscriptions(&self, membership: bool) -> Vec<Subscription> {
        each!(self, d => d.base_subscriptions(membership))
    }

    fn server_count_channel(&self) -> (String, ServerCountCommand) {
        each!(self, d => d.server_count_channel())
    }

    fn responses_name_sender(&self) -> bool {
        each!(self, d => d.responses_name_sender())
    }

    fn fetch_timeout_ms(&self, opts: &BroadcastOpts, default_ms: u64) -> u64 {
        each!(self, d => d.fetch_timeout_ms(opts, default_ms))
    }

    fn room_subscription(&self, room: &Room) -> Option<Subscription> {
        each!(self, d => d.room_subscription(room))
    }

    fn subscribes_room(&self, room: &Room) -> bool {
        each!(self, d => d.subscribes_room(room))
    }

    fn membership(&self, signal: Signal) -> Message {
        each!(self, d => d.membership(signal))
    }

    fn broadcast(&self, packet: Packet, opts: &BroadcastOpts) -> Message {
        each!(self, d => d.broadcast(packet, opts))
    }

    fn broadcast_with_ack(&self, wire_id: String, packet: Packet, opts: BroadcastOpts) -> Message {
        each!(self, d => d.broadcast_with_ack(wire_id, packet, opts))
    }

    fn mutation(&self, opts: &BroadcastOpts, action: Action) -> Message {
        each!(self, d => d.mutation(opts, action))
    }

    fn fetch(&self, wire_id: String, opts: &BroadcastOpts) -> Message {
        each!(self, d => d.fetch(wire_id, opts))
    }

    fn has_all_rooms(&self) -> bool {
        each!(self, d => d.has_all_rooms())
    }

    fn all_rooms(&self, wire_id: String) -> Option<Message> {
        each!(self, d => d.all_rooms(wire_id))
    }

    fn timeout_error(&self, request: TimedOut, received: u64, expected: u64) -> Option<String> {
        each!(self, d => d.timeout_error(request, received, expected))
    }

    fn server_side_emit(&self, wire_id: Option<String>, data: Vec<Value>) -> Message {
        each!(self, d => d.server_side_emit(wire_id, data))
    }

    fn answer(&self, wire_id: String, answer: Answer) -> Vec<u8> {
        each!(self, d => d.answer(wire_id, answer))
    }

    fn decode(
        &self,
        channel: &str,
        payload: &[u8],
        limits: &Limits,
        requests: &dyn PendingRequests,
    ) -> Decoded {
        each!(self, d => d.decode(channel, payload, limits, requests))
    }
}
