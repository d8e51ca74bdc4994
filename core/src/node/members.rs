//! Membership: the crosscast peers this node has heard heartbeats from.
//!
//! Node.js servers send no heartbeats and never appear here; they are counted
//! through the server-count question only.

use std::collections::BTreeMap;

use super::time::Time;

/// Live crosscast peers and when each was last heard from.
#[derive(Debug, Default)]
pub(crate) struct Members {
    last_seen: BTreeMap<String, Time>,
}

impl Members {
    /// Records a heartbeat from `uid`; `true` if the peer is new.
    pub(crate) fn heartbeat(&mut self, uid: &str, now: Time) -> bool {
        self.last_seen.insert(uid.to_owned(), now).is_none()
    }

    /// Any other message from a known peer also shows it is alive.
    pub(crate) fn touch(&mut self, uid: &str, now: Time) {
        if let Some(seen) = self.last_seen.get_mut(uid) {
            *seen = now;
        }
    }

    /// Whether `uid` is a live member.
    pub(crate) fn contains(&self, uid: &str) -> bool {
        self.last_seen.contains_key(uid)
    }

    /// How many members there are.
    pub(crate) fn len(&self) -> usize {
        self.last_seen.len()
    }

    /// Removes `uid`; `true` if it was a member.
    pub(crate) fn remove(&mut self, uid: &str) -> bool {
        self.last_seen.remove(uid).is_some()
    }

    /// Removes and returns the peers not heard from for more than `timeout_ms`.
    pub(crate) fn expire(&mut self, now: Time, timeout_ms: u64) -> Vec<String> {
        let dead: Vec<String> = self
            .last_seen
            .iter()
            .filter(|(_, seen)| now.since(**seen) > timeout_ms)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in &dead {
            self.last_seen.remove(uid);
        }
        dead
    }

    /// The live members, in order.
    pub(crate) fn uids(&self) -> impl Iterator<Item = &String> {
        self.last_seen.keys()
    }
}
