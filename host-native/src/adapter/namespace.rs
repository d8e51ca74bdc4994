//! The run loop of one namespace: the task that owns the namespace's core
//! [`Node`], feeds it inputs and carries out its outputs.
//!
//! Nothing here decides where a message goes or when something times out: the
//! node does. The loop only moves data: commands and Redis messages in,
//! publications, local deliveries and answers out.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crosscast_core::node::{Completion, Event, Question, RemoteAckId, RequestId, ServerSideAckId};
use crosscast_core::{BroadcastOpts, Node, Packet, Room, SocketInfo, Value};
use socketioxide_core::Sid;
use socketioxide_core::adapter::{BroadcastFlags, BroadcastOptions, CoreAdapter, SocketEmitter};
use socketioxide_core::packet::PacketData;
use socketioxide_core::parser::Parse;
use tokio::sync::{mpsc, oneshot};

use super::CrosscastAdapter;
use super::cluster::ClusterInner;
use super::convert::{Gathered, Spread, local_opts, sio_room};
use super::server_side::{ServerSideAck, ServerSideEvent};
use crate::driver::budget::{ByteBudget, Charge};

/// What the namespace task is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// A message from Redis for this namespace.
    Message {
        channel: String,
        payload: bytes::Bytes,
    },
    /// Publish a broadcast (the caller delivered locally).
    Broadcast {
        packet: Packet,
        opts: BroadcastOpts,
    },
    /// Publish a broadcast with acks; remote acks go to `acks` until it completes.
    BroadcastWithAck {
        packet: Packet,
        opts: BroadcastOpts,
        timeout_ms: u64,
        acks: mpsc::UnboundedSender<Value>,
        done: oneshot::Sender<Completion>,
    },
    /// Publish a join/leave/disconnect.
    Join {
        opts: BroadcastOpts,
        rooms: Vec<Room>,
    },
    Leave {
        opts: BroadcastOpts,
        rooms: Vec<Room>,
    },
    Disconnect {
        opts: BroadcastOpts,
        close: bool,
    },
    /// A request whose completion is awaited.
    Request {
        kind: RequestKind,
        done: oneshot::Sender<Completion>,
    },
    /// A server-side event without ack.
    ServerSideEmit {
        data: Vec<Value>,
    },
    /// The host's answer to a server-count question.
    ServerCount {
        question: crosscast_core::node::QuestionId,
        count: u64,
    },
    /// A local client's ack of a remote broadcast.
    RemoteAck {
        ack: RemoteAckId,
        value: Value,
    },
    /// This server's answer to a remote server-side event.
    ServerSideAck {
        id: ServerSideAckId,
        value: Option<Value>,
    },
    /// A remote server-side event this server will not answer (its ack was
    /// dropped, or nobody listens).
    ReleaseServerSideAck {
        id: ServerSideAckId,
    },
    /// Look at the local rooms again (sharded dynamic subscriptions).
    RoomsChanged,
    /// Close the node and end the task.
    Close {
        done: oneshot::Sender<()>,
    },
    /// A command queued through an [`Inbox`], holding its bytes until it is handled.
    Charged {
        command: Box<Command>,
        charge: Charge,
    },
}

impl Command {
    /// About how many bytes the command holds while it waits: its own size and what it
    /// points to (packets, payloads, rooms).
    pub(crate) fn size(&self) -> usize {
        let heap = match self {
            Command::Message { channel, payload } => channel.len() + payload.len(),
            Command::Broadcast { packet, opts }
            | Command::BroadcastWithAck { packet, opts, .. } => {
                values_size(&packet.data) + opts_size(opts)
            }
            Command::Join { opts, rooms } | Command::Leave { opts, rooms } => {
                opts_size(opts) + rooms_size(rooms)
            }
            Command::Disconnect { opts, .. } => opts_size(opts),
            Command::Request { kind, .. } => match kind {
                RequestKind::Fetch(opts) | RequestKind::Rooms(opts) => opts_size(opts),
                RequestKind::ServerSideEmit(data) => values_size(data),
                RequestKind::ServerCount => 0,
            },
            Command::ServerSideEmit { data } => values_size(data),
            Command::RemoteAck { value, .. } => values_size(std::slice::from_ref(value)),
            Command::ServerSideAck { value, .. } => value
                .as_ref()
                .map_or(0, |v| values_size(std::slice::from_ref(v))),
            Command::Charged { command, .. } => command.size(),
            Command::ServerCount { .. }
            | Command::ReleaseServerSideAck { .. }
            | Command::RoomsChanged
            | Command::Close { .. } => 0,
        };
        std::mem::size_of::<Command>().saturating_add(heap)
    }
}

