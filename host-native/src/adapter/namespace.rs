//! The run loop of one namespace: the task that owns the namespace's core
//! [`Node`], feeds it inputs and carries out its outputs.
//!
//! Nothing here decides where a message goes or when something times out: the
//! node does. The loop only moves data: commands and Redis messages in,
//! publications, local deliveries and answers out.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crosscast_core::node::{Completion, Event, Question, RequestId};
use crosscast_core::{BroadcastOpts, Node, Room, SocketInfo, Value};
use socketioxide_core::Sid;
use socketioxide_core::adapter::{
    BroadcastFlags, BroadcastOptions, CoreLocalAdapter, SocketEmitter,
};
use socketioxide_core::parser::Parse;
use tokio::sync::{mpsc, oneshot};

use super::cluster::ClusterInner;
use super::convert::{local_opts, sio_packet, sio_room};
use super::inbox::{Command, Inbox, InboxDrop, RequestKind};
use super::server_side::{ServerSideAck, ServerSideEvent};
use super::socket_records::SocketBook;

/// How often the local rooms are compared with the subscribed room channels in
/// the sharded dynamic modes (socketioxide does not tell an adapter when a
/// socket joins a room).
const ROOM_SCAN: Duration = Duration::from_millis(100);

/// The local side of a namespace as its task sees it: socketioxide's local
/// adapter (the sockets, their rooms, the parser). The adapter implements it;
/// the task holds it weakly and ends when it is gone.
pub(crate) trait LocalSide<E: SocketEmitter>: Send + Sync + 'static {
    /// socketioxide's local adapter of the namespace.
    fn local(&self) -> &CoreLocalAdapter<E>;
}

pub(crate) struct NamespaceTask<E: SocketEmitter> {
    pub(crate) node: Node,
    pub(crate) adapter: Weak<dyn LocalSide<E>>,
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
        adapter: Weak<dyn LocalSide<E>>,
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
        adapter: &Arc<dyn LocalSide<E>>,
        event: Event,
        now: crosscast_core::Time,
    ) {
        let local = adapter.local();
        match event {
            Event::Broadcast { packet, opts } => match sio_packet(local, &packet.data) {
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
                let packet = match sio_packet(local, &packet.data) {
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
                            .local()
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
                    .map(|a| local_socket_infos(a.local(), &self.cluster.sockets, &opts))
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
                        a.local()
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
            .local()
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
pub(crate) fn local_socket_infos<E: SocketEmitter>(
    local: &CoreLocalAdapter<E>,
    records: &SocketBook,
    opts: &BroadcastOpts,
) -> Vec<SocketInfo> {
    let nsp = local.path().to_string();
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
            let (handshake, data) = records.answer(&nsp, sid);
            SocketInfo {
                id: sid.to_string(),
                handshake: Some(handshake),
                rooms: rooms.into_iter().map(Room::Str).collect(),
                data: Some(data),
            }
        })
        .collect()
}
