//! The task that owns the connections: opens them, applies the wanted subscriptions, forwards
//! messages, and reconnects with backoff when the link is lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::backoff::Backoff;
use super::event::{Counters, DriverEvent, EventSink};
use super::session::{Publisher, Session, Signal, Target};
use super::subscriptions::Subscriptions;

/// State shared by the [`Driver`](super::Driver) handles and the supervisor task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) target: Target,
    pub(crate) sink: EventSink,
    pub(crate) backoff: (Duration, Duration),
    /// What the consumer wants subscribed; the supervisor makes the connection match it.
    wanted: Mutex<Subscriptions>,
    /// Woken when `wanted` changed.
    changed: Notify,
    /// Woken once when the driver closes.
    closing: Notify,
    closed: AtomicBool,
    /// The publisher of the live session, `None` while disconnected.
    publisher: Mutex<Option<(Publisher, Arc<Signal>)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(target: Target, sink: EventSink, backoff: (Duration, Duration)) -> Self {
        Self {
            target,
            sink,
            backoff,
            wanted: Mutex::new(Subscriptions::default()),
            changed: Notify::new(),
            closing: Notify::new(),
            closed: AtomicBool::new(false),
            publisher: Mutex::new(None),
        }
    }

    /// Changes the wanted set with `edit` and wakes the supervisor.
    pub(crate) fn want(&self, edit: impl FnOnce(&mut Subscriptions)) {
        edit(&mut lock(&self.wanted));
        self.changed.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Asks the supervisor to unsubscribe and stop. Idempotent.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.closing.notify_one();
        }
    }

    /// The live publisher and its session signal, if connected.
    pub(crate) fn publisher(&self) -> Option<(Publisher, Arc<Signal>)> {
        lock(&self.publisher).clone()
    }

    /// Makes `session` the live one: its publisher serves commands, and `Connected` is emitted.
    pub(crate) fn install(&self, session: &Session) {
        *lock(&self.publisher) = Some((session.publisher.clone(), Arc::clone(&session.signal)));
        self.sink.emit(DriverEvent::Connected);
    }

    pub(crate) fn is_connected(&self) -> bool {
        lock(&self.publisher).is_some()
    }
}

enum Outcome {
    Closed,
    Lost(String),
}

/// Runs until the driver is closed, starting with `session`, already opened and installed.
pub(crate) async fn supervise(shared: Arc<Shared>, mut session: Session) {
    let (min, max) = shared.backoff;
    let mut backoff = Backoff::new(min, max);
    let mut first = true;
    loop {
        if !first {
            shared.install(&session);
            Counters::bump(&shared.sink.counters().reconnects);
        }
        let outcome = serve(&shared, &mut session, !first).await;
        *lock(&shared.publisher) = None;
        drop(session);
        match outcome {
            Outcome::Closed => return,
            Outcome::Lost(reason) => {
                tracing::warn!(%reason, "Redis link lost, reconnecting");
                shared.sink.emit(DriverEvent::Disconnected { reason });
            }
        }
        first = false;
        session = match reconnect(&shared, &mut backoff).await {
            Some(s) => s,
            None => return,
        };
        backoff.reset();
    }
}

/// Tries to open a session until it succeeds (`Some`) or the driver closes (`None`).
async fn reconnect(shared: &Shared, backoff: &mut Backoff) -> Option<Session> {
    loop {
        let delay = backoff.next_delay();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shared.closing.notified() => return None,
        }
        if shared.is_closed() {
            return None;
        }
        let attempt = tokio::select! {
            r = Session::open(&shared.target, &shared.sink) => r,
            () = shared.closing.notified() => return None,
        };
        match attempt {
            Ok(session) => return Some(session),
            Err(reason) => tracing::debug!(%reason, ?delay, "Redis reconnect attempt failed"),
        }
    }
}

/// Keeps `session`'s subscriptions equal to the wanted set until the link is lost or the
/// driver closes. Emits `Resubscribed` once the wanted set is applied when `resubscribing`.
async fn serve(shared: &Shared, session: &mut Session, resubscribing: bool) -> Outcome {
    let limit = shared.target.response_timeout;
    let mut active = Subscriptions::default();
    let mut announce = resubscribing;
    loop {
        if shared.is_closed() {
            let changes = active.changes_to(&Subscriptions::default());
            if !changes.is_empty() {
                let _ = tokio::time::timeout(limit, session.subscriber.apply(&changes)).await;
            }
            return Outcome::Closed;
        }
        let wanted = lock(&shared.wanted).clone();
        let changes = active.changes_to(&wanted);
        if !changes.is_empty() {
            // The bound grows with the size of the change (a resubscription may carry thousands
            // of channels), one more `response_timeout` per 1000 names.
            let limit =
                limit.saturating_mul(1 + u32::try_from(changes.len() / 1000).unwrap_or(u32::MAX));
            match tokio::time::timeout(limit, session.subscriber.apply(&changes)).await {
                Ok(Ok(())) => active = wanted,
                Ok(Err(e)) => return Outcome::Lost(format!("subscription change failed: {e}")),
                Err(_) => {
                    return Outcome::Lost(format!("subscription change timed out after {limit:?}"));
                }
            }
        }
        if announce {
            shared.sink.emit(DriverEvent::Resubscribed);
            announce = false;
        }
        let Session {
            subscriber, signal, ..
        } = session;
        let check = shared.target.health_check_interval;
        let health = async {
            if check.is_zero() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(check).await;
        };
        tokio::select! {
            () = shared.changed.notified() => {}
            () = shared.closing.notified() => {}
            reason = signal.lost() => return Outcome::Lost(reason),
            msg = subscriber.next_message() => match msg {
                Some(msg) => shared.sink.message(&msg),
                None => return Outcome::Lost("subscriber connection closed".into()),
            },
            () = health => match tokio::time::timeout(limit, subscriber.ping()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Outcome::Lost(format!("health check failed: {e}")),
                Err(_) => return Outcome::Lost(format!("health check timed out after {limit:?}")),
            },
        }
    }
}
