//! Messages from Redis: the dialect decodes each into an [`Inbound`], and the
//! node acts on it (events for the host, questions, answers collected into
//! pending requests, membership).
//!
//! Contract: a message the node cannot use changes nothing but one counter of
//! [`super::Stats`]; a message never panics the node.

use super::answers::mutation_event;
use super::dialect::{Ask, Decoded, Dialect, Dropped, Inbound, Reply, Response, Signal};
use super::requests::Collect;
use super::{
    Event, Node, Purpose, Question, QuestionId, RemoteAck, RemoteAckId, ServerSideAckId, Time,
    TimerKind,
};
use crate::options::BroadcastOpts;
use crate::packet::Packet;

impl Node {
    /// Handles one message received on `channel`. Malformed messages are counted
    /// in [`super::Stats::decode_errors`] and dropped; nothing else changes.
    pub fn handle_message(&mut self, now: Time, channel: &str, payload: &[u8]) {
        if self.closed {
            return;
        }
        self.stats.received += 1;
        let decoded = self
            .dialect
            .decode(channel, payload, &self.config.limits, &self.requests);
        self.on_decoded(now, decoded);
        self.sync_gauges();
    }

    fn on_decoded(&mut self, now: Time, Decoded { alive, inbound }: Decoded) {
        if let Some(uid) = &alive {
            self.members.touch(uid, now);
        }
        match inbound {
            Inbound::Dropped(why) => self.count_dropped(why),
            Inbound::PeerSignal { uid, signal } => self.on_peer_signal(now, uid, signal),
            Inbound::Broadcast { packet, opts } => {
                self.events.push_back(Event::Broadcast { packet, opts })
            }
            Inbound::BroadcastWithAck {
                reply,
                packet,
                opts,
            } => self.on_remote_broadcast_with_ack(now, reply, packet, opts),
            Inbound::Mutation { opts, action } => {
                self.events.push_back(mutation_event(opts, action))
            }
            Inbound::SocketMutation { sid, action, reply } => {
                let id = QuestionId(self.next_id());
                let opts = BroadcastOpts::to_rooms([sid]);
                self.ask(
                    now,
                    id,
                    Purpose::Legacy { reply, action },
                    Question::LocalSockets { id, opts },
                );
            }
            Inbound::Ask { reply, ask } => {
                let id = QuestionId(self.next_id());
                let (purpose, question) = match ask {
                    Ask::SocketIds { rooms } => (
                        Purpose::SocketIds { reply },
                        Question::LocalSockets {
                            id,
                            opts: BroadcastOpts::to_rooms(rooms),
                        },
                    ),
                    Ask::Rooms => (Purpose::Rooms { reply }, Question::LocalRooms { id }),
                    Ask::Fetch { opts } => (
                        Purpose::Fetch { reply },
                        Question::LocalSockets { id, opts },
                    ),
                };
                self.ask(now, id, purpose, question);
            }
            Inbound::ServerSideEmit { data, reply } => {
                if crate::event_name::check_server_side(&data).is_err() {
                    self.stats.refused_reserved_event += 1;
                    return;
                }
                let ack = match reply {
                    Some(reply) => {
                        let Some(id) = self.keep_server_side_ack(now, reply) else {
                            return;
                        };
                        Some(id)
                    }
                    None => None,
                };
                self.events.push_back(Event::ServerSideEmit { data, ack });
            }
            Inbound::Response(response) => self.on_response(response),
        }
    }

    fn count_dropped(&mut self, why: Dropped) {
        let counter = match why {
            Dropped::Undecodable => &mut self.stats.decode_errors,
            Dropped::Own => &mut self.stats.ignored_own,
            Dropped::OtherNamespace => &mut self.stats.ignored_other_nsp,
            Dropped::NotForUs => &mut self.stats.ignored_not_for_us,
            Dropped::UnknownType => &mut self.stats.ignored_unknown_type,
            Dropped::Unanswerable => return,
        };
        *counter += 1;
    }

    /// Heartbeat-type messages (1, 2, 13): only crosscast peers send them.
    fn on_peer_signal(&mut self, now: Time, uid: String, signal: Option<Signal>) {
        if !self.membership_on() {
            return;
        }
        match signal {
            Some(signal @ (Signal::InitialHeartbeat | Signal::Heartbeat)) => {
                // A new peer beyond the bound is not tracked (counted); known
                // peers keep their place.
                if !self.members.contains(&uid) && self.table_full(self.members.len()) {
                    return;
                }
                if self.members.heartbeat(&uid, now) {
                    self.events.push_back(Event::PeerUp { uid });
                    if signal == Signal::InitialHeartbeat {
                        self.send_membership(Signal::Heartbeat);
                    }
                }
            }
            Some(Signal::Close) => {
                if self.members.remove(&uid) {
                    self.peer_down(now, uid, true);
                }
            }
            None => self.stats.ignored_unknown_type += 1,
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

    /// Adds a response to the pending request it names.
    fn on_response(&mut self, response: Response) {
        let Response {
            wire_id,
            from,
            part,
        } = response;
        let Some((id, pending)) = self.requests.lookup(&wire_id) else {
            self.note_unmatched_response(&wire_id);
            return;
        };
        let Some(part) = part else {
            return;
        };
        match pending.collect(from.as_deref(), part) {
            Collect::Ack(value) => {
                self.events
                    .push_back(Event::AckReceived { request: id, value });
            }
            Collect::ExcessAck => self.stats.dropped_excess_acks += 1,
            Collect::Nothing => {}
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
}
