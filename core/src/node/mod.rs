//! The cluster node: one namespace adapter's share of the cluster protocol,
//! sans-IO.
//!
//! A [`Node`] takes inputs (a message from Redis, an operation of the local app,
//! an answer to one of its questions, a timer) and produces outputs that the host
//! drains until `None`: [`Node::poll_transmit`] (messages to publish),
//! [`Node::poll_event`] (subscriptions, events to apply locally, questions,
//! results) and [`Node::poll_timeout`] (the next deadline).
//!
//! Division of work with the host: the host delivers every operation of its own
//! app to its own sockets itself (a broadcast, a join, a disconnect), and merges
//! its own sockets into the results of its own requests; the node publishes the
//! operation to the other servers and applies what they publish. An operation
//! with the `local` flag never reaches the node.

mod event;
mod members;
mod requests;
mod stats;
mod time;
mod timer;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use event::{
    Completion, Event, Outcome, PublishKind, Question, QuestionId, RemoteAckId, RequestId,
    ServerSideAckId, Subscription, Transmit,
};
pub use stats::Stats;
pub use time::Time;
pub use timer::TimerKind;

use crate::channel::{ClassicChannel, ClassicChannels, ShardedChannels, SubscriptionMode};
use crate::classic::{
    ClassicBroadcast, ClassicRequest, ClassicResponse, RawResponse, RequestBody, RequestType,
    Target,
};
use crate::error::UsageError;
use crate::limits::Limits;
use crate::options::BroadcastOpts;
use crate::packet::Packet;
use crate::room::Room;
use crate::sharded::{ShardedBody, ShardedMessage};
use crate::socket_info::SocketInfo;
use crate::value::Value;
use members::Members;
use requests::{Collected, Pending, Requests};
use timer::Timers;

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

/// Why the node asked a question.
#[derive(Debug)]
enum Purpose {
    ServerCount,
    Fetch {
        reply: Reply,
    },
    SocketIds {
        reply: Reply,
    },
    Rooms {
        reply: Reply,
    },
    Legacy {
        reply: Option<Reply>,
        action: LegacyAction,
    },
}

/// Where and under which request id to answer.
#[derive(Debug)]
struct Reply {
    channel: String,
    wire_id: String,
}

#[derive(Debug)]
enum LegacyAction {
    Join(Vec<Room>),
    Leave(Vec<Room>),
    Disconnect(bool),
}

/// A remote broadcast with acks delivered locally.
#[derive(Debug)]
struct RemoteAck {
    reply: Reply,
    count_sent: bool,
}

/// The channels of the protocol in use.
#[derive(Debug)]
enum Wire {
    Classic {
        channels: ClassicChannels,
        members: String,
        specific: bool,
    },
    Sharded {
        channels: ShardedChannels,
        private: String,
    },
}

/// One namespace adapter's protocol state. See the module docs for the run loop.
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    wire: Wire,
    closed: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    timers: Timers,
    requests: Requests,
    members: Members,
    questions: BTreeMap<QuestionId, Purpose>,
    count_question: Option<QuestionId>,
    remote_acks: BTreeMap<RemoteAckId, RemoteAck>,
    server_side_acks: BTreeMap<ServerSideAckId, Reply>,
    room_channels: BTreeSet<String>,
    next_id: u64,
    stats: Stats,
}

impl Node {
    /// A node that starts at `now`. Its first outputs are its subscriptions and,
    /// with membership on, its first heartbeat.
    pub fn new(mut config: NodeConfig, now: Time) -> Result<Node, UsageError> {
        if config.uid.is_empty() || config.uid == crate::classic::EMITTER_UID {
            return Err(UsageError::InvalidArgument(
                "uid must be non-empty and not `emitter`",
            ));
        }
        if config.nsp.is_empty() {
            return Err(UsageError::InvalidArgument("namespace must not be empty"));
        }
        if config.requests_timeout_ms == 0 {
            config.requests_timeout_ms = 5000;
        }
        let wire = match &config.protocol {
            Protocol::Classic {
                key,
                publish_on_specific_response_channel,
            } => Wire::Classic {
                channels: ClassicChannels::new(key, &config.nsp),
                members: format!("{key}-crosscast#{}#", config.nsp),
                specific: *publish_on_specific_response_channel,
            },
            Protocol::Sharded {
                channel_prefix,
                subscription_mode,
            } => {
                let channels =
                    ShardedChannels::new(channel_prefix, &config.nsp, *subscription_mode);
                let private = channels.private(&config.uid);
                Wire::Sharded { channels, private }
            }
        };
        let mut node = Node {
            config,
            wire,
            closed: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            timers: Timers::default(),
            requests: Requests::default(),
            members: Members::default(),
            questions: BTreeMap::new(),
            count_question: None,
            remote_acks: BTreeMap::new(),
            server_side_acks: BTreeMap::new(),
            room_channels: BTreeSet::new(),
            next_id: 1,
            stats: Stats::default(),
        };
        for sub in node.base_subscriptions() {
            node.events.push_back(Event::Subscribe(sub));
        }
        if node.config.heartbeat_interval_ms > 0 {
            node.send_membership(ShardedBody::InitialHeartbeat);
            node.timers.set(
                TimerKind::Heartbeat,
                now + node.config.heartbeat_interval_ms,
            );
        }
        Ok(node)
    }

    /// This node's uid.
    pub fn uid(&self) -> &str {
        &self.config.uid
    }

    /// The namespace.
    pub fn nsp(&self) -> &str {
        &self.config.nsp
    }

    /// The configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Counters of what the node saw and did.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The crosscast peers currently alive, by uid.
    pub fn peers(&self) -> Vec<String> {
        self.members.uids().cloned().collect()
    }

    /// How many of this node's requests are pending.
    pub fn pending_requests(&self) -> usize {
        self.requests.len()
    }

    /// The next message to publish.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the host.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest deadline and what it is for; call [`Node::handle_timeout`]
    /// once it has passed.
    pub fn poll_timeout(&self) -> Option<(Time, TimerKind)> {
        self.timers.next()
    }

