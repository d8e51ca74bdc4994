//! The table of this node's pending requests, keyed by request id.
//!
//! A request expects answers from the other servers. How many comes from the
//! server count (the host's NUMSUB / SHARDNUMSUB answer, minus this node); it can
//! only go down while the request is pending: when a recount shows fewer servers,
//! or when a crosscast peer that was alive at the start dies without answering.
//! A request completes when every expected answer is in, or at its deadline with
//! what arrived.

use std::collections::{BTreeMap, BTreeSet};

use super::dialect::{Part, PendingRequests};
use super::event::{Completion, Outcome, RequestId};
use crate::room::Room;
use crate::socket_info::SocketInfo;
use crate::value::Value;

/// What a pending request collects.
#[derive(Debug)]
pub(crate) enum Collected {
    Fetch(Vec<SocketInfo>),
    AllRooms(BTreeSet<Room>),
    /// The rooms of the matching sockets, asked as a fetchSockets (a filtered
    /// rooms request, or any rooms request of a protocol without allRooms).
    SocketRooms(BTreeSet<Room>),
    ServerSideEmit(Vec<Value>),
    BroadcastAck {
        /// The client count of each server that replied, in arrival order.
        client_counts: Vec<u64>,
        clients: u64,
        acks: u64,
    },
    ServerCount,
}

/// What a pending request collects, without the collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestKind {
    Fetch,
    AllRooms,
    ServerSideEmit,
    BroadcastAck,
    ServerCount,
}

impl Collected {
    pub(crate) fn kind(&self) -> RequestKind {
        match self {
            Collected::Fetch(_) => RequestKind::Fetch,
            Collected::AllRooms(_) => RequestKind::AllRooms,
            // Answered as a fetchSockets: decoded as one.
            Collected::SocketRooms(_) => RequestKind::Fetch,
            Collected::ServerSideEmit(_) => RequestKind::ServerSideEmit,
            Collected::BroadcastAck { .. } => RequestKind::BroadcastAck,
            Collected::ServerCount => RequestKind::ServerCount,
        }
    }
}

/// What one response did to its request.
#[derive(Debug)]
pub(crate) enum Collect {
    /// Counted (or a duplicate, dropped): nothing to tell the host.
    Nothing,
    /// A client ack to stream to the host.
    Ack(Value),
    /// A client ack beyond the clients counted: dropped.
    ExcessAck,
}

/// One pending request.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) wire_id: String,
    pub(crate) collected: Collected,
    /// Remote servers expected to answer; `None` until the count is known.
    pub(crate) expected: Option<u64>,
    /// The first count: servers expected when the request started. Answers
    /// missing from it are reported even when the expectation dropped later.
    pub(crate) initial: Option<u64>,
    /// Remote servers that answered.
    pub(crate) answered: u64,
    /// uids that answered, when the protocol tells (sharded).
    pub(crate) responders: BTreeSet<String>,
    /// crosscast peers alive when the request started and not yet answered.
    pub(crate) peers_waited: BTreeSet<String>,
}

impl Pending {
    fn is_complete(&self) -> bool {
        let Some(expected) = self.expected else {
            return false;
        };
        match &self.collected {
            Collected::BroadcastAck {
                client_counts,
                clients,
                acks,
            } => client_counts.len() as u64 >= expected && acks >= clients,
            Collected::ServerCount => true,
            _ => self.answered >= expected,
        }
    }

    /// Adds one response to a pending request; returns a client ack to stream.
    /// A second answer of a known server (sharded) is dropped as a duplicate.
    pub(crate) fn collect(&mut self, from: Option<&str>, part: Part) -> Collect {
        let is_count_reply = matches!(part, Part::ClientCount(_));
        let first = match (&self.collected, &part) {
            // A server counts its clients before any of them can ack: more acks
            // than counted clients come from a peer that lies.
            (Collected::BroadcastAck { clients, acks, .. }, Part::ClientAck(_))
                if acks >= clients =>
            {
                return Collect::ExcessAck;
            }
            (Collected::BroadcastAck { .. }, Part::ClientAck(_)) => true,
            (Collected::BroadcastAck { .. }, _) if !is_count_reply => return Collect::Nothing,
            (Collected::ServerCount, _) => return Collect::Nothing,
            _ => Requests::mark_answered(self, from),
        };
        if !first {
            return Collect::Nothing;
        }
        match (&mut self.collected, part) {
            (Collected::Fetch(all), Part::Sockets(sockets)) => all.extend(sockets),
            (Collected::AllRooms(all), Part::Rooms(rooms)) => all.extend(rooms),
            (Collected::SocketRooms(all), Part::Sockets(sockets)) => {
                all.extend(sockets.into_iter().flat_map(|s| s.rooms));
            }
            (Collected::ServerSideEmit(all), Part::Ack(value)) => {
                all.push(value.unwrap_or(Value::Nil))
            }
            (
                Collected::BroadcastAck {
                    client_counts,
                    clients,
                    ..
                },
                Part::ClientCount(n),
            ) => {
                client_counts.push(n);
                // A peer's count may be anything: saturate, never overflow.
                *clients = clients.saturating_add(n);
            }
            (Collected::BroadcastAck { acks, .. }, Part::ClientAck(value)) => {
                *acks += 1;
                return Collect::Ack(value);
            }
            // A response whose fields do not fit the request still counts, as in Node.
            _ => {}
        }
        Collect::Nothing
    }

