//! What the node hands to its host: messages to publish, subscriptions to
//! change, events to apply locally, questions to answer and results of the
//! host's own requests.

use crate::options::BroadcastOpts;
use crate::packet::Packet;
use crate::room::Room;
use crate::socket_info::SocketInfo;
use crate::value::Value;

/// An opaque id that the node hands out: a host keeps it and gives it back,
/// and never makes one up. `to_raw`/`from_raw` are for bindings that pass ids
/// through another language (the wasm host's JavaScript numbers); an id made
/// up from a number the node never handed out is refused with
/// [`crate::UsageError::UnknownQuestion`] or ignored.
macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub(crate) u64);

        impl $name {
            /// The number behind the id, to carry it through a binding.
            pub fn to_raw(self) -> u64 {
                self.0
            }

            /// The id behind a number [`Self::to_raw`] gave.
            pub fn from_raw(raw: u64) -> Self {
                Self(raw)
            }
        }
    };
}

opaque_id!(
    /// A request this node made (fetchSockets, rooms, serverSideEmit with ack,
    /// broadcast with ack, serverCount). Unique per node.
    RequestId
);

opaque_id!(
    /// A question to the host. Each must be answered once, or it expires.
    QuestionId
);

opaque_id!(
    /// A remote broadcast with acks that the host delivered locally: the host
    /// reports its client count and each client ack under this id.
    RemoteAckId
);

opaque_id!(
    /// A remote server-side event that wants one ack from this node.
    ServerSideAckId
);

/// The Redis command that publishes a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PublishKind {
    /// `PUBLISH` (classic).
    Publish,
    /// `SPUBLISH` (sharded).
    SPublish,
}

/// The Redis command that counts the servers subscribed to a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerCountCommand {
    /// `PUBSUB NUMSUB` (classic).
    NumSub,
    /// `PUBSUB SHARDNUMSUB` (sharded).
    ShardNumSub,
}

/// A message to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The command.
    pub kind: PublishKind,
    /// The channel.
    pub channel: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// A subscription the host holds on its subscriber connection.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Subscription {
    /// `SUBSCRIBE channel`.
    Channel(String),
    /// `PSUBSCRIBE pattern`.
    Pattern(String),
    /// `SSUBSCRIBE channel`.
    Sharded(String),
}

/// A question only the host can answer.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Question {
    /// How many servers subscribe to `channel`? (`PUBSUB NUMSUB` or
    /// `PUBSUB SHARDNUMSUB`, summed over masters on a Redis Cluster.)
    /// Answer with [`super::Node::answer_server_count`].
    ServerCount {
        /// The question.
        id: QuestionId,
        /// The channel whose subscribers are the servers.
        channel: String,
        /// The command that counts them.
        command: ServerCountCommand,
    },
    /// Which local sockets match `opts` (rooms/except only), with their
    /// handshake, rooms and data? Answer with [`super::Node::answer_local_sockets`].
    LocalSockets {
        /// The question.
        id: QuestionId,
        /// Which sockets.
        opts: BroadcastOpts,
    },
    /// Every local room, socket-id rooms included? Answer with
    /// [`super::Node::answer_local_rooms`].
    LocalRooms {
        /// The question.
        id: QuestionId,
    },
}

