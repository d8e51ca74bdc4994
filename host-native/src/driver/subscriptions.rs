//! The set of channels and patterns the consumer wants, and what is active on a connection.

use std::collections::BTreeSet;

/// Channels and patterns. For the wanted set its size is the consumer's own doing: the driver
/// keeps one entry per distinct name, however often it is (un)subscribed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Subscriptions {
    pub(crate) channels: BTreeSet<String>,
    pub(crate) patterns: BTreeSet<String>,
}

/// The commands that take a connection from one subscription set to another.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub(crate) subscribe: Vec<String>,
    pub(crate) unsubscribe: Vec<String>,
    pub(crate) psubscribe: Vec<String>,
    pub(crate) punsubscribe: Vec<String>,
}

impl Changes {
    /// How many names the commands carry.
    pub(crate) fn len(&self) -> usize {
        self.subscribe.len()
            + self.unsubscribe.len()
            + self.psubscribe.len()
            + self.punsubscribe.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.subscribe.is_empty()
            && self.unsubscribe.is_empty()
            && self.psubscribe.is_empty()
            && self.punsubscribe.is_empty()
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
        };
        let wanted = Subscriptions {
            channels: set(&["b", "c"]),
            patterns: set(&[]),
        };
        let changes = active.changes_to(&wanted);
        assert_eq!(changes.subscribe, vec!["c".to_owned()]);
        assert_eq!(changes.unsubscribe, vec!["a".to_owned()]);
        assert!(changes.psubscribe.is_empty());
        assert_eq!(changes.punsubscribe, vec!["p*".to_owned()]);
        assert!(wanted.changes_to(&wanted).is_empty());
    }
}