/// About how many bytes `values` hold: strings, binaries and keys by length, anything else
/// by a few bytes. Iterative, so any depth is fine.
pub(crate) fn values_size(values: &[Value]) -> usize {
    let mut stack: Vec<&Value> = values.iter().collect();
    let mut n = 0usize;
    while let Some(value) = stack.pop() {
        let own = match value {
            Value::Str(s) => s.len(),
            Value::Bin(b) | Value::Ext(_, b) => b.len(),
            Value::Array(items) => {
                stack.extend(items);
                0
            }
            Value::Map(entries) => {
                let mut keys = 0usize;
                for (k, v) in entries {
                    keys = keys.saturating_add(k.len());
                    stack.push(v);
                }
                keys
            }
            _ => 0,
        };
        n = n
            .saturating_add(own)
            .saturating_add(std::mem::size_of::<Value>());
    }
    n
}

fn rooms_size(rooms: &[Room]) -> usize {
    rooms.iter().fold(0usize, |n, r| {
        let own = match r {
            Room::Str(s) => s.len(),
            other => other.as_channel_part().len(),
        };
        n.saturating_add(own)
            .saturating_add(std::mem::size_of::<Room>())
    })
}

fn opts_size(opts: &BroadcastOpts) -> usize {
    rooms_size(&opts.rooms).saturating_add(rooms_size(&opts.except))
}

/// Why a command did not enter a namespace's inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InboxDrop {
    /// The inbox held `inbox_queue` commands.
    Full,
    /// The command would have passed `inbox_queue_bytes` (or is larger than all of it).
    Bytes,
    /// The namespace task is gone.
    Closed,
}

/// The queue of a namespace task, bounded in commands (the channel) and in bytes (the
/// budget, held by each command until the task has handled it). Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Inbox {
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) budget: Arc<ByteBudget>,
}

impl Inbox {
    /// A new inbox of at most `count` commands and `bytes` bytes, and its receiver.
    pub(crate) fn new(count: usize, bytes: usize) -> (Self, mpsc::Receiver<Command>) {
        let (tx, rx) = mpsc::channel(count.max(1));
        (
            Self {
                tx,
                budget: ByteBudget::new(bytes),
            },
            rx,
        )
    }

    /// Queues `command` now, or says why it could not be.
    pub(crate) fn try_send(&self, command: Command) -> Result<(), InboxDrop> {
        let charge = self
            .budget
            .try_charge(command.size())
            .ok_or(InboxDrop::Bytes)?;
        self.tx
            .try_send(Command::Charged {
                command: Box::new(command),
                charge,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => InboxDrop::Full,
                mpsc::error::TrySendError::Closed(_) => InboxDrop::Closed,
            })
    }

    /// Queues `command`, waiting for room in count and in bytes; fails at once when it is
    /// larger than the whole byte bound, or when the task is gone.
    pub(crate) async fn send(&self, command: Command) -> Result<(), InboxDrop> {
        let charge = tokio::select! {
            charge = self.budget.charge(command.size()) => charge.ok_or(InboxDrop::Bytes)?,
            () = self.tx.closed() => return Err(InboxDrop::Closed),
        };
        self.tx
            .send(Command::Charged {
                command: Box::new(command),
                charge,
            })
            .await
            .map_err(|_| InboxDrop::Closed)
    }
}

/// The requests a caller can await.
#[derive(Debug)]
pub(crate) enum RequestKind {
    Fetch(BroadcastOpts),
    /// The rooms of the matching sockets; the node picks the request.
    Rooms(BroadcastOpts),
    ServerSideEmit(Vec<Value>),
    ServerCount,
}

/// How often the local rooms are compared with the subscribed room channels in
/// the sharded dynamic modes (socketioxide does not tell an adapter when a
/// socket joins a room).
const ROOM_SCAN: Duration = Duration::from_millis(100);

pub(crate) struct NamespaceTask<E: SocketEmitter> {
    pub(crate) node: Node,
    pub(crate) adapter: Weak<CrosscastAdapter<E>>,
    pub(crate) cluster: Arc<ClusterInner>,
    /// This namespace's own inbox (for subscriptions, acks and answers).
    pub(crate) commands: Inbox,
    pub(crate) inbox: mpsc::Receiver<Command>,
    pub(crate) scan_rooms: bool,
    requests: BTreeMap<RequestId, oneshot::Sender<Completion>>,
    ack_sinks: BTreeMap<RequestId, mpsc::UnboundedSender<Value>>,
    known_rooms: BTreeSet<Room>,
}

