//! Which messages of each sender one client received, by sequence number, so a
//! run's loss is checked per sender and message instead of as one total: a
//! message that never came (missing), one that came twice (duplicated), and one
//! that came after a later message of the same sender (reordered).
//!
//! A client keeps one bit per sequence number per sender. Sequence numbers come
//! from this generator's own senders and count from 0; one above
//! [`Sequences::MAX_SEQUENCE`] is not kept (counted in `out_of_range`), which
//! bounds the bits to 12.5 MB per sender and client.

use std::collections::HashMap;

/// What one arrival was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// The first copy, after every earlier-numbered message that arrived.
    InOrder,
    /// The first copy, after a later message of the same sender.
    Reordered,
    /// A copy of a message already received.
    Duplicate,
    /// A sequence number above [`Sequences::MAX_SEQUENCE`]: not kept.
    OutOfRange,
}

#[derive(Debug, Default)]
struct Seen {
    bits: Vec<u64>,
    distinct: u64,
    highest: Option<u64>,
}

/// The arrivals of one client, per sender.
#[derive(Debug, Default)]
pub(crate) struct Sequences {
    senders: HashMap<u64, Seen>,
    /// Copies of messages already received.
    pub(crate) duplicated: u64,
    /// First copies that came after a later message of their sender.
    pub(crate) reordered: u64,
    /// Sequence numbers above the bound, not kept.
    pub(crate) out_of_range: u64,
}

impl Sequences {
    /// The highest sequence number kept (10^8 messages per sender).
    pub(crate) const MAX_SEQUENCE: u64 = 100_000_000;

    /// Records message `n` of sender `s`.
    pub(crate) fn record(&mut self, s: u64, n: u64) -> Arrival {
        if n > Self::MAX_SEQUENCE {
            self.out_of_range += 1;
            return Arrival::OutOfRange;
        }
        let seen = self.senders.entry(s).or_default();
        let (word, bit) = ((n / 64) as usize, n % 64);
        if seen.bits.len() <= word {
            seen.bits.resize(word + 1, 0);
        }
        if seen.bits[word] & (1 << bit) != 0 {
            self.duplicated += 1;
            return Arrival::Duplicate;
        }
        seen.bits[word] |= 1 << bit;
        seen.distinct += 1;
        let late = seen.highest.is_some_and(|h| n < h);
        seen.highest = Some(seen.highest.map_or(n, |h| h.max(n)));
        if late {
            self.reordered += 1;
            Arrival::Reordered
        } else {
            Arrival::InOrder
        }
    }

    /// How many of the messages `0..sent` of sender `s` never arrived.
    pub(crate) fn missing(&self, s: u64, sent: u64) -> u64 {
        let Some(seen) = self.senders.get(&s) else {
            return sent;
        };
        let words = seen.bits.len().min(sent.div_ceil(64) as usize);
        let mut got: u64 = seen.bits[..words]
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum();
        // Bits of the last word at or above `sent` are not messages of this run.
        if !sent.is_multiple_of(64)
            && let Some(last) = seen.bits.get((sent / 64) as usize)
        {
            got -= u64::from((last >> (sent % 64)).count_ones());
        }
        sent.saturating_sub(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_stream_is_in_order_with_nothing_missing() {
        let mut seq = Sequences::default();
        for n in 0..200 {
            assert_eq!(seq.record(7, n), Arrival::InOrder);
        }
        assert_eq!(seq.missing(7, 200), 0);
        assert_eq!((seq.duplicated, seq.reordered), (0, 0));
    }

    #[test]
    fn gaps_copies_and_late_messages_are_told_apart_per_sender() {
        let mut seq = Sequences::default();
        for n in [0, 1, 3, 2, 3, 5] {
            seq.record(1, n);
        }
        seq.record(2, 0);
        // Sender 1 sent 0..=6: 4 and 6 never came; 2 came late; 3 came twice.
        assert_eq!(seq.missing(1, 7), 2);
        assert_eq!(seq.reordered, 1);
        assert_eq!(seq.duplicated, 1);
        // Sender 2 sent 3, one came; sender 3 was never heard.
        assert_eq!(seq.missing(2, 3), 2);
        assert_eq!(seq.missing(3, 4), 4);
    }

    #[test]
    fn numbers_past_what_was_sent_or_the_bound_do_not_count() {
        let mut seq = Sequences::default();
        for n in 0..70 {
            seq.record(1, n);
        }
        assert_eq!(seq.missing(1, 65), 0, "bits at or above `sent` are ignored");
        assert_eq!(
            seq.record(1, Sequences::MAX_SEQUENCE + 1),
            Arrival::OutOfRange
        );
        assert_eq!(seq.out_of_range, 1);
    }
}
