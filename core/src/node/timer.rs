//! The timer table: every deadline the node keeps, in one ordered map.

use std::collections::BTreeMap;

use super::event::{QuestionId, RemoteAckId, RequestId, ServerSideAckId};
use super::time::Time;

/// What a deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TimerKind {
    /// A request of this node reaches its timeout.
    RequestDeadline(RequestId),
    /// Time to ask the server count again while requests are pending.
    Recount,
    /// Time to send this node's heartbeat and to drop peers whose heartbeats stopped.
    Heartbeat,
    /// A question to the host is abandoned.
    QuestionExpiry(QuestionId),
    /// The acks this node collects for a remote broadcast are no longer wanted.
    RemoteAckExpiry(RemoteAckId),
    /// A remote server-side event the host did not answer is forgotten.
    ServerSideAckExpiry(ServerSideAckId),
}

/// Deadlines ordered by time, then by kind (so equal deadlines fire in a fixed order).
#[derive(Debug, Default)]
pub(crate) struct Timers {
    by_deadline: BTreeMap<(Time, TimerKind), ()>,
    by_kind: BTreeMap<TimerKind, Time>,
}

impl Timers {
    /// Sets (or moves) the deadline of `kind`.
    pub(crate) fn set(&mut self, kind: TimerKind, at: Time) {
        if let Some(old) = self.by_kind.insert(kind, at) {
            self.by_deadline.remove(&(old, kind));
        }
        self.by_deadline.insert((at, kind), ());
    }

    /// Sets the deadline of `kind` unless one is already set.
    pub(crate) fn set_if_unset(&mut self, kind: TimerKind, at: Time) {
        if !self.by_kind.contains_key(&kind) {
            self.set(kind, at);
        }
    }

    /// Removes the deadline of `kind`, if any.
    pub(crate) fn cancel(&mut self, kind: TimerKind) {
        if let Some(at) = self.by_kind.remove(&kind) {
            self.by_deadline.remove(&(at, kind));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<(Time, TimerKind)> {
        self.by_deadline.keys().next().copied()
    }

    /// Removes and returns the earliest deadline at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Time) -> Option<TimerKind> {
        let (at, kind) = self.next()?;
        if at > now {
            return None;
        }
        self.by_deadline.remove(&(at, kind));
        self.by_kind.remove(&kind);
        Some(kind)
    }
}
