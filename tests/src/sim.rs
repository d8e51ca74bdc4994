//! A simulated cluster on virtual time: N core nodes on a seeded in-memory
//! pub/sub bus with delay, loss, duplication, reordering, partitions and node
//! death, each with a small host that owns local sockets and applies what its
//! node asks, as a real host would.
//!
//! The bus follows Redis semantics: PUBLISH reaches every connection subscribed
//! to the channel or to a matching pattern (the publisher included), SPUBLISH
//! reaches sharded subscribers, NUMSUB / SHARDNUMSUB count subscribed
//! connections. A dead node's subscriptions vanish with it, as a closed TCP
//! connection's do.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use crosscast_core::node::{
    Completion, Event, NodeConfig, Protocol, PublishKind, Question, RequestId, ServerCountCommand,
    Subscription, Time,
};
use crosscast_core::{BroadcastOpts, Node, Packet, Room, SocketInfo, Value};

/// A deterministic pseudo-random source (splitmix64): the simulation must be
/// reproducible from its seed, and needs nothing more.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Faults of the bus.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Delivery delay range in ms (a spread reorders messages).
    pub delay_ms: (u64, u64),
    /// Probability that one delivery is lost.
    pub loss: f64,
    /// Probability that one delivery happens twice.
    pub duplicate: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            delay_ms: (1, 1),
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// A message on the bus, for drop rules.
#[derive(Clone, Debug)]
pub struct Wire {
    /// Publishing node.
    pub from: usize,
    /// Receiving node.
    pub to: usize,
    /// The channel.
    pub channel: String,
    /// The payload.
    pub payload: Vec<u8>,
}

/// A rule that drops matching deliveries.
pub type DropRule = Box<dyn Fn(&Wire) -> bool>;

/// A rule that delays matching deliveries by extra milliseconds.
pub type DelayRule = Box<dyn Fn(&Wire) -> u64>;

/// A local socket of a simulated host.
#[derive(Clone, Debug)]
pub struct SimSocket {
    /// Its rooms (its own id included).
    pub rooms: BTreeSet<Room>,
    /// `socket.data`.
    pub data: Value,
    /// Packets delivered to it: `[event, ...args]`.
    pub received: Vec<Vec<Value>>,
    /// Its answer to a broadcast with acks; `None`: it never acks.
    pub ack_with: Option<Value>,
    /// Whether it was disconnected.
    pub disconnected: bool,
}

/// The host side of one node: local sockets and what the node reported.
#[derive(Debug)]
pub struct SimHost {
    /// The node.
    pub node: Node,
    /// Local sockets by id.
    pub sockets: BTreeMap<String, SimSocket>,
    /// Current subscriptions.
    pub subscriptions: BTreeSet<Subscription>,
    /// Server-side events received: `[event, ...args]`.
    pub server_events: Vec<Vec<Value>>,
    /// The ack this server gives to server-side events; `None`: never.
    pub server_ack_with: Option<Value>,
    /// Completions of this node's requests.
    pub completions: BTreeMap<RequestId, Completion>,
    /// Client acks streamed for this node's broadcasts with acks.
    pub acks: Vec<(RequestId, Value)>,
    /// Peers reported up and down.
    pub peer_log: Vec<String>,
    /// Whether the process is dead.
    pub dead: bool,
}

impl SimHost {
    fn matching(&self, opts: &BroadcastOpts) -> Vec<String> {
        self.sockets
            .iter()
            .filter(|(_, s)| !s.disconnected && matches(s, opts))
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn rooms(&self) -> BTreeSet<Room> {
        self.sockets
            .values()
            .filter(|s| !s.disconnected)
            .flat_map(|s| s.rooms.iter().cloned())
            .collect()
    }
}

/// Whether a socket matches broadcast options: in any target room (all when
/// none), in no excluded room.
pub fn matches(socket: &SimSocket, opts: &BroadcastOpts) -> bool {
    let targeted = opts.rooms.is_empty() || opts.rooms.iter().any(|r| socket.rooms.contains(r));
    targeted && !opts.except.iter().any(|r| socket.rooms.contains(r))
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at: Time,
    seq: u64,
    to: usize,
    channel: String,
    payload: Vec<u8>,
}

/// The cluster.
pub struct Cluster {
    /// The hosts, by index.
    pub hosts: Vec<SimHost>,
    /// Virtual time.
    pub now: Time,
    /// The bus faults.
    pub faults: Faults,
    /// Extra drop rules.
    pub drop_rules: Vec<DropRule>,
    /// Extra delay rules.
    pub delay_rules: Vec<DelayRule>,
    /// Partition group of each node; nodes in different groups do not hear each other.
    pub partition: Vec<u32>,
    protocol: Protocol,
    rng: Rng,
    queue: BinaryHeap<Reverse<Delivery>>,
    seq: u64,
    generation: u64,
    /// Every message published, for inspection: (from, channel, payload).
    pub published: Vec<(usize, String, Vec<u8>)>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("now", &self.now)
            .field("nodes", &self.hosts.len())
            .finish()
    }
}

