//! A bound in bytes for a queue, shared by its producers and released by what it holds.
//!
//! A producer asks the [`ByteBudget`] for a [`Charge`] of an item's size before queueing the
//! item and queues the charge with it; the charge gives its bytes back when it is dropped,
//! which is when the consumer is done with the item (or when the queue is dropped with the
//! item in it). So the bytes of everything charged and not yet dropped never exceed the
//! limit: a producer that would pass it gets no charge and drops the item.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// The byte bound of one queue. Cheap to share (`Arc`).
#[derive(Debug)]
pub(crate) struct ByteBudget {
    limit: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
    released: Notify,
}

impl ByteBudget {
    /// A budget of `limit` bytes (at least 1).
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            released: Notify::new(),
        })
    }

    /// The bound.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes charged and not yet released.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The most bytes ever charged at once (never above [`ByteBudget::limit`]).
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }

    /// Charges `bytes`, or `None` when that would pass the limit (nothing is charged then).
    pub(crate) fn try_charge(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        let mut used = self.used.load(Ordering::Acquire);
        loop {
            let next = used.checked_add(bytes).filter(|n| *n <= self.limit)?;
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::AcqRel);
                    return Some(Charge {
                        budget: Arc::clone(self),
                        bytes,
                    });
                }
                Err(now) => used = now,
            }
        }
    }

    /// Charges `bytes`, waiting until enough is released; `None` at once when `bytes` is
    /// more than the whole limit (it could never fit).
    pub(crate) async fn charge(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        if bytes > self.limit {
            return None;
        }
        loop {
            let released = self.released.notified();
            let mut released = std::pin::pin!(released);
            // Registered before the check, so a release between the check and the wait
            // is not missed.
            released.as_mut().enable();
            if let Some(charge) = self.try_charge(bytes) {
                return Some(charge);
            }
            released.await;
        }
    }

    fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        self.released.notify_waiters();
    }
}

/// Bytes held against a [`ByteBudget`]; given back on drop.
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Arc<ByteBudget>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

/// A payload that holds its charge for as long as any [`bytes::Bytes`] made from it lives.
#[derive(Debug)]
pub(crate) struct Charged {
    data: Vec<u8>,
    _charge: Charge,
}

impl Charged {
    /// `data`, holding `charge` until the last view of it is dropped.
    pub(crate) fn bytes(data: Vec<u8>, charge: Charge) -> bytes::Bytes {
        bytes::Bytes::from_owner(Self {
            data,
            _charge: charge,
        })
    }
}

impl AsRef<[u8]> for Charged {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_never_pass_the_limit_and_come_back_on_drop() {
        let budget = ByteBudget::new(100);
        let a = budget.try_charge(60).expect("60 of 100");
        assert!(budget.try_charge(41).is_none(), "101 of 100");
        let b = budget.try_charge(40).expect("100 of 100");
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        assert!(budget.try_charge(usize::MAX).is_none(), "no overflow");
        drop(b);
        assert_eq!((budget.used(), budget.peak()), (0, 100));
    }

    #[test]
    fn a_charged_payload_holds_its_bytes_until_its_last_view_is_dropped() {
        let budget = ByteBudget::new(10);
        let charge = budget.try_charge(5).expect("5 of 10");
        let payload = Charged::bytes(b"hello".to_vec(), charge);
        let view = payload.slice(1..3);
        drop(payload);
        assert_eq!(budget.used(), 5);
        assert_eq!(&view[..], b"el");
        drop(view);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_waiting_charge_gets_the_released_bytes_and_too_large_is_refused_at_once() {
        let budget = ByteBudget::new(10);
        assert!(budget.charge(11).await.is_none());
        let held = budget.try_charge(8).expect("8 of 10");
        let waiter = {
            let budget = Arc::clone(&budget);
            tokio::spawn(async move { budget.charge(5).await.map(|c| c.bytes) })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("the waiter is woken")
            .expect("the waiter ends");
        assert_eq!(got, Some(5));
    }
}
