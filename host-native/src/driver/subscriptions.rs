//! The set of channels and patterns the consumer wants, and what is active on a connection.
//! Each set is held with the command that subscribes it: `SUBSCRIBE`, `PSUBSCRIBE` or
//! `SSUBSCRIBE`.

use std::collections::BTreeSet;

/// Channels and patterns. For the wanted set its size is the consumer's own doing: the driver
/// keeps one entry per distinct name, however often it is (un)subscribed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Subscriptions {
    /// `SUBSCRIBE`d channels.
    pub(crate) channels: BTreeSet<String>,
    /// `PSUBSCRIBE`d patterns.
    pub(crate) patterns: BTreeSet<String>,
    /// `SSUBSCRIBE`d channels.
    pub(crate) sharded: BTreeSet<String>,
}

/// The commands that take a connection from one subscription set to another.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub(crate) subscribe: Vec<String>,
    pub(crate) unsubscribe: Vec<String>,
    pub(crate) psubscribe: Vec<String>,
    pub(crate) punsubscribe: Vec<String>,
    pub(crate) ssubscribe: Vec<String>,
    pub(crate) sunsubscribe: Vec<String>,
}

impl Changes {
    /// How many names the commands carry.
    pub(crate) fn len(&self) -> usize {
        self.subscribe.len()
            + self.unsubscribe.len()
            + self.psubscribe.len()
            + self.punsubscribe.len()
            + self.ssubscribe.len()
            + self.sunsubscribe.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.subscribe.is_empty()
            && self.unsubscribe.is_empty()
            && self.psubscribe.is_empty()
            && self.punsubscribe.is_empty()
            && self.ssubscribe.is_empty()
            && self.sunsubscribe.is_empty()
    }
}

impl Subscriptions {
    /// What to send to go from `self` (active) to `wanted`.
    pub(crate) fn changes_to(&self, wanted: &Self) -> Changes {
        Changes {
            subscribe: wanted
                .channels
                .difference(&self.channels)
                .cloned()
                .collect(),
            unsubscribe: self
                .channels
                .difference(&wanted.channels)
                .cloned()
                .collect(),
            psubscribe: wanted
                .patterns
                .difference(&self.patterns)
                .cloned()
                .collect(),
            punsubscribe: self
                .patterns
                .difference(&wanted.patterns)
                .cloned()
                .collect(),
            ssubscribe: wanted.sharded.difference(&self.sharded).cloned().collect(),
            sunsubscribe: self.sharded.difference(&wanted.sharded).cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn changes_are_the_set_differences() {
        let active = Subscriptions {
            channels: set(&["a", "b"]),
            patterns: set(&["p*"]),
            sharded: set(&["s"]),
        };
        let wanted = Subscriptions {
            channels: set(&["b", "c"]),
            patterns: set(&[]),
            sharded: set(&["s", "a"]),
        };
        let changes = active.changes_to(&wanted);
        assert_eq!(changes.subscribe, vec!["c".to_owned()]);
        assert_eq!(changes.unsubscribe, vec!["a".to_owned()]);
        assert!(changes.psubscribe.is_empty());
        assert_eq!(changes.punsubscribe, vec!["p*".to_owned()]);
        // A name subscribed with one command is not subscribed with another.
        assert_eq!(changes.ssubscribe, vec!["a".to_owned()]);
        assert!(changes.sunsubscribe.is_empty());
        assert!(wanted.changes_to(&wanted).is_empty());
    }
}