/// The uid of node `i`, generation `g` (a restart makes a new generation).
pub fn uid_for(i: usize, g: u64) -> String {
    format!("n{i}g{g}")
}

impl Cluster {
    /// `n` nodes of `protocol` on a bus seeded with `seed`, with default node
    /// options; each node gets its subscriptions at time 0.
    pub fn new(n: usize, protocol: Protocol, seed: u64) -> Self {
        Self::with_config(n, protocol, seed, |_| {})
    }

    /// Like [`Cluster::new`], with node options adjusted by `tune`.
    pub fn with_config(
        n: usize,
        protocol: Protocol,
        seed: u64,
        tune: impl Fn(&mut NodeConfig),
    ) -> Self {
        let mut cluster = Cluster {
            hosts: Vec::new(),
            now: Time::from_millis(0),
            faults: Faults::default(),
            drop_rules: Vec::new(),
            delay_rules: Vec::new(),
            partition: vec![0; n],
            protocol,
            rng: Rng::new(seed),
            queue: BinaryHeap::new(),
            seq: 0,
            generation: 0,
            published: Vec::new(),
        };
        for i in 0..n {
            let node = cluster.make_node(i, &tune);
            cluster.hosts.push(SimHost {
                node,
                sockets: BTreeMap::new(),
                subscriptions: BTreeSet::new(),
                server_events: Vec::new(),
                server_ack_with: Some(Value::from(format!("ack from {i}"))),
                completions: BTreeMap::new(),
                acks: Vec::new(),
                peer_log: Vec::new(),
                dead: false,
            });
            cluster.drain(i);
        }
        cluster
    }

    fn make_node(&mut self, i: usize, tune: &impl Fn(&mut NodeConfig)) -> Node {
        let mut config = NodeConfig::new(uid_for(i, self.generation), "/", self.protocol.clone());
        tune(&mut config);
        Node::new(config, self.now).expect("valid node config")
    }

    /// Adds a socket `sid` to node `i`, in its own room and in `rooms`.
    pub fn connect(&mut self, i: usize, sid: &str, rooms: &[&str]) {
        let mut all: BTreeSet<Room> = rooms.iter().map(|r| Room::from(*r)).collect();
        all.insert(Room::from(sid));
        for room in &all {
            self.hosts[i].node.handle_room_added(room);
        }
        self.hosts[i].sockets.insert(
            sid.to_owned(),
            SimSocket {
                rooms: all,
                data: Value::map([("user", Value::from(sid))]),
                received: Vec::new(),
                ack_with: Some(Value::from(format!("ack {sid}"))),
                disconnected: false,
            },
        );
        self.drain(i);
    }

    /// What socket `sid` received, over the whole cluster.
    pub fn received(&self, sid: &str) -> Vec<Vec<Value>> {
        self.hosts
            .iter()
            .find_map(|h| h.sockets.get(sid))
            .map(|s| s.received.clone())
            .unwrap_or_default()
    }

    /// The socket `sid`, wherever it is.
    pub fn socket(&self, sid: &str) -> Option<&SimSocket> {
        self.hosts.iter().find_map(|h| h.sockets.get(sid))
    }

    // ---- operations of node i's app: the host applies locally, the node publishes ----

    /// `io.to(..).emit(event, args)` on node `i`.
    pub fn broadcast(&mut self, i: usize, event: &str, args: Vec<Value>, opts: BroadcastOpts) {
        let packet = Packet::event(event, args);
        deliver_local(&mut self.hosts[i], &packet.data, &opts);
        self.hosts[i]
            .node
            .broadcast(packet, &opts)
            .expect("a packet the cluster carries");
        self.drain(i);
    }