impl<E: SocketEmitter> NamespaceTask<E> {
    pub(crate) fn new(
        node: Node,
        adapter: Weak<CrosscastAdapter<E>>,
        cluster: Arc<ClusterInner>,
        commands: Inbox,
        inbox: mpsc::Receiver<Command>,
        scan_rooms: bool,
    ) -> Self {
        Self {
            node,
            adapter,
            cluster,
            commands,
            inbox,
            scan_rooms,
            requests: BTreeMap::new(),
            ack_sinks: BTreeMap::new(),
            known_rooms: BTreeSet::new(),
        }
    }

    /// Runs until the namespace closes or its adapter is dropped.
    pub(crate) async fn run(mut self) {
        self.drain();
        let mut scan = tokio::time::interval(ROOM_SCAN);
        scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self
                .node
                .poll_timeout()
                .map(|(at, _)| self.cluster.instant_of(at));
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = self.inbox.recv() => {
                    let Some(command) = command else { break };
                    if let Some(done) = self.handle(command) {
                        self.node.close(self.cluster.now());
                        self.drain();
                        self.cluster.forget_namespace(self.node.nsp());
                        let _ = done.send(());
                        break;
                    }
                }
                _ = sleep => {
                    let now = self.cluster.now();
                    self.node.handle_timeout(now);
                }
                _ = scan.tick(), if self.scan_rooms => self.scan_rooms(),
            }
            if self.adapter.strong_count() == 0 {
                break;
            }
            self.drain();
        }
    }

    /// Handles one command; returns the close acknowledgement when asked to close.
    fn handle(&mut self, command: Command) -> Option<oneshot::Sender<()>> {
        let now = self.cluster.now();
        match command {
            Command::Message { channel, payload } => {
                self.node.handle_message(now, &channel, &payload)
            }
            Command::Broadcast { packet, opts } => {
                // The adapter checked the packet; a refusal here is counted by the node.
                let _ = self.node.broadcast(packet, &opts);
            }
            Command::BroadcastWithAck {
                packet,
                opts,
                timeout_ms,
                acks,
                done,
            } => {
                // Refused (counted by the node): `done` is dropped, the caller sees Closed.
                if let Ok(id) = self.node.broadcast_with_ack(now, packet, &opts, timeout_ms) {
                    self.ack_sinks.insert(id, acks);
                    self.requests.insert(id, done);
                }
            }
            Command::Join { opts, rooms } => self.node.sockets_join(&opts, rooms),
            Command::Leave { opts, rooms } => self.node.sockets_leave(&opts, rooms),
            Command::Disconnect { opts, close } => self.node.disconnect_sockets(&opts, close),
            Command::Request { kind, done } => {
                let id = match kind {
                    RequestKind::Fetch(opts) => self.node.fetch_sockets(now, &opts),
                    RequestKind::Rooms(opts) => self.node.rooms(now, &opts),
                    // The cluster handle checked the event; a refusal here drops
                    // `done` (the caller sees Closed).
                    RequestKind::ServerSideEmit(data) => {
                        match self.node.server_side_emit_with_ack(now, data) {
                            Ok(id) => id,
                            Err(_) => return None,
                        }
                    }
                    RequestKind::ServerCount => self.node.server_count(now),
                };
                self.requests.insert(id, done);
            }
            Command::ServerSideEmit { data } => {
                let _ = self.node.server_side_emit(data);
            }
            Command::ServerCount { question, count } => {
                let _ = self.node.answer_server_count(now, question, count);
            }
            Command::RemoteAck { ack, value } => {
                let _ = self.node.handle_remote_ack(now, ack, value);
            }
            Command::ServerSideAck { id, value } => {
                let _ = self.node.handle_server_side_ack(now, id, value);
            }
            Command::ReleaseServerSideAck { id } => {
                let _ = self.node.release_server_side_ack(now, id);
            }
            Command::RoomsChanged => self.scan_rooms(),
            Command::Close { done } => return Some(done),
            Command::Charged { command, charge } => {
                let close = self.handle(*command);
                // The command's bytes come back once it is handled.
                drop(charge);
                return close;
            }
        }
        None
    }

    /// Carries out every output of the node.
    fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.node.poll_transmit() {
                progressed = true;
                self.cluster.publish(t);
            }
            while let Some(event) = self.node.poll_event() {
                progressed = true;
                self.apply(event);
            }
            if !progressed {
                break;
            }
        }
        self.cluster
            .record_stats(self.node.nsp(), self.node.stats().clone());
    }

    fn apply(&mut self, event: Event) {
        let now = self.cluster.now();
        match event {
            Event::Subscribe(sub) => self.cluster.subscribe(sub, self.commands.clone()),
            Event::Unsubscribe(sub) => self.cluster.unsubscribe(&sub),
            Event::Question(q) => self.answer(q),
            Event::Completed(c) => {
                self.ack_sinks.remove(&c.request);
                if let Some(done) = self.requests.remove(&c.request) {
                    let _ = done.send(c);
                }
            }
            Event::AckReceived { request, value } => {
                if let Some(sink) = self.ack_sinks.get(&request) {
                    let _ = sink.send(value);
                }
            }
            Event::ServerSideEmit { mut data, ack } => {
                let event = match data.first() {
                    Some(Value::Str(_)) => match data.remove(0) {
                        Value::Str(s) => s,
                        _ => String::new(),
                    },
                    _ => String::new(),
                };
                let ack = ack.map(|id| ServerSideAck::new(id, self.commands.tx.clone()));
                self.cluster.deliver_server_side(
                    self.node.nsp(),
                    ServerSideEvent {
                        event,
                        args: data,
                        ack,
                    },
                );
            }
            // `uid` is this server's node, `peer` the other one.
            Event::PeerUp { uid } => tracing::info!(
                nsp = self.node.nsp(),
                uid = %self.node.uid(),
                peer = %uid,
                "crosscast peer up"
            ),
            Event::PeerDown { uid, closed } => tracing::info!(
                nsp = self.node.nsp(),
                uid = %self.node.uid(),
                peer = %uid,
                closed,
                "crosscast peer down"
            ),
            local => {
                let Some(adapter) = self.adapter.upgrade() else {
                    return;
                };
                self.apply_local(&adapter, local, now);
            }
        }
    }

    /// Applies what another server published to this server's own sockets.
    fn apply_local(
        &mut self,
        adapter: &Arc<CrosscastAdapter<E>>,
        event: Event,
        now: crosscast_core::Time,
    ) {
        let local = adapter.get_local();
        match event {
            Event::Broadcast { packet, opts } => match adapter.to_sio_packet(&packet.data) {
                Ok(packet) => {
                    let _ = local.broadcast(packet, local_opts(&opts));
                }
                Err(e) => tracing::warn!(error = %e, "dropping a remote broadcast"),
            },
            Event::BroadcastWithAck {
                ack,
                packet,
                opts,
                timeout_ms,
            } => {
                let packet = match adapter.to_sio_packet(&packet.data) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "dropping a remote broadcast with acks");
                        let _ = self.node.handle_remote_client_count(now, ack, 0);
                        return;
                    }
                };
                let (stream, count) = local.broadcast_with_ack(
                    packet,
                    local_opts(&opts),
                    Some(Duration::from_millis(timeout_ms)),
                );
                let _ = self
                    .node
                    .handle_remote_client_count(now, ack, u64::from(count));
                let commands = self.commands.clone();
                let cluster = Arc::downgrade(&self.cluster);
                let weak = Arc::downgrade(adapter);
                tokio::spawn(async move {
                    use futures_util::StreamExt;
                    let mut stream = std::pin::pin!(stream);
                    while let Some((_, result)) = stream.next().await {
                        let Ok(mut value) = result else { continue };
                        let Some(adapter) = weak.upgrade() else { break };
                        let value = adapter
                            .get_local()
                            .parser()
                            .decode_value::<Value>(&mut value, false)
                            .unwrap_or(Value::Nil);
                        match commands.send(Command::RemoteAck { ack, value }).await {
                            Ok(()) => {}
                            Err(InboxDrop::Closed) => break,
                            Err(drop) => {
                                if let Some(cluster) = cluster.upgrade() {
                                    cluster.count_inbox_drop(drop);
                                }
                            }
                        }
                    }
                });
            }
            Event::SocketsJoin { opts, rooms } => {
                local.add_sockets(
                    local_opts(&opts),
                    rooms.iter().map(sio_room).collect::<Vec<_>>(),
                );
                self.scan_rooms();
            }
            Event::SocketsLeave { opts, rooms } => {
                local.del_sockets(
                    local_opts(&opts),
                    rooms.iter().map(sio_room).collect::<Vec<_>>(),
                );
                self.scan_rooms();
            }
            Event::DisconnectSockets { opts, close } => {
                if close {
                    // The whole connection: every namespace of this server.
                    let sids = local.sockets(local_opts(&opts));
                    self.cluster.close_connections(self.node.nsp(), &sids);
                } else {
                    let _ = local.disconnect_socket(local_opts(&opts));
                }
            }
            other => tracing::debug!(?other, "event not applied"),
        }
    }

    fn answer(&mut self, question: Question) {
        let now = self.cluster.now();
        match question {
            Question::ServerCount {
                id,
                channel,
                command,
            } => {
                let driver = self.cluster.driver.clone();
                let commands = self.commands.tx.clone();
                tokio::spawn(async move {
                    if let Ok(count) = driver.server_count_with(command, &channel).await {
                        let _ = commands
                            .send(Command::ServerCount {
                                question: id,
                                count,
                            })
                            .await;
                    }
                });
            }
            Question::LocalSockets { id, opts } => {
                let sockets = self
                    .adapter
                    .upgrade()
                    .map(|a| local_socket_infos(&a, &opts))
                    .unwrap_or_default();
                let _ = self.node.answer_local_sockets(now, id, sockets);
            }
            Question::LocalRooms { id } => {
                let rooms = self
                    .adapter
                    .upgrade()
                    .map(|a| {
                        let mut all = BroadcastOptions::default();
                        all.add_flag(BroadcastFlags::Broadcast);
                        a.get_local()
                            .rooms(all)
                            .into_iter()
                            .map(|r| Room::Str(r.to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let _ = self.node.answer_local_rooms(now, id, rooms);
            }
            other => tracing::debug!(?other, "question not answered"),
        }
    }

    /// Tells the node which local rooms appeared or disappeared.
    fn scan_rooms(&mut self) {
        if !self.scan_rooms {
            return;
        }
        let Some(adapter) = self.adapter.upgrade() else {
            return;
        };
        let mut all = BroadcastOptions::default();
        all.add_flag(BroadcastFlags::Broadcast);
        let now: BTreeSet<Room> = adapter
            .get_local()
            .rooms(all)
            .into_iter()
            .map(|r| Room::Str(r.to_string()))
            .collect();
        for room in now.difference(&self.known_rooms) {
            self.node.handle_room_added(room);
        }
        for room in self.known_rooms.difference(&now) {
            self.node.handle_room_removed(room);
        }
        self.known_rooms = now;
    }
}

/// The local sockets matching `opts`, as a fetchSockets answer, each with the
/// handshake and data the app registered for it (see `handshake`).
fn local_socket_infos<E: SocketEmitter>(
    adapter: &CrosscastAdapter<E>,
    opts: &BroadcastOpts,
) -> Vec<SocketInfo> {
    let local = adapter.get_local();
    let nsp = adapter.nsp();
    let sids: Vec<Sid> = local.sockets(local_opts(opts));
    sids.into_iter()
        .map(|sid| {
            let mut rooms: HashSet<String> = local
                .socket_rooms(sid)
                .into_iter()
                .map(|r| r.to_string())
                .collect();
            rooms.insert(sid.to_string());
            let mut rooms: Vec<String> = rooms.into_iter().collect();
            rooms.sort();
            let (handshake, data) = adapter.cluster.inner.sockets.answer(&nsp, sid);
            SocketInfo {
                id: sid.to_string(),
                handshake: Some(handshake),
                rooms: rooms.into_iter().map(Room::Str).collect(),
                data: Some(data),
            }
        })
        .collect()
}

/// Reads a socketioxide event packet's data as the core's `[event, ...args]`.
pub(crate) fn packet_data<P: Parse>(
    parser: P,
    packet: &socketioxide_core::packet::Packet,
) -> Option<Result<Vec<Value>, String>> {
    match &packet.inner {
        PacketData::Event(value, _) | PacketData::BinaryEvent(value, _) => {
            let mut value = value.clone();
            Some(
                parser
                    .decode_value::<Gathered>(&mut value, false)
                    .map(|g| g.0)
                    .map_err(|e| e.to_string()),
            )
        }
        _ => None,
    }
}

/// Writes the core's `[event, ...args]` as a socketioxide value.
pub(crate) fn sio_value<P: Parse>(
    parser: P,
    data: &[Value],
) -> Result<socketioxide_core::Value, String> {
    parser
        .encode_value(&Spread(data), None)
        .map_err(|e| e.to_string())
}