/// Something the host must do or know.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// Subscribe on the subscriber connection.
    Subscribe(Subscription),
    /// Unsubscribe on the subscriber connection.
    Unsubscribe(Subscription),
    /// Deliver `packet` to the local sockets matching `opts`.
    Broadcast {
        /// The packet.
        packet: Packet,
        /// Targets and flags (`volatile`, `compress`).
        opts: BroadcastOpts,
    },
    /// Deliver `packet` with ack ids to the local sockets matching `opts`, then
    /// report the client count ([`super::Node::handle_remote_client_count`])
    /// and each client ack ([`super::Node::handle_remote_ack`]) under `ack`.
    BroadcastWithAck {
        /// Where to report counts and acks.
        ack: RemoteAckId,
        /// The packet.
        packet: Packet,
        /// Targets (flags are not passed on, as in Node).
        opts: BroadcastOpts,
        /// How long the requester waits, in ms: acks after that are useless.
        timeout_ms: u64,
    },
    /// The local sockets matching `opts` join `rooms`.
    SocketsJoin {
        /// Which sockets.
        opts: BroadcastOpts,
        /// Rooms to join.
        rooms: Vec<Room>,
    },
    /// The local sockets matching `opts` leave `rooms`.
    SocketsLeave {
        /// Which sockets.
        opts: BroadcastOpts,
        /// Rooms to leave.
        rooms: Vec<Room>,
    },
    /// The local sockets matching `opts` disconnect.
    DisconnectSockets {
        /// Which sockets.
        opts: BroadcastOpts,
        /// Whether to close the underlying connection.
        close: bool,
    },
    /// A server-side event from another server: `[event, ...args]`. With `ack`,
    /// answer once with [`super::Node::handle_server_side_ack`].
    ServerSideEmit {
        /// `[event, ...args]`.
        data: Vec<Value>,
        /// Present when the sender waits for an ack.
        ack: Option<ServerSideAckId>,
    },
    /// Answer this question.
    Question(Question),
    /// A client ack for this node's broadcast with acks, as it arrives.
    AckReceived {
        /// The request.
        request: RequestId,
        /// The first argument of the client's ack.
        value: Value,
    },
    /// One of this node's requests is complete.
    Completed(Completion),
    /// A crosscast peer was heard from for the first time.
    PeerUp {
        /// Its uid.
        uid: String,
    },
    /// A crosscast peer left (closed, or its heartbeats stopped).
    PeerDown {
        /// Its uid.
        uid: String,
        /// `true` if it announced its close; `false` if it went silent.
        closed: bool,
    },
}

/// The end of one of this node's requests.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The request.
    pub request: RequestId,
    /// What the other servers answered (this node's own part is not included).
    pub outcome: Outcome,
    /// How many expected answers never came: servers for fetch/allRooms/
    /// serverSideEmit, servers plus client acks for a broadcast with acks.
    pub missing: u64,
    /// Whether the deadline ended it (`missing` is then usually above zero).
    pub timed_out: bool,
    /// Remote servers the request waited for: the server count when it started,
    /// minus this node (for serverCount: the servers it counted, minus this node).
    pub servers_expected: u64,
    /// Remote servers that answered (for a broadcast with acks: that reported
    /// their client count).
    pub servers_answered: u64,
    /// `Some` when the request failed: the error the app gets, worded as the
    /// official adapter of this protocol words it (a fetchSockets, rooms or
    /// serverSideEmit request that timed out). The host rejects with exactly
    /// this text; `outcome` still holds what arrived (serverSideEmit passes it
    /// on with the error, as Node does). `None` on success, on cancellation
    /// ([`Outcome::Cancelled`]) and for the requests whose timeout the app
    /// layer words itself (a broadcast with acks: socket.io's own
    /// "operation has timed out").
    pub error: Option<String>,
}

/// The result of a request, from the other servers.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// fetchSockets: the remote sockets.
    Fetch(Vec<SocketInfo>),
    /// rooms ([`super::Node::rooms`]): the union of the remote rooms (of the
    /// matching sockets), sorted, without duplicates.
    AllRooms(Vec<Room>),
    /// serverSideEmit with ack: one value per answering server.
    ServerSideEmit(Vec<Value>),
    /// broadcast with acks: the totals (the acks themselves came as
    /// [`Event::AckReceived`]).
    BroadcastAck {
        /// The client count of each remote server that replied, in arrival
        /// order (socket.io wants one client-count callback per server).
        client_counts: Vec<u64>,
        /// Remote clients that were sent the packet (their sum, saturating).
        clients: u64,
        /// Acks received.
        acks: u64,
    },
    /// serverCount: the number of servers, this one included.
    ServerCount(u64),
    /// The node closed before the request ended.
    Cancelled,
}