    /// `io.timeout(ms).emit(event, args, cb)` on node `i`; local acks are not
    /// part of the node's result.
    pub fn broadcast_with_ack(
        &mut self,
        i: usize,
        event: &str,
        opts: BroadcastOpts,
        timeout_ms: u64,
    ) -> RequestId {
        let packet = Packet::event(event, []);
        let now = self.now;
        let id = self.hosts[i]
            .node
            .broadcast_with_ack(now, packet, &opts, timeout_ms)
            .expect("a packet the cluster carries");
        self.drain(i);
        id
    }

    /// `io.in(..).socketsJoin(rooms)` on node `i`.
    pub fn sockets_join(&mut self, i: usize, opts: BroadcastOpts, rooms: &[&str]) {
        let rooms: Vec<Room> = rooms.iter().map(|r| Room::from(*r)).collect();
        apply_join(&mut self.hosts[i], &opts, &rooms, true);
        self.hosts[i].node.sockets_join(&opts, rooms);
        self.drain(i);
    }

    /// `io.in(..).socketsLeave(rooms)` on node `i`.
    pub fn sockets_leave(&mut self, i: usize, opts: BroadcastOpts, rooms: &[&str]) {
        let rooms: Vec<Room> = rooms.iter().map(|r| Room::from(*r)).collect();
        apply_join(&mut self.hosts[i], &opts, &rooms, false);
        self.hosts[i].node.sockets_leave(&opts, rooms);
        self.drain(i);
    }

    /// `io.in(..).disconnectSockets(close)` on node `i`.
    pub fn disconnect_sockets(&mut self, i: usize, opts: BroadcastOpts, close: bool) {
        apply_disconnect(&mut self.hosts[i], &opts);
        self.hosts[i].node.disconnect_sockets(&opts, close);
        self.drain(i);
    }

    /// `io.fetchSockets()` on node `i` (remote part).
    pub fn fetch_sockets(&mut self, i: usize, opts: BroadcastOpts) -> RequestId {
        let now = self.now;
        let id = self.hosts[i].node.fetch_sockets(now, &opts);
        self.drain(i);
        id
    }

    /// `adapter.allRooms()` on node `i` (remote part).
    pub fn all_rooms(&mut self, i: usize) -> RequestId {
        let now = self.now;
        let id = self.hosts[i].node.rooms(now, &BroadcastOpts::all());
        self.drain(i);
        id
    }

    /// `io.serverSideEmit(event, args)` on node `i`.
    pub fn server_side_emit(&mut self, i: usize, event: &str, args: Vec<Value>) {
        let mut data = vec![Value::from(event)];
        data.extend(args);
        self.hosts[i]
            .node
            .server_side_emit(data)
            .expect("a plain event name");
        self.drain(i);
    }

    /// `io.serverSideEmitWithAck(event, args)` on node `i`.
    pub fn server_side_emit_with_ack(
        &mut self,
        i: usize,
        event: &str,
        args: Vec<Value>,
    ) -> RequestId {
        let mut data = vec![Value::from(event)];
        data.extend(args);
        let now = self.now;
        let id = self.hosts[i]
            .node
            .server_side_emit_with_ack(now, data)
            .expect("a plain event name");
        self.drain(i);
        id
    }

    /// `adapter.serverCount()` on node `i`.
    pub fn server_count(&mut self, i: usize) -> RequestId {
        let now = self.now;
        let id = self.hosts[i].node.server_count(now);
        self.drain(i);
        id
    }

    /// The completion of request `id` of node `i`, if it completed.
    pub fn completion(&self, i: usize, id: RequestId) -> Option<&Completion> {
        self.hosts[i].completions.get(&id)
    }

    // ---- faults ----------------------------------------------------------------------

    /// Kills node `i`: it stops, and its subscriptions vanish.
    pub fn kill(&mut self, i: usize) {
        self.hosts[i].dead = true;
        self.hosts[i].subscriptions.clear();
    }

    /// Restarts node `i` as a new process with a new uid and no sockets.
    pub fn restart(&mut self, i: usize) {
        self.generation += 1;
        let node = self.make_node(i, &|_| {});
        let host = &mut self.hosts[i];
        host.node = node;
        host.dead = false;
        host.sockets.clear();
        host.subscriptions.clear();
        self.drain(i);
    }

    /// Puts node `i` in partition group `group`.
    pub fn isolate(&mut self, i: usize, group: u32) {
        self.partition[i] = group;
    }

    /// Injects a raw message as if published on `channel` by an outside client.
    pub fn inject(&mut self, kind: PublishKind, channel: &str, payload: Vec<u8>) {
        self.publish(usize::MAX, kind, channel.to_owned(), payload);
    }

    // ---- the event loop --------------------------------------------------------------

