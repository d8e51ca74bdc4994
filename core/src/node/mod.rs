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

//!
//! Inside, the node is split by what drives it: `operations` of the local
//! app, `inbound` messages from Redis, `answers` of the host to the node's
//! questions, and deadlines (here). Everything protocol-specific (channels,
//! encodings, decoding) is in `dialect`, which the node reaches through one
//! trait and never matches on.

mod answers;
mod config;
mod dialect;
mod event;
mod inbound;
mod members;
mod operations;
mod requests;
mod stats;
mod time;
mod timer;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use config::{
    DEFAULT_KEY, NodeConfig, NodeOptions, Protocol, UID_RANDOM_BYTES, URL_SAFE_ALPHABET,
};
pub use event::{
    Completion, Event, Outcome, PublishKind, Question, QuestionId, RemoteAckId, RequestId,
    ServerCountCommand, ServerSideAckId, Subscription, Transmit,
};
pub use stats::Stats;
pub use time::Time;
pub use timer::TimerKind;

use crate::error::UsageError;
use crate::value::Value;
use dialect::{Action, Answer, AnyDialect, Dialect, Message, Reply, Signal, TimedOut};
use members::Members;
use requests::Requests;
use timer::Timers;

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
        action: Action,
    },
}

/// A remote broadcast with acks delivered locally.
#[derive(Debug)]
struct RemoteAck {
    reply: Reply,
    count_sent: bool,
}

/// One namespace adapter's protocol state. See the module docs for the run loop.
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    dialect: AnyDialect,
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
    /// Room channels subscribed, in channel order.
    room_channels: BTreeSet<Subscription>,
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
            config.requests_timeout_ms = NodeConfig::DEFAULT_REQUESTS_TIMEOUT_MS;
        }
        let dialect = AnyDialect::new(&config.protocol, &config.uid, &config.nsp);
        let mut node = Node {
            config,
            dialect,
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
        if node.membership_on() {
            node.send_membership(Signal::InitialHeartbeat);
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
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the host.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest deadline and what it is for; call [`Node::handle_timeout`]
    /// once it has passed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<(Time, TimerKind)> {
        self.timers.next()
    }

    /// Handles every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some(kind) = self.timers.pop_due(now) {
            match kind {
                TimerKind::RequestDeadline(id) => {
                    if let Some(mut completion) = self.requests.finish(id, true, None) {
                        completion.error = self.timeout_error(&completion);
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
                    self.send_membership(Signal::Heartbeat);
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

    // ---- shared by the parts of the node ---------------------------------------------

    /// Whether crosscast membership (heartbeats) is on.
    fn membership_on(&self) -> bool {
        self.config.heartbeat_interval_ms > 0
    }

    fn base_subscriptions(&self) -> Vec<Subscription> {
        self.dialect.base_subscriptions(self.membership_on())
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn wire_id(&self, id: RequestId) -> String {
        format!("{}.{}", self.config.uid, id.0)
    }

    /// Queues `message` with the dialect's publish command.
    fn publish(&mut self, message: Message) {
        self.stats.published += 1;
        self.transmits.push_back(Transmit {
            kind: self.dialect.publish_kind(),
            channel: message.channel,
            payload: message.payload,
        });
    }

    /// Publishes `answer` to a peer's request.
    fn respond(&mut self, reply: Reply, answer: Answer) {
        let payload = self.dialect.answer(reply.wire_id, answer);
        self.publish(Message {
            channel: reply.channel,
            payload,
        });
    }

    fn send_membership(&mut self, signal: Signal) {
        let message = self.dialect.membership(signal);
        self.publish(message);
    }

    /// Refuses (and counts) a value the cluster cannot carry.
    fn check_depth(&mut self, data: &[Value]) -> Result<(), UsageError> {
        let checked = self.config.limits.check_depth(data);
        if checked.is_err() {
            self.stats.refused_too_deep += 1;
        }
        checked
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

    fn ask_server_count(&mut self, now: Time) {
        if self.count_question.is_some() {
            return;
        }
        let (channel, command) = self.dialect.server_count_channel();
        let id = QuestionId(self.next_id());
        self.count_question = Some(id);
        self.ask(
            now,
            id,
            Purpose::ServerCount,
            Question::ServerCount {
                id,
                channel,
                command,
            },
        );
    }

    /// The error of a request that timed out, in the dialect's words.
    fn timeout_error(&self, completion: &Completion) -> Option<String> {
        let request = match completion.outcome {
            Outcome::Fetch(_) => TimedOut::Fetch,
            Outcome::AllRooms(_) => TimedOut::Rooms,
            Outcome::ServerSideEmit(_) => TimedOut::ServerSideEmit,
            _ => TimedOut::Other,
        };
        self.dialect.timeout_error(
            request,
            completion.servers_answered,
            completion.servers_expected,
        )
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
}
