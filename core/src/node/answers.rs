//! The host's answers: to the node's questions (server count, local sockets,
//! local rooms) and to the remote requests it delivered (client counts and
//! acks of a remote broadcast, the ack of a remote server-side event).
//!
//! Contract: an id the node never issued is a [`UsageError`]; an answer to a
//! question or ack that expired or was already answered is counted in
//! [`super::Stats::late_host_answers`] and publishes nothing.

use super::dialect::{Action, Answer};
use super::requests::Collected;
use super::{
    Completion, Event, Node, Purpose, QuestionId, RemoteAck, RemoteAckId, RequestId,
    ServerSideAckId, Time, TimerKind,
};
use crate::error::UsageError;
use crate::options::BroadcastOpts;
use crate::room::Room;
use crate::socket_info::SocketInfo;
use crate::value::Value;

impl Node {
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

    /// Answers [`super::Question::ServerCount`]: `count` servers subscribe, this one included.
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

    /// Answers [`super::Question::LocalSockets`] with the matching local sockets.
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
            Purpose::Fetch { reply } => self.respond(reply, Answer::Fetch(sockets)),
            Purpose::SocketIds { reply } => {
                let ids = sockets.into_iter().map(|s| s.id).collect();
                self.respond(reply, Answer::SocketIds(ids));
            }
            Purpose::Legacy { reply, action } => {
                let Some(socket) = sockets.into_iter().next() else {
                    return Ok(());
                };
                let opts = BroadcastOpts::to_rooms([socket.id]);
                self.events.push_back(mutation_event(opts, action));
                if let Some(reply) = reply {
                    self.respond(reply, Answer::Done);
                }
            }
            Purpose::ServerCount | Purpose::Rooms { .. } => {
                return Err(UsageError::InvalidArgument("not a local-sockets question"));
            }
        }
        Ok(())
    }

    /// Answers [`super::Question::LocalRooms`] with every local room.
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
        self.respond(reply, Answer::Rooms(rooms));
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
        let reply = entry.reply.clone();
        self.respond(reply, Answer::ClientCount(count));
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
        let reply = entry.reply.clone();
        self.respond(reply, Answer::ClientAck(value));
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
        self.respond(reply, Answer::ServerSideAck(value));
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
}

/// The event that applies `action` to the local sockets matching `opts`.
pub(super) fn mutation_event(opts: BroadcastOpts, action: Action) -> Event {
    match action {
        Action::Join(rooms) => Event::SocketsJoin { opts, rooms },
        Action::Leave(rooms) => Event::SocketsLeave { opts, rooms },
        Action::Disconnect(close) => Event::DisconnectSockets { opts, close },
    }
}
