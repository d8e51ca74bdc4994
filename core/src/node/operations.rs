//! The operations of the local app: what the node publishes to the other
//! servers, and the requests it starts.
//!
//! Contract: the host has already applied each operation to its own sockets;
//! the node only tells the cluster. After [`Node::close`] nothing is
//! published, and a new request completes at once as cancelled.

use std::collections::BTreeSet;

use super::dialect::{Action, Dialect};
use super::requests::{Collected, Pending};
use super::{Event, Node, RequestId, Time, TimerKind};
use crate::error::UsageError;
use crate::options::BroadcastOpts;
use crate::packet::Packet;
use crate::room::Room;
use crate::value::Value;

impl Node {
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
        let message = self.dialect.broadcast(packet, opts);
        self.publish(message);
        Ok(())
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
                client_counts: Vec::new(),
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
        let message = self.dialect.broadcast_with_ack(wire_id, packet, opts);
        self.publish(message);
        Ok(id)
    }

    /// Publishes "the sockets matching `opts` join `rooms`" (the host applies it
    /// to its own sockets).
    pub fn sockets_join(&mut self, opts: &BroadcastOpts, rooms: Vec<Room>) {
        self.remote_mutation(opts, Action::Join(rooms));
    }

    /// Publishes "the sockets matching `opts` leave `rooms`".
    pub fn sockets_leave(&mut self, opts: &BroadcastOpts, rooms: Vec<Room>) {
        self.remote_mutation(opts, Action::Leave(rooms));
    }

    /// Publishes "the sockets matching `opts` disconnect".
    pub fn disconnect_sockets(&mut self, opts: &BroadcastOpts, close: bool) {
        self.remote_mutation(opts, Action::Disconnect(close));
    }

    fn remote_mutation(&mut self, opts: &BroadcastOpts, action: Action) {
        if self.closed {
            return;
        }
        let message = self.dialect.mutation(opts, action);
        self.publish(message);
    }

    /// Asks the other servers for their sockets matching `opts`. In sharded mode
    /// `opts.flags.timeout` overrides the requests timeout, as in Node.
    pub fn fetch_sockets(&mut self, now: Time, opts: &BroadcastOpts) -> RequestId {
        let timeout = self
            .dialect
            .fetch_timeout_ms(opts, self.config.requests_timeout_ms);
        let id = self.start_request(now, Collected::Fetch(Vec::new()), timeout);
        if self.closed {
            return id;
        }
        let wire_id = self.wire_id(id);
        let message = self.dialect.fetch(wire_id, opts);
        self.publish(message);
        id
    }

    /// Asks the other servers for their rooms, socket-id rooms included: the
    /// rooms of their sockets matching `opts` (rooms/except; every socket
    /// when both are empty). Completes with [`super::Outcome::AllRooms`].
    ///
    /// The node picks the request, so that every host gives the same answer:
    /// an allRooms request for every socket in the classic protocol (what
    /// Node's `allRooms()` sends), else a fetchSockets whose sockets' rooms
    /// are collected (a filtered question, and the sharded protocol, which has
    /// no allRooms message). It waits as that request does, and times out
    /// with [`super::Completion::error`] set.
    pub fn rooms(&mut self, now: Time, opts: &BroadcastOpts) -> RequestId {
        let everyone = opts.rooms.is_empty() && opts.except.is_empty();
        let all_rooms = everyone && self.dialect.has_all_rooms();
        let (collected, timeout) = if all_rooms {
            (
                Collected::AllRooms(BTreeSet::new()),
                self.config.requests_timeout_ms,
            )
        } else {
            (
                Collected::SocketRooms(BTreeSet::new()),
                self.dialect
                    .fetch_timeout_ms(opts, self.config.requests_timeout_ms),
            )
        };
        let id = self.start_request(now, collected, timeout);
        if self.closed {
            return id;
        }
        let wire_id = self.wire_id(id);
        let message = all_rooms
            .then(|| self.dialect.all_rooms(wire_id.clone()))
            .flatten()
            .unwrap_or_else(|| self.dialect.fetch(wire_id, opts));
        self.publish(message);
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
            let message = self.dialect.server_side_emit(None, data);
            self.publish(message);
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
            let message = self.dialect.server_side_emit(Some(wire_id), data);
            self.publish(message);
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

    /// Asks how many servers the cluster has (this one included).
    pub fn server_count(&mut self, now: Time) -> RequestId {
        let timeout = self.config.requests_timeout_ms;
        self.start_request(now, Collected::ServerCount, timeout)
    }

    /// Starts a request: its deadline, a server count, the recount timer.
    fn start_request(&mut self, now: Time, collected: Collected, timeout_ms: u64) -> RequestId {
        let id = RequestId(self.next_id());
        let pending = Pending {
            wire_id: self.wire_id(id),
            collected,
            expected: None,
            initial: None,
            answered: 0,
            responders: BTreeSet::new(),
            // Only where responses name their sender can the node tell that a
            // dead peer had not answered yet.
            peers_waited: if self.dialect.responses_name_sender() {
                self.members.uids().cloned().collect()
            } else {
                BTreeSet::new()
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

    /// Tells the node that a room now exists locally (sharded `dynamic` modes
    /// subscribe its channel). Idempotent.
    pub fn handle_room_added(&mut self, room: &Room) {
        if self.closed || !self.dialect.subscribes_room(room) {
            return;
        }
        if let Some(sub) = self.dialect.room_subscription(room)
            && self.room_channels.insert(sub.clone())
        {
            self.events.push_back(Event::Subscribe(sub));
        }
    }

    /// Tells the node that a room no longer exists locally. Idempotent.
    pub fn handle_room_removed(&mut self, room: &Room) {
        if let Some(sub) = self.dialect.room_subscription(room)
            && self.room_channels.remove(&sub)
        {
            self.events.push_back(Event::Unsubscribe(sub));
        }
    }

    /// Closes the node: unsubscribes everything, announces the close to crosscast
    /// peers, and cancels every pending request. Later operations are cancelled at once.
    pub fn close(&mut self, _now: Time) {
        if self.closed {
            return;
        }
        if self.membership_on() {
            self.send_membership(super::Signal::Close);
        }
        self.closed = true;
        for sub in self.base_subscriptions() {
            self.events.push_back(Event::Unsubscribe(sub));
        }
        for sub in std::mem::take(&mut self.room_channels) {
            self.events.push_back(Event::Unsubscribe(sub));
        }
        for id in self.requests.ids() {
            self.cancel(id);
        }
        self.requests.drain();
        self.questions.clear();
        self.count_question = None;
        self.remote_acks.clear();
        self.server_side_acks.clear();
        self.timers = super::Timers::default();
        self.sync_gauges();
    }
}