    /// Remote servers the request waited for: the first count, or what
    /// answered when no count ever came.
    fn servers_expected(&self) -> u64 {
        self.initial.or(self.expected).unwrap_or(self.answered)
    }

    fn missing(&self) -> u64 {
        let expected = self.servers_expected();
        match &self.collected {
            Collected::BroadcastAck {
                client_counts,
                clients,
                acks,
            } => expected
                .saturating_sub(client_counts.len() as u64)
                .saturating_add(clients.saturating_sub(*acks)),
            _ => expected.saturating_sub(self.answered),
        }
    }
}

/// The table.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    pending: BTreeMap<RequestId, Pending>,
    by_wire_id: BTreeMap<String, RequestId>,
}

impl Requests {
    pub(crate) fn insert(&mut self, id: RequestId, pending: Pending) {
        self.by_wire_id.insert(pending.wire_id.clone(), id);
        self.pending.insert(id, pending);
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn lookup(&mut self, wire_id: &str) -> Option<(RequestId, &mut Pending)> {
        let id = *self.by_wire_id.get(wire_id)?;
        self.pending.get_mut(&id).map(|p| (id, p))
    }

    pub(crate) fn ids(&self) -> Vec<RequestId> {
        self.pending.keys().copied().collect()
    }

    pub(crate) fn get_mut(&mut self, id: RequestId) -> Option<&mut Pending> {
        self.pending.get_mut(&id)
    }

    /// Applies a server count to every pending request (`count` includes this node).
    pub(crate) fn apply_server_count(&mut self, count: u64) {
        let remote = count.saturating_sub(1);
        for p in self.pending.values_mut() {
            p.initial.get_or_insert(remote);
            p.expected = Some(match p.expected {
                None => remote,
                Some(e) => e.min(remote),
            });
        }
    }

    /// A crosscast peer died: requests that waited for it expect one answer less.
    pub(crate) fn peer_gone(&mut self, uid: &str) {
        for p in self.pending.values_mut() {
            if p.peers_waited.remove(uid)
                && let Some(e) = p.expected.as_mut()
            {
                *e = e.saturating_sub(1);
            }
        }
    }

    /// Removes and returns the completion of `id` if it is complete.
    pub(crate) fn take_if_complete(&mut self, id: RequestId) -> Option<Completion> {
        if self.pending.get(&id).is_some_and(Pending::is_complete) {
            self.finish(id, false, None)
        } else {
            None
        }
    }

    /// Removes `id` and returns its completion; `count` is the server count for
    /// a serverCount request.
    pub(crate) fn finish(
        &mut self,
        id: RequestId,
        timed_out: bool,
        count: Option<u64>,
    ) -> Option<Completion> {
        let p = self.pending.remove(&id)?;
        self.by_wire_id.remove(&p.wire_id);
        let missing = if timed_out || !matches!(p.collected, Collected::ServerCount) {
            p.missing()
        } else {
            0
        };
        let servers_expected = p.servers_expected();
        let servers_answered = match &p.collected {
            Collected::BroadcastAck { client_counts, .. } => client_counts.len() as u64,
            _ => p.answered,
        };
        let outcome = match p.collected {
            Collected::Fetch(sockets) => Outcome::Fetch(sockets),
            Collected::AllRooms(rooms) | Collected::SocketRooms(rooms) => {
                Outcome::AllRooms(rooms.into_iter().collect())
            }
            Collected::ServerSideEmit(values) => Outcome::ServerSideEmit(values),
            Collected::BroadcastAck {
                client_counts,
                clients,
                acks,
            } => Outcome::BroadcastAck {
                client_counts,
                clients,
                acks,
            },
            Collected::ServerCount => Outcome::ServerCount(
                count
                    .or(p.expected.map(|e| e.saturating_add(1)))
                    .unwrap_or(1),
            ),
        };
        Some(Completion {
            request: id,
            outcome,
            missing,
            timed_out,
            servers_expected,
            servers_answered,
            error: None,
        })
    }

    /// Cancels every request.
    pub(crate) fn drain(&mut self) -> Vec<RequestId> {
        self.by_wire_id.clear();
        let ids = self.ids();
        self.pending.clear();
        ids
    }

    /// Whether some pending request still needs a server count.
    pub(crate) fn wants_count(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Counts one server's answer. With a known sender (sharded), a second
    /// answer from the same server is a duplicate: `false`, nothing counted.
    pub(crate) fn mark_answered(pending: &mut Pending, from: Option<&str>) -> bool {
        if let Some(uid) = from {
            if !pending.responders.insert(uid.to_owned()) {
                return false;
            }
            pending.peers_waited.remove(uid);
        }
        pending.answered += 1;
        true
    }
}

impl PendingRequests for Requests {
    fn owns(&self, wire_id: &str) -> bool {
        self.by_wire_id.contains_key(wire_id)
    }

    fn kind_of(&self, wire_id: &str) -> Option<RequestKind> {
        let id = self.by_wire_id.get(wire_id)?;
        self.pending.get(id).map(|p| p.collected.kind())
    }
}