    fn base_subscriptions(&self) -> Vec<Subscription> {
        match &self.wire {
            Wire::Classic {
                channels, members, ..
            } => {
                let mut subs = vec![
                    Subscription::Pattern(channels.broadcast_pattern()),
                    Subscription::Channel(channels.request().to_owned()),
                    Subscription::Channel(channels.response().to_owned()),
                    Subscription::Channel(channels.specific_response(&self.config.uid)),
                ];
                if self.config.heartbeat_interval_ms > 0 {
                    subs.push(Subscription::Channel(members.clone()));
                }
                subs
            }
            Wire::Sharded { channels, private } => vec![
                Subscription::Sharded(channels.main().to_owned()),
                Subscription::Sharded(private.clone()),
            ],
        }
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn wire_id(&self, id: RequestId) -> String {
        format!("{}.{}", self.config.uid, id.0)
    }

    fn publish(&mut self, channel: String, payload: Vec<u8>) {
        let kind = match self.wire {
            Wire::Classic { .. } => PublishKind::Publish,
            Wire::Sharded { .. } => PublishKind::SPublish,
        };
        self.stats.published += 1;
        self.transmits.push_back(Transmit {
            kind,
            channel,
            payload,
        });
    }

    fn sharded(&self, body: ShardedBody) -> Vec<u8> {
        ShardedMessage {
            uid: self.config.uid.clone(),
            nsp: self.config.nsp.clone(),
            body,
        }
        .encode()
    }

    /// Publishes an answer on `channel`, in the form of the protocol in use.
    fn respond<T>(
        &mut self,
        channel: String,
        data: T,
        classic: impl FnOnce(T) -> ClassicResponse,
        sharded: impl FnOnce(T) -> ShardedBody,
    ) {
        let payload = match self.wire {
            Wire::Classic { .. } => classic(data).encode(),
            Wire::Sharded { .. } => self.sharded(sharded(data)),
        };
        self.publish(channel, payload);
    }

    fn send_membership(&mut self, body: ShardedBody) {
        let channel = match &self.wire {
            Wire::Classic { members, .. } => members.clone(),
            Wire::Sharded { channels, .. } => channels.main().to_owned(),
        };
        let payload = self.sharded(body);
        self.publish(channel, payload);
    }

    fn classic_request(&self, request_id: Option<String>, body: RequestBody) -> Vec<u8> {
        ClassicRequest {
            uid: Some(self.config.uid.clone()),
            request_id,
            body,
        }
        .encode()
    }

    // ---- operations of the local app -------------------------------------------------

    /// Publishes a broadcast to the other servers (the host delivers to its own
    /// sockets). Node's channel choice: a room channel for exactly one room.
    ///
    /// A packet nested deeper than the cluster carries is refused with
    /// [`UsageError::TooDeep`] (counted); nothing is published.
    pub fn broadcast(&mut self, packet: Packet, opts: &BroadcastOpts) -> Result<(), UsageError> {
        self.check_depth(&packet.data)?;
        if self.closed {
            return Ok(());
        }
        match &self.wire {
            Wire::Classic { channels, .. } => {
                let channel = channels.broadcast_for(&opts.rooms);
                let mut packet = packet;
                packet.nsp = Some(self.config.nsp.clone());
                let payload = ClassicBroadcast {
                    uid: self.config.uid.clone(),
                    packet,
                    opts: opts.clone(),
                }
                .encode();
                self.publish(channel, payload);
            }
            Wire::Sharded { channels, .. } => {
                let channel = channels.broadcast_for(&opts.rooms, false);
                let mut packet = packet;
                packet.nsp = None;
                let payload = self.sharded(ShardedBody::Broadcast {
                    packet,
                    opts: opts.clone(),
                });
                self.publish(channel, payload);
            }
        }
        Ok(())
    }

    /// Refuses (and counts) a value the cluster cannot carry.
    fn check_depth(&mut self, data: &[Value]) -> Result<(), UsageError> {
        let checked = self.config.limits.check_depth(data);
        if checked.is_err() {
            self.stats.refused_too_deep += 1;
        }
        checked
    }

    /// Publishes a broadcast whose client acks are collected for `timeout_ms`.
    /// The acks of other servers' clients arrive as [`Event::AckReceived`]; the
    /// request completes when every server reported its client count and every
    /// counted client acked, or at the timeout. A packet too deep to carry is
    /// refused as by [`Node::broadcast`], before any request starts.
    pub fn broadcast_with_ack(
        &mut self,
        now: Time,
        packet: Packet,
        opts: &BroadcastOpts,
        timeout_ms: u64,
    ) -> Result<RequestId, UsageError> {
        self.check_depth(&packet.data)?;
        let id = self.start_request(
            now,
            Collected::BroadcastAck {
                servers: 0,
                clients: 0,
                acks: 0,
            },
            timeout_ms,
        );
        if self.closed {
            return Ok(id);
        }
        let wire_id = self.wire_id(id);
        let mut opts = opts.clone();
        opts.flags.timeout = Some(timeout_ms);
        let mut packet = packet;
        match &self.wire {
            Wire::Classic { channels, .. } => {
                packet.nsp = Some(self.config.nsp.clone());
                let channel = channels.request().to_owned();
                let payload =
                    self.classic_request(Some(wire_id), RequestBody::Broadcast { packet, opts });
                self.publish(channel, payload);
            }
            Wire::Sharded { channels, .. } => {
                packet.nsp = None;
                let channel = channels.main().to_owned();
                let payload = self.sharded(ShardedBody::BroadcastWithAck {
                    request_id: wire_id,
                    packet,
                    opts,
                });
                self.publish(channel, payload);
            }
        }
        Ok(id)
    }

    /// Publishes "the sockets matching `opts` join `rooms`" (the host applies it
    /// to its own sockets).
    pub fn sockets_join(&mut self, opts: &BroadcastOpts, rooms: Vec<Room>) {
        self.remote_mutation(
            RequestBody::Join {
                target: Target::Opts(opts.clone()),
                rooms: rooms.clone(),
            },
            ShardedBody::SocketsJoin {
                opts: opts.clone(),
                rooms,
            },
        );
    }

    /// Publishes "the sockets matching `opts` leave `rooms`".
    pub fn sockets_leave(&mut self, opts: &BroadcastOpts, rooms: Vec<Room>) {
        self.remote_mutation(
            RequestBody::Leave {
                target: Target::Opts(opts.clone()),
                rooms: rooms.clone(),
            },
            ShardedBody::SocketsLeave {
                opts: opts.clone(),
                rooms,
            },
        );
    }

    /// Publishes "the sockets matching `opts` disconnect".
    pub fn disconnect_sockets(&mut self, opts: &BroadcastOpts, close: bool) {
        self.remote_mutation(
            RequestBody::Disconnect {
                target: Target::Opts(opts.clone()),
                close,
            },
            ShardedBody::DisconnectSockets {
                opts: opts.clone(),
                close,
            },
        );
    }

    fn remote_mutation(&mut self, classic: RequestBody, sharded: ShardedBody) {
        if self.closed {
            return;
        }
        match &self.wire {
            Wire::Classic { channels, .. } => {
                let channel = channels.request().to_owned();
                let payload = self.classic_request(None, classic);
                self.publish(channel, payload);
            }
            Wire::Sharded { channels, .. } => {
                let channel = channels.main().to_owned();
                let payload = self.sharded(sharded);
                self.publish(channel, payload);
            }
        }
    }

    /// Asks the other servers for their sockets matching `opts`. In sharded mode
    /// `opts.flags.timeout` overrides the requests timeout, as in Node.
    pub fn fetch_sockets(&mut self, now: Time, opts: &BroadcastOpts) -> RequestId {
        let timeout = match self.wire {
            Wire::Sharded { .. } => opts
                .flags
                .timeout
                .unwrap_or(self.config.requests_timeout_ms),
            Wire::Classic { .. } => self.config.requests_timeout_ms,
        };
        let id = self.start_request(now, Collected::Fetch(Vec::new()), timeout);
        if self.closed {
            return id;
        }
        let wire_id = self.wire_id(id);
        match &self.wire {
            Wire::Classic { channels, .. } => {
                let channel = channels.request().to_owned();
                let payload =
                    self.classic_request(Some(wire_id), RequestBody::Fetch { opts: opts.clone() });
                self.publish(channel, payload);
            }
            Wire::Sharded { channels, .. } => {
                let channel = channels.main().to_owned();
                let payload = self.sharded(ShardedBody::FetchSockets {
                    opts: opts.clone(),
                    request_id: wire_id,
                });
                self.publish(channel, payload);
            }
        }
        id
    }

    /// Asks the other servers for all their rooms. The classic protocol only:
    /// the sharded protocol has no such message (Node answers it locally), so in
    /// sharded mode this completes at once with no remote rooms.
    pub fn all_rooms(&mut self, now: Time) -> RequestId {
        let timeout = self.config.requests_timeout_ms;
        let id = self.start_request(now, Collected::AllRooms(BTreeSet::new()), timeout);
        if self.closed {
            return id;
        }
        let wire_id = self.wire_id(id);
        match &self.wire {
            Wire::Classic { channels, .. } => {
                let channel = channels.request().to_owned();
                let payload = self.classic_request(Some(wire_id), RequestBody::AllRooms);
                self.publish(channel, payload);
            }
            Wire::Sharded { .. } => {
                if let Some(pending) = self.requests.get_mut(id) {
                    pending.expected = Some(0);
                }
                self.try_complete(id);
            }
        }
        id
    }

    /// Sends a server-side event `[event, ...args]` to the other servers.
    ///
    /// Refused (counted, nothing published): an event name that is not a
    /// string or is one of [`crate::event_name::SERVER_SIDE_RESERVED_EVENTS`]
    /// ([`UsageError::ReservedEvent`]), and a value too deep to carry.
    pub fn server_side_emit(&mut self, data: Vec<Value>) -> Result<(), UsageError> {
        self.check_server_side(&data)?;
        if !self.closed {
            self.publish_server_side_emit(None, data);
        }
        Ok(())
    }

    /// Sends a server-side event and collects one ack per other server; refused
    /// as [`Node::server_side_emit`] is, before any request starts.
    pub fn server_side_emit_with_ack(
        &mut self,
        now: Time,
        data: Vec<Value>,
    ) -> Result<RequestId, UsageError> {
        self.check_server_side(&data)?;
        let timeout = self.config.requests_timeout_ms;
        let id = self.start_request(now, Collected::ServerSideEmit(Vec::new()), timeout);
        if !self.closed {
            let wire_id = self.wire_id(id);
            self.publish_server_side_emit(Some(wire_id), data);
        }
        Ok(id)
    }

    fn check_server_side(&mut self, data: &[Value]) -> Result<(), UsageError> {
        if let Err(e) = crate::event_name::check_server_side(data) {
            self.stats.refused_reserved_event += 1;
            return Err(e);
        }
        self.check_depth(data)
    }

    fn publish_server_side_emit(&mut self, request_id: Option<String>, data: Vec<Value>) {
        match &self.wire {
            Wire::Classic { channels, .. } => {
                let channel = channels.request().to_owned();
                let payload =
                    self.classic_request(request_id, RequestBody::ServerSideEmit { data });
                self.publish(channel, payload);
            }
            Wire::Sharded { channels, .. } => {
                let channel = channels.main().to_owned();
                let payload = self.sharded(ShardedBody::ServerSideEmit {
                    request_id,
                    packet: data,
                });
                self.publish(channel, payload);
            }
        }
    }

    /// Asks how many servers the cluster has (this one included).
    pub fn server_count(&mut self, now: Time) -> RequestId {
        let timeout = self.config.requests_timeout_ms;
        self.start_request(now, Collected::ServerCount, timeout)
    }

    fn start_request(&mut self, now: Time, collected: Collected, timeout_ms: u64) -> RequestId {
        let id = RequestId(self.next_id());
        let pending = Pending {
            wire_id: self.wire_id(id),
            collected,
            expected: None,
            initial: None,
            answered: 0,
            responders: BTreeSet::new(),
            // Only sharded responses name their sender, so only there can the
            // node tell that a dead peer had not answered yet.
            peers_waited: match self.wire {
                Wire::Sharded { .. } => self.members.uids().cloned().collect(),
                Wire::Classic { .. } => BTreeSet::new(),
            },
        };
        self.requests.insert(id, pending);
        if self.closed {
            self.cancel(id);
            return id;
        }
        self.timers
            .set(TimerKind::RequestDeadline(id), now + timeout_ms);
        self.ask_server_count(now);
        if self.config.recount_interval_ms > 0 {
            self.timers
                .set_if_unset(TimerKind::Recount, now + self.config.recount_interval_ms);
        }
        id
    }

    fn ask_server_count(&mut self, now: Time) {
        if self.count_question.is_some() {
            return;
        }
        let (channel, sharded) = match &self.wire {
            Wire::Classic { channels, .. } => (channels.request().to_owned(), false),
            Wire::Sharded { channels, .. } => (channels.main().to_owned(), true),
        };
        let id = QuestionId(self.next_id());
        self.count_question = Some(id);
        self.ask(
            now,
            id,
            Purpose::ServerCount,
            Question::ServerCount {
                id,
                channel,
                sharded,
            },
        );
    }

    fn ask(&mut self, now: Time, id: QuestionId, purpose: Purpose, question: Question) {
        if !matches!(purpose, Purpose::ServerCount) && self.table_full(self.questions.len()) {
            return;
        }
        self.questions.insert(id, purpose);
        self.timers.set(
            TimerKind::QuestionExpiry(id),
            now + self.config.requests_timeout_ms,
        );
        self.events.push_back(Event::Question(question));
    }

    fn cancel(&mut self, id: RequestId) {
        self.timers.cancel(TimerKind::RequestDeadline(id));
        if let Some(mut completion) = self.requests.finish(id, false, None) {
            completion.outcome = Outcome::Cancelled;
            self.events.push_back(Event::Completed(completion));
        }
    }

    fn try_complete(&mut self, id: RequestId) {
        if let Some(completion) = self.requests.take_if_complete(id) {
            self.timers.cancel(TimerKind::RequestDeadline(id));
            self.stats.requests_completed += 1;
            if completion.missing > 0 {
                self.stats.requests_partial += 1;
            }
            self.events.push_back(Event::Completed(completion));
        }
    }

    /// Tells the node that a room now exists locally (sharded `dynamic` modes
    /// subscribe its channel). Idempotent.
    pub fn handle_room_added(&mut self, room: &Room) {
        if let Wire::Sharded { channels, .. } = &self.wire
            && !self.closed
            && channels.subscribes_room(room)
        {
            let channel = channels.room(room);
            if self.room_channels.insert(channel.clone()) {
                self.events
                    .push_back(Event::Subscribe(Subscription::Sharded(channel)));
            }
        }
    }

    /// Tells the node that a room no longer exists locally. Idempotent.
    pub fn handle_room_removed(&mut self, room: &Room) {
        if let Wire::Sharded { channels, .. } = &self.wire {
            let channel = channels.room(room);
            if self.room_channels.remove(&channel) {
                self.events
                    .push_back(Event::Unsubscribe(Subscription::Sharded(channel)));
            }
        }
    }

    /// Closes the node: unsubscribes everything, announces the close to crosscast
    /// peers, and cancels every pending request. Later operations are cancelled at once.
    pub fn close(&mut self, _now: Time) {
        if self.closed {
            return;
        }
        if self.config.heartbeat_interval_ms > 0 {
            self.send_membership(ShardedBody::AdapterClose);
        }
        self.closed = true;
        for sub in self.base_subscriptions() {
            self.events.push_back(Event::Unsubscribe(sub));
        }
        for channel in std::mem::take(&mut self.room_channels) {
            self.events
                .push_back(Event::Unsubscribe(Subscription::Sharded(channel)));
        }
        for id in self.requests.ids() {
            self.cancel(id);
        }
        self.requests.drain();
        self.questions.clear();
        self.count_question = None;
        self.remote_acks.clear();
        self.server_side_acks.clear();
        self.timers = Timers::default();
        self.sync_gauges();
    }

    /// Brings the `*_pending` gauges of [`Stats`] up to date.
    fn sync_gauges(&mut self) {
        self.stats.server_side_acks_pending = self.server_side_acks.len() as u64;
        self.stats.remote_acks_pending = self.remote_acks.len() as u64;
        self.stats.questions_pending = self.questions.len() as u64;
    }

    /// Whether a table of peer state is full; a message that would add to it
    /// is dropped and counted.
    fn table_full(&mut self, len: usize) -> bool {
        let full = len >= self.config.limits.max_pending;
        if full {
            self.stats.dropped_table_full += 1;
        }
        full
    }

    /// Keeps a remote server-side event's reply until the host answers, for at
    /// most the requests timeout (the requester waits no longer, with Node's
    /// defaults), plus a second for clock skew.
    fn keep_server_side_ack(&mut self, now: Time, reply: Reply) -> Option<ServerSideAckId> {
        if self.table_full(self.server_side_acks.len()) {
            return None;
        }
        let id = ServerSideAckId(self.next_id());
        self.server_side_acks.insert(id, reply);
        self.timers.set(
            TimerKind::ServerSideAckExpiry(id),
            now + self.config.requests_timeout_ms.saturating_add(1000),
        );
        Some(id)
    }

    // ---- answers of the host ---------------------------------------------------------

    fn take_question(&mut self, id: QuestionId) -> Result<Option<Purpose>, UsageError> {
        if id.0 >= self.next_id {
            return Err(UsageError::UnknownQuestion(id.0));
        }
        self.timers.cancel(TimerKind::QuestionExpiry(id));
        let purpose = self.questions.remove(&id);
        self.sync_gauges();
        if purpose.is_none() {
            self.stats.late_host_answers += 1;
        }
        Ok(purpose)
    }

    /// Answers [`Question::ServerCount`]: `count` servers subscribe, this one included.
    pub fn answer_server_count(
        &mut self,
        _now: Time,
        id: QuestionId,
        count: u64,
    ) -> Result<(), UsageError> {
        let Some(purpose) = self.take_question(id)? else {
            return Ok(());
        };
        if !matches!(purpose, Purpose::ServerCount) {
            return Err(UsageError::InvalidArgument("not a server-count question"));
        }
        self.count_question = None;
        self.requests.apply_server_count(count);
        for id in self.requests.ids() {
            if let Some(completion) = self.take_count_completion(id, count) {
                self.events.push_back(Event::Completed(completion));
            } else {
                self.try_complete(id);
            }
        }
        Ok(())
    }

    fn take_count_completion(&mut self, id: RequestId, count: u64) -> Option<Completion> {
        let is_count = self
            .requests
            .get_mut(id)
            .is_some_and(|p| matches!(p.collected, Collected::ServerCount));
        if !is_count {
            return None;
        }
        self.timers.cancel(TimerKind::RequestDeadline(id));
        self.stats.requests_completed += 1;
        self.requests.finish(id, false, Some(count))
    }

    /// Answers [`Question::LocalSockets`] with the matching local sockets.
    pub fn answer_local_sockets(
        &mut self,
        _now: Time,
        id: QuestionId,
        sockets: Vec<SocketInfo>,
    ) -> Result<(), UsageError> {
        let Some(purpose) = self.take_question(id)? else {
            return Ok(());
        };
        match purpose {
            Purpose::Fetch { reply } => {
                self.respond(
                    reply.channel,
                    (reply.wire_id, sockets),
                    |(request_id, sockets)| ClassicResponse::Fetch {
                        request_id,
                        sockets,
                    },
                    |(request_id, sockets)| ShardedBody::FetchSocketsResponse {
                        request_id,
                        sockets,
                    },
                );
            }
            Purpose::SocketIds { reply } => {
                let payload = ClassicResponse::Sockets {
                    request_id: reply.wire_id,
                    sockets: sockets.into_iter().map(|s| s.id).collect(),
                }
                .encode();
                self.publish(reply.channel, payload);
            }
            Purpose::Legacy { reply, action } => {
                let Some(socket) = sockets.into_iter().next() else {
                    return Ok(());
                };
                let opts = BroadcastOpts::to_rooms([socket.id]);
                self.events.push_back(match action {
                    LegacyAction::Join(rooms) => Event::SocketsJoin { opts, rooms },
                    LegacyAction::Leave(rooms) => Event::SocketsLeave { opts, rooms },
                    LegacyAction::Disconnect(close) => Event::DisconnectSockets { opts, close },
                });
                if let Some(reply) = reply {
                    let payload = ClassicResponse::Done {
                        request_id: reply.wire_id,
                    }
                    .encode();
                    self.publish(reply.channel, payload);
                }
            }
            Purpose::ServerCount | Purpose::Rooms { .. } => {
                return Err(UsageError::InvalidArgument("not a local-sockets question"));
            }
        }
        Ok(())
    }

    /// Answers [`Question::LocalRooms`] with every local room.
    pub fn answer_local_rooms(
        &mut self,
        _now: Time,
        id: QuestionId,
        rooms: Vec<Room>,
    ) -> Result<(), UsageError> {
        let Some(purpose) = self.take_question(id)? else {
            return Ok(());
        };
        let Purpose::Rooms { reply } = purpose else {
            return Err(UsageError::InvalidArgument("not a local-rooms question"));
        };
        let payload = ClassicResponse::AllRooms {
            request_id: reply.wire_id,
            rooms,
        }
        .encode();
        self.publish(reply.channel, payload);
        Ok(())
    }

    /// The remote broadcast `ack`, if the node still collects for it; an id the
    /// node never issued is a usage error, an expired one is counted as late.
    fn remote_ack(&mut self, ack: RemoteAckId) -> Result<Option<&mut RemoteAck>, UsageError> {
        if ack.0 >= self.next_id {
            return Err(UsageError::UnknownQuestion(ack.0));
        }
        let entry = self.remote_acks.get_mut(&ack);
        if entry.is_none() {
            self.stats.late_host_answers += 1;
        }
        Ok(entry)
    }

    /// Reports how many local clients a remote broadcast with acks reached. Sent
    /// once, even when zero; later calls are ignored.
    pub fn handle_remote_client_count(
        &mut self,
        _now: Time,
        ack: RemoteAckId,
        count: u64,
    ) -> Result<(), UsageError> {
        let Some(entry) = self.remote_ack(ack)? else {
            return Ok(());
        };
        if entry.count_sent {
            return Ok(());
        }
        entry.count_sent = true;
        let channel = entry.reply.channel.clone();
        let request_id = entry.reply.wire_id.clone();
        self.respond(
            channel,
            (request_id, count),
            |(request_id, client_count)| ClassicResponse::ClientCount {
                request_id,
                client_count,
            },
            |(request_id, client_count)| ShardedBody::BroadcastClientCount {
                request_id,
                client_count,
            },
        );
        Ok(())
    }

    /// Reports one local client's ack (its first argument) of a remote broadcast.
    pub fn handle_remote_ack(
        &mut self,
        _now: Time,
        ack: RemoteAckId,
        value: Value,
    ) -> Result<(), UsageError> {
        self.check_depth(std::slice::from_ref(&value))?;
        let Some(entry) = self.remote_ack(ack)? else {
            return Ok(());
        };
        let channel = entry.reply.channel.clone();
        let request_id = entry.reply.wire_id.clone();
        self.respond(
            channel,
            (request_id, value),
            |(request_id, packet)| ClassicResponse::Ack { request_id, packet },
            |(request_id, packet)| ShardedBody::BroadcastAck { request_id, packet },
        );
        Ok(())
    }

    /// Answers a remote server-side event (once; later calls are ignored).
    /// `None` is an ack without argument.
    pub fn handle_server_side_ack(
        &mut self,
        _now: Time,
        ack: ServerSideAckId,
        value: Option<Value>,
    ) -> Result<(), UsageError> {
        if ack.0 >= self.next_id {
            return Err(UsageError::UnknownQuestion(ack.0));
        }
        if let Some(value) = &value {
            self.check_depth(std::slice::from_ref(value))?;
        }
        let Some(reply) = self.server_side_acks.remove(&ack) else {
            self.stats.late_host_answers += 1;
            return Ok(());
        };
        self.timers.cancel(TimerKind::ServerSideAckExpiry(ack));
        self.sync_gauges();
        self.respond(
            reply.channel,
            (reply.wire_id, value),
            |(request_id, data)| ClassicResponse::ServerSideEmit { request_id, data },
            |(request_id, value)| ShardedBody::ServerSideEmitResponse {
                request_id,
                packet: value.unwrap_or(Value::Nil),
            },
        );
        Ok(())
    }

    /// Frees a remote server-side event that the host will never answer (no
    /// listener, or the listener dropped its ack). The requester gets no answer
    /// and times out, as with a Node server that has no listener.
    pub fn release_server_side_ack(
        &mut self,
        _now: Time,
        ack: ServerSideAckId,
    ) -> Result<(), UsageError> {
        if ack.0 >= self.next_id {
            return Err(UsageError::UnknownQuestion(ack.0));
        }
        if self.server_side_acks.remove(&ack).is_some() {
            self.timers.cancel(TimerKind::ServerSideAckExpiry(ack));
            self.sync_gauges();
        }
        Ok(())
    }

    // ---- time ------------------------------------------------------------------------

    /// Handles every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some(kind) = self.timers.pop_due(now) {
            match kind {
                TimerKind::RequestDeadline(id) => {
                    if let Some(completion) = self.requests.finish(id, true, None) {
                        self.stats.requests_timed_out += 1;
                        self.events.push_back(Event::Completed(completion));
                    }
                }
                TimerKind::Recount => {
                    if self.requests.wants_count() {
                        self.ask_server_count(now);
                        self.timers
                            .set(TimerKind::Recount, now + self.config.recount_interval_ms);
                    }
                }
                TimerKind::Heartbeat => {
                    self.send_membership(ShardedBody::Heartbeat);
                    for uid in self.members.expire(now, self.config.heartbeat_timeout_ms) {
                        self.peer_down(now, uid, false);
                    }
                    self.timers.set(
                        TimerKind::Heartbeat,
                        now + self.config.heartbeat_interval_ms,
                    );
                }
                TimerKind::QuestionExpiry(id) => {
                    if let Some(Purpose::ServerCount) = self.questions.remove(&id) {
                        self.count_question = None;
                    }
                }
                TimerKind::RemoteAckExpiry(id) => {
                    self.remote_acks.remove(&id);
                }
                TimerKind::ServerSideAckExpiry(id) => {
                    if self.server_side_acks.remove(&id).is_some() {
                        self.stats.server_side_acks_expired += 1;
                    }
                }
            }
        }
        self.sync_gauges();
    }

    fn peer_down(&mut self, now: Time, uid: String, closed: bool) {
        self.requests.peer_gone(&uid);
        self.events.push_back(Event::PeerDown { uid, closed });
        if self.requests.wants_count() {
            self.ask_server_count(now);
        }
        for id in self.requests.ids() {
            self.try_complete(id);
        }
    }

    // ---- messages from Redis ---------------------------------------------------------

    /// Handles one message received on `channel`. Malformed messages are counted
    /// in [`Stats::decode_errors`] and dropped; nothing else changes.
    pub fn handle_message(&mut self, now: Time, channel: &str, payload: &[u8]) {
        if self.closed {
            return;
        }
        self.stats.received += 1;
        self.route_message(now, channel, payload);
        self.sync_gauges();
    }

    fn route_message(&mut self, now: Time, channel: &str, payload: &[u8]) {
        match &self.wire {
            Wire::Classic {
                channels, members, ..
            } => {
                if channel == members {
                    self.on_membership(now, payload);
                    return;
                }
                match channels.classify(channel) {
                    Some(ClassicChannel::Broadcast | ClassicChannel::RoomBroadcast(_)) => {
                        self.on_classic_broadcast(now, payload)
                    }
                    Some(ClassicChannel::Request) => self.on_classic_request(now, payload),
                    Some(ClassicChannel::Response) => self.on_classic_response(payload),
                    Some(ClassicChannel::SpecificResponse(uid)) => {
                        if uid == self.config.uid {
                            self.on_classic_response(payload);
                        } else {
                            self.stats.ignored_not_for_us += 1;
                        }
                    }
                    _ => self.stats.ignored_not_for_us += 1,
                }
            }
            Wire::Sharded { channels, private } => {
                if channel == private {
                    self.on_sharded(now, payload, true);
                } else if channels.suffix(channel).is_some() {
                    self.on_sharded(now, payload, false);
                } else {
                    self.stats.ignored_not_for_us += 1;
                }
            }
        }
    }

    fn on_membership(&mut self, now: Time, payload: &[u8]) {
        match ShardedMessage::decode(payload, &self.config.limits) {
            Ok(msg) if msg.uid == self.config.uid => self.stats.ignored_own += 1,
            Ok(msg) if msg.nsp != self.config.nsp => self.stats.ignored_other_nsp += 1,
            Ok(msg) => self.on_peer_signal(now, msg.uid, &msg.body),
            Err(_) => self.stats.decode_errors += 1,
        }
    }

    /// Heartbeat-type messages (1, 2, 13): only crosscast peers send them.
    fn on_peer_signal(&mut self, now: Time, uid: String, body: &ShardedBody) {
        if self.config.heartbeat_interval_ms == 0 {
            return;
        }
        match body {
            ShardedBody::InitialHeartbeat | ShardedBody::Heartbeat => {
                // A new peer beyond the bound is not tracked (counted); known
                // peers keep their place.
                if !self.members.contains(&uid) && self.table_full(self.members.len()) {
                    return;
                }
                if self.members.heartbeat(&uid, now) {
                    self.events.push_back(Event::PeerUp { uid });
                    if matches!(body, ShardedBody::InitialHeartbeat) {
                        self.send_membership(ShardedBody::Heartbeat);
                    }
                }
            }
            ShardedBody::AdapterClose => {
                if self.members.remove(&uid) {
                    self.peer_down(now, uid, true);
                }
            }
            _ => self.stats.ignored_unknown_type += 1,
        }
    }

    fn on_classic_broadcast(&mut self, now: Time, payload: &[u8]) {
        let msg = match ClassicBroadcast::decode(payload, &self.config.limits) {
            Ok(msg) => msg,
            Err(_) => {
                self.stats.decode_errors += 1;
                return;
            }
        };
        if msg.uid == self.config.uid {
            self.stats.ignored_own += 1;
            return;
        }
        if msg.packet.nsp.as_deref() != Some(self.config.nsp.as_str()) {
            self.stats.ignored_other_nsp += 1;
            return;
        }
        self.members.touch(&msg.uid, now);
        self.events.push_back(Event::Broadcast {
            packet: msg.packet,
            opts: msg.opts,
        });
    }

    fn classic_reply(&self, requester: Option<&str>, wire_id: String) -> Reply {
        let channel = match (&self.wire, requester) {
            (
                Wire::Classic {
                    channels,
                    specific: true,
                    ..
                },
                Some(uid),
            ) => channels.specific_response(uid),
            (Wire::Classic { channels, .. }, _) => channels.response().to_owned(),
            (Wire::Sharded { channels, .. }, Some(uid)) => channels.private(uid),
            (Wire::Sharded { channels, .. }, None) => channels.main().to_owned(),
        };
        Reply { channel, wire_id }
    }

    fn on_classic_request(&mut self, now: Time, payload: &[u8]) {
        let req = match ClassicRequest::decode(payload, &self.config.limits) {
            Ok(req) => req,
            Err(_) => {
                self.stats.decode_errors += 1;
                return;
            }
        };
        let own_uid = req.uid.as_deref() == Some(self.config.uid.as_str());
        let own_request = req
            .request_id
            .as_deref()
            .is_some_and(|id| self.requests.owns(id));
        if let Some(uid) = &req.uid {
            self.members.touch(uid, now);
        }
        let requester = req.uid.clone();
        let reply = |node: &Node, id: Option<String>| {
            id.map(|id| node.classic_reply(requester.as_deref(), id))
        };
        match req.body {
            RequestBody::Sockets { rooms } => {
                if own_request {
                    self.stats.ignored_own += 1;
                } else if let Some(reply) = reply(self, req.request_id) {
                    let id = QuestionId(self.next_id());
                    let opts = BroadcastOpts::to_rooms(rooms);
                    self.ask(
                        now,
                        id,
                        Purpose::SocketIds { reply },
                        Question::LocalSockets { id, opts },
                    );
                }
            }
            RequestBody::AllRooms => {
                if own_request {
                    self.stats.ignored_own += 1;
                } else if let Some(reply) = reply(self, req.request_id) {
                    let id = QuestionId(self.next_id());
                    self.ask(
                        now,
                        id,
                        Purpose::Rooms { reply },
                        Question::LocalRooms { id },
                    );
                }
            }
            RequestBody::Fetch { opts } => {
                if own_request {
                    self.stats.ignored_own += 1;
                } else if let Some(reply) = reply(self, req.request_id) {
                    let id = QuestionId(self.next_id());
                    self.ask(
                        now,
                        id,
                        Purpose::Fetch { reply },
                        Question::LocalSockets { id, opts },
                    );
                }
            }
            RequestBody::Join { target, rooms } => self.on_classic_mutation(
                now,
                own_uid,
                target,
                req.request_id,
                requester.as_deref(),
                LegacyAction::Join(rooms),
            ),
            RequestBody::Leave { target, rooms } => self.on_classic_mutation(
                now,
                own_uid,
                target,
                req.request_id,
                requester.as_deref(),
                LegacyAction::Leave(rooms),
            ),
            RequestBody::Disconnect { target, close } => self.on_classic_mutation(
                now,
                own_uid,
                target,
                req.request_id,
                requester.as_deref(),
                LegacyAction::Disconnect(close),
            ),
            RequestBody::ServerSideEmit { data } => {
                if own_uid {
                    self.stats.ignored_own += 1;
                    return;
                }
                if crate::event_name::check_server_side(&data).is_err() {
                    self.stats.refused_reserved_event += 1;
                    return;
                }
                let ack = match req.request_id {
                    Some(wire_id) => {
                        // Node always answers server-side acks on the generic channel.
                        let channel = match &self.wire {
                            Wire::Classic { channels, .. } => channels.response().to_owned(),
                            Wire::Sharded { channels, .. } => channels.main().to_owned(),
                        };
                        let Some(id) = self.keep_server_side_ack(now, Reply { channel, wire_id })
                        else {
                            return;
                        };
                        Some(id)
                    }
                    None => None,
                };
                self.events.push_back(Event::ServerSideEmit { data, ack });
            }
            RequestBody::Broadcast { packet, opts } => {
                if own_request {
                    self.stats.ignored_own += 1;
                    return;
                }
                let Some(reply) = reply(self, req.request_id) else {
                    self.stats.decode_errors += 1;
                    return;
                };
                self.on_remote_broadcast_with_ack(now, reply, packet, opts);
            }
            RequestBody::Unknown { .. } => self.stats.ignored_unknown_type += 1,
        }
    }

    fn on_classic_mutation(
        &mut self,
        now: Time,
        own_uid: bool,
        target: Target,
        request_id: Option<String>,
        requester: Option<&str>,
        action: LegacyAction,
    ) {
        match target {
            Target::Opts(opts) => {
                // The host applied its own operation when it made it.
                if own_uid {
                    self.stats.ignored_own += 1;
                    return;
                }
                self.events.push_back(match action {
                    LegacyAction::Join(rooms) => Event::SocketsJoin { opts, rooms },
                    LegacyAction::Leave(rooms) => Event::SocketsLeave { opts, rooms },
                    LegacyAction::Disconnect(close) => Event::DisconnectSockets { opts, close },
                });
            }
            Target::Socket { sid } => {
                let reply = request_id.map(|id| self.classic_reply(requester, id));
                let id = QuestionId(self.next_id());
                let opts = BroadcastOpts::to_rooms([sid]);
                self.ask(
                    now,
                    id,
                    Purpose::Legacy { reply, action },
                    Question::LocalSockets { id, opts },
                );
            }
        }
    }

    fn on_remote_broadcast_with_ack(
        &mut self,
        now: Time,
        reply: Reply,
        packet: Packet,
        opts: BroadcastOpts,
    ) {
        // A peer's timeout sets how long this node keeps state: capped.
        let timeout_ms = opts
            .flags
            .timeout
            .unwrap_or(self.config.requests_timeout_ms)
            .min(self.config.limits.max_remote_timeout_ms);
        if self.table_full(self.remote_acks.len()) {
            return;
        }
        let ack = RemoteAckId(self.next_id());
        self.remote_acks.insert(
            ack,
            RemoteAck {
                reply,
                count_sent: false,
            },
        );
        // Keep collecting a little past the requester's timeout: its clock is not ours.
        self.timers.set(
            TimerKind::RemoteAckExpiry(ack),
            now + timeout_ms.saturating_add(1000),
        );
        let opts = BroadcastOpts {
            rooms: opts.rooms,
            except: opts.except,
            flags: Default::default(),
        };
        self.events.push_back(Event::BroadcastWithAck {
            ack,
            packet,
            opts,
            timeout_ms,
        });
    }

    fn on_classic_response(&mut self, payload: &[u8]) {
        let raw = match RawResponse::decode(payload, &self.config.limits) {
            Ok(raw) => raw,
            Err(_) => {
                self.stats.decode_errors += 1;
                return;
            }
        };
        let Some((id, pending)) = self.requests.lookup(&raw.request_id) else {
            self.note_unmatched_response(&raw.request_id);
            return;
        };
        let expecting = match pending.collected {
            Collected::Fetch(_) => RequestType::RemoteFetch,
            Collected::AllRooms(_) => RequestType::AllRooms,
            Collected::ServerSideEmit(_) => RequestType::ServerSideEmit,
            Collected::BroadcastAck { .. } => RequestType::Broadcast,
            Collected::ServerCount => return,
        };
        let response = raw.interpret(expecting);
        let event = Self::collect(pending, None, response_part(response));
        if let Some(value) = event {
            self.events
                .push_back(Event::AckReceived { request: id, value });
        }
        self.try_complete(id);
    }

    fn note_unmatched_response(&mut self, wire_id: &str) {
        let ours = wire_id
            .strip_prefix(self.config.uid.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n < self.next_id);
        if ours {
            self.stats.late_responses += 1;
        } else {
            self.stats.ignored_not_for_us += 1;
        }
    }

    /// Adds one response to a pending request; returns a client ack to stream.
    /// A second answer of a known server (sharded) is dropped as a duplicate.
    fn collect(pending: &mut Pending, from: Option<&str>, part: Part) -> Option<Value> {
        let is_count_reply = matches!(part, Part::ClientCount(_));
        let first = match (&pending.collected, &part) {
            (Collected::BroadcastAck { .. }, Part::ClientAck(_)) => true,
            (Collected::BroadcastAck { .. }, _) if !is_count_reply => return None,
            (Collected::ServerCount, _) => return None,
            _ => Requests::mark_answered(pending, from),
        };
        if !first {
            return None;
        }
        match (&mut pending.collected, part) {
            (Collected::Fetch(all), Part::Sockets(sockets)) => all.extend(sockets),
            (Collected::AllRooms(all), Part::Rooms(rooms)) => all.extend(rooms),
            (Collected::ServerSideEmit(all), Part::Ack(value)) => {
                all.push(value.unwrap_or(Value::Nil))
            }
            (
                Collected::BroadcastAck {
                    servers, clients, ..
                },
                Part::ClientCount(n),
            ) => {
                *servers += 1;
                // A peer's count may be anything: saturate, never overflow.
                *clients = clients.saturating_add(n);
            }
            (Collected::BroadcastAck { acks, .. }, Part::ClientAck(value)) => {
                *acks += 1;
                return Some(value);
            }
            // A response whose fields do not fit the request still counts, as in Node.
            _ => {}
        }
        None
    }

    fn on_sharded(&mut self, now: Time, payload: &[u8], private: bool) {
        let msg = match ShardedMessage::decode(payload, &self.config.limits) {
            Ok(msg) => msg,
            Err(_) => {
                self.stats.decode_errors += 1;
                return;
            }
        };
        if private {
            self.on_sharded_response(msg);
            return;
        }
        if msg.uid == self.config.uid {
            self.stats.ignored_own += 1;
            return;
        }
        if msg.nsp != self.config.nsp {
            self.stats.ignored_other_nsp += 1;
            return;
        }
        self.members.touch(&msg.uid, now);
        let requester = msg.uid.clone();
        match msg.body {
            body @ (ShardedBody::InitialHeartbeat
            | ShardedBody::Heartbeat
            | ShardedBody::AdapterClose) => self.on_peer_signal(now, msg.uid, &body),
            ShardedBody::Broadcast { packet, opts } => {
                self.events.push_back(Event::Broadcast { packet, opts })
            }
            ShardedBody::BroadcastWithAck {
                request_id,
                packet,
                opts,
            } => {
                let reply = self.classic_reply(Some(&requester), request_id);
                self.on_remote_broadcast_with_ack(now, reply, packet, opts);
            }
            ShardedBody::SocketsJoin { opts, rooms } => {
                self.events.push_back(Event::SocketsJoin { opts, rooms })
            }
            ShardedBody::SocketsLeave { opts, rooms } => {
                self.events.push_back(Event::SocketsLeave { opts, rooms })
            }
            ShardedBody::DisconnectSockets { opts, close } => self
                .events
                .push_back(Event::DisconnectSockets { opts, close }),
            ShardedBody::FetchSockets { opts, request_id } => {
                let reply = self.classic_reply(Some(&requester), request_id);
                let id = QuestionId(self.next_id());
                let mut opts = opts;
                opts.flags = Default::default();
                self.ask(
                    now,
                    id,
                    Purpose::Fetch { reply },
                    Question::LocalSockets { id, opts },
                );
            }
            ShardedBody::ServerSideEmit { request_id, packet } => {
                if crate::event_name::check_server_side(&packet).is_err() {
                    self.stats.refused_reserved_event += 1;
                    return;
                }
                let ack = match request_id {
                    Some(wire_id) => {
                        let reply = self.classic_reply(Some(&requester), wire_id);
                        let Some(id) = self.keep_server_side_ack(now, reply) else {
                            return;
                        };
                        Some(id)
                    }
                    None => None,
                };
                self.events
                    .push_back(Event::ServerSideEmit { data: packet, ack });
            }
            body @ (ShardedBody::FetchSocketsResponse { .. }
            | ShardedBody::ServerSideEmitResponse { .. }
            | ShardedBody::BroadcastClientCount { .. }
            | ShardedBody::BroadcastAck { .. }) => self.on_sharded_response(ShardedMessage {
                uid: requester,
                nsp: msg.nsp,
                body,
            }),
            _ => self.stats.ignored_unknown_type += 1,
        }
    }

    fn on_sharded_response(&mut self, msg: ShardedMessage) {
        let Some(wire_id) = msg.body.response_request_id().map(str::to_owned) else {
            self.stats.ignored_unknown_type += 1;
            return;
        };
        let Some((id, pending)) = self.requests.lookup(&wire_id) else {
            self.note_unmatched_response(&wire_id);
            return;
        };
        let part = match msg.body {
            ShardedBody::FetchSocketsResponse { sockets, .. } => Part::Sockets(sockets),
            ShardedBody::ServerSideEmitResponse { packet, .. } => Part::Ack(Some(packet)),
            ShardedBody::BroadcastClientCount { client_count, .. } => {
                Part::ClientCount(client_count)
            }
            ShardedBody::BroadcastAck { packet, .. } => Part::ClientAck(packet),
            _ => Part::Nothing,
        };
        let event = Self::collect(pending, Some(&msg.uid), part);
        if let Some(value) = event {
            self.events
                .push_back(Event::AckReceived { request: id, value });
        }
        self.try_complete(id);
    }
}

/// The useful part of one response.
enum Part {
    Sockets(Vec<SocketInfo>),
    Rooms(Vec<Room>),
    Ack(Option<Value>),
    ClientCount(u64),
    ClientAck(Value),
    Nothing,
}

fn response_part(response: ClassicResponse) -> Part {
    match response {
        ClassicResponse::Fetch { sockets, .. } => Part::Sockets(sockets),
        ClassicResponse::AllRooms { rooms, .. } => Part::Rooms(rooms),
        ClassicResponse::ServerSideEmit { data, .. } => Part::Ack(data),
        ClassicResponse::ClientCount { client_count, .. } => Part::ClientCount(client_count),
        ClassicResponse::Ack { packet, .. } => Part::ClientAck(packet),
        _ => Part::Nothing,
    }
}