    /// Runs until nothing is left to do at or before `now + ms`, then sets the
    /// clock to `now + ms`.
    pub fn run_for(&mut self, ms: u64) {
        let until = self.now + ms;
        let mut steps = 0u64;
        loop {
            steps += 1;
            assert!(steps < 1_000_000, "simulation did not settle");
            let next_delivery = self.queue.peek().map(|Reverse(d)| d.at);
            let next_timer = self
                .hosts
                .iter()
                .filter(|h| !h.dead)
                .filter_map(|h| h.node.poll_timeout().map(|(t, _)| t))
                .min();
            let next = match (next_delivery, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if next_delivery == Some(next) {
                let Some(Reverse(d)) = self.queue.pop() else {
                    break;
                };
                if !self.hosts[d.to].dead {
                    let now = self.now;
                    self.hosts[d.to]
                        .node
                        .handle_message(now, &d.channel, &d.payload);
                    self.drain(d.to);
                }
            } else {
                for i in 0..self.hosts.len() {
                    if self.hosts[i].dead {
                        continue;
                    }
                    if self.hosts[i]
                        .node
                        .poll_timeout()
                        .is_some_and(|(t, _)| t <= next)
                    {
                        let now = self.now;
                        self.hosts[i].node.handle_timeout(now);
                        self.drain(i);
                    }
                }
            }
        }
        self.now = until;
    }

    fn publish(&mut self, from: usize, kind: PublishKind, channel: String, payload: Vec<u8>) {
        if from != usize::MAX {
            self.published
                .push((from, channel.clone(), payload.clone()));
        }
        for to in 0..self.hosts.len() {
            let host = &self.hosts[to];
            if host.dead {
                continue;
            }
            let copies = host
                .subscriptions
                .iter()
                .filter(|s| match (s, kind) {
                    (Subscription::Channel(c), PublishKind::Publish) => *c == channel,
                    (Subscription::Pattern(p), PublishKind::Publish) => p
                        .strip_suffix('*')
                        .is_some_and(|prefix| channel.starts_with(prefix)),
                    (Subscription::Sharded(c), PublishKind::SPublish) => *c == channel,
                    _ => false,
                })
                .count();
            if from != usize::MAX && self.partition[from] != self.partition[to] {
                continue;
            }
            let wire = Wire {
                from,
                to,
                channel: channel.clone(),
                payload: payload.clone(),
            };
            if self.drop_rules.iter().any(|rule| rule(&wire)) {
                continue;
            }
            let extra: u64 = self.delay_rules.iter().map(|rule| rule(&wire)).sum();
            for _ in 0..copies {
                if self.rng.chance(self.faults.loss) {
                    continue;
                }
                let times = if self.rng.chance(self.faults.duplicate) {
                    2
                } else {
                    1
                };
                for _ in 0..times {
                    let delay = self
                        .rng
                        .range(self.faults.delay_ms.0, self.faults.delay_ms.1)
                        + extra;
                    self.seq += 1;
                    self.queue.push(Reverse(Delivery {
                        at: self.now + delay,
                        seq: self.seq,
                        to,
                        channel: channel.clone(),
                        payload: payload.clone(),
                    }));
                }
            }
        }
    }

    fn count_subscribers(&self, channel: &str, command: ServerCountCommand) -> u64 {
        let sharded = match command {
            ServerCountCommand::NumSub => false,
            ServerCountCommand::ShardNumSub => true,
            other => panic!("the simulated Redis has no {other:?}"),
        };
        self.hosts
            .iter()
            .filter(|h| !h.dead)
            .filter(|h| {
                h.subscriptions.iter().any(|s| match s {
                    Subscription::Channel(c) => !sharded && c == channel,
                    Subscription::Sharded(c) => sharded && c == channel,
                    _ => false,
                })
            })
            .count() as u64
    }

    /// Drains node `i`'s outputs and applies them, as a host's run loop does.
    fn drain(&mut self, i: usize) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.hosts[i].node.poll_transmit() {
                progressed = true;
                self.publish(i, t.kind, t.channel, t.payload);
            }
            while let Some(event) = self.hosts[i].node.poll_event() {
                progressed = true;
                self.apply(i, event);
            }
            if !progressed {
                break;
            }
        }
    }

    fn apply(&mut self, i: usize, event: Event) {
        let now = self.now;
        match event {
            Event::Subscribe(s) => {
                self.hosts[i].subscriptions.insert(s);
            }
            Event::Unsubscribe(s) => {
                self.hosts[i].subscriptions.remove(&s);
            }
            Event::Broadcast { packet, opts } => {
                deliver_local(&mut self.hosts[i], &packet.data, &opts)
            }
            Event::BroadcastWithAck {
                ack, packet, opts, ..
            } => {
                let host = &mut self.hosts[i];
                let targets = host.matching(&opts);
                let mut answers = Vec::new();
                for sid in &targets {
                    if let Some(s) = host.sockets.get_mut(sid) {
                        s.received.push(packet.data.clone());
                        answers.extend(s.ack_with.clone());
                    }
                }
                let node = &mut host.node;
                node.handle_remote_client_count(now, ack, targets.len() as u64)
                    .expect("issued ack id");
                for value in answers {
                    node.handle_remote_ack(now, ack, value)
                        .expect("issued ack id");
                }
            }
            Event::SocketsJoin { opts, rooms } => {
                apply_join(&mut self.hosts[i], &opts, &rooms, true)
            }
            Event::SocketsLeave { opts, rooms } => {
                apply_join(&mut self.hosts[i], &opts, &rooms, false)
            }
            Event::DisconnectSockets { opts, .. } => apply_disconnect(&mut self.hosts[i], &opts),
            Event::ServerSideEmit { data, ack } => {
                let host = &mut self.hosts[i];
                host.server_events.push(data);
                if let (Some(ack), Some(value)) = (ack, host.server_ack_with.clone()) {
                    host.node
                        .handle_server_side_ack(now, ack, Some(value))
                        .expect("issued ack id");
                }
            }
            Event::Question(q) => self.answer(i, q),
            Event::AckReceived { request, value } => self.hosts[i].acks.push((request, value)),
            Event::Completed(c) => {
                self.hosts[i].completions.insert(c.request, c);
            }
            Event::PeerUp { uid } => self.hosts[i].peer_log.push(format!("up {uid}")),
            Event::PeerDown { uid, closed } => self.hosts[i].peer_log.push(format!(
                "down {uid}{}",
                if closed { " (closed)" } else { "" }
            )),
            other => panic!("unexpected event {other:?}"),
        }
    }

    fn answer(&mut self, i: usize, q: Question) {
        let now = self.now;
        match q {
            Question::ServerCount {
                id,
                channel,
                command,
            } => {
                let count = self.count_subscribers(&channel, command);
                self.hosts[i]
                    .node
                    .answer_server_count(now, id, count)
                    .expect("issued question");
            }
            Question::LocalSockets { id, opts } => {
                let host = &mut self.hosts[i];
                let sockets = host
                    .matching(&opts)
                    .into_iter()
                    .map(|sid| {
                        let s = &host.sockets[&sid];
                        SocketInfo {
                            id: sid.clone(),
                            handshake: Some(Value::map([("address", Value::from("127.0.0.1"))])),
                            rooms: s.rooms.iter().cloned().collect(),
                            data: Some(s.data.clone()),
                        }
                    })
                    .collect();
                host.node
                    .answer_local_sockets(now, id, sockets)
                    .expect("issued question");
            }
            Question::LocalRooms { id } => {
                let rooms = self.hosts[i].rooms().into_iter().collect();
                self.hosts[i]
                    .node
                    .answer_local_rooms(now, id, rooms)
                    .expect("issued question");
            }
            other => panic!("unexpected question {other:?}"),
        }
    }
}

fn deliver_local(host: &mut SimHost, data: &[Value], opts: &BroadcastOpts) {
    for sid in host.matching(opts) {
        if let Some(s) = host.sockets.get_mut(&sid) {
            s.received.push(data.to_vec());
        }
    }
}

fn apply_join(host: &mut SimHost, opts: &BroadcastOpts, rooms: &[Room], join: bool) {
    for sid in host.matching(opts) {
        for room in rooms {
            if join {
                host.node.handle_room_added(room);
            }
            if let Some(s) = host.sockets.get_mut(&sid) {
                if join {
                    s.rooms.insert(room.clone());
                } else {
                    s.rooms.remove(room);
                }
            }
        }
    }
    if !join {
        let still: BTreeSet<Room> = host.rooms();
        for room in rooms {
            if !still.contains(room) {
                host.node.handle_room_removed(room);
            }
        }
    }
}

fn apply_disconnect(host: &mut SimHost, opts: &BroadcastOpts) {
    for sid in host.matching(opts) {
        if let Some(s) = host.sockets.get_mut(&sid) {
            s.disconnected = true;
        }
    }
}
