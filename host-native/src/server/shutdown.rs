//! Graceful shutdown on SIGTERM or SIGINT: what stops, in which order, and what clients see.
//!
//! After the signal, `serve` (see `serve::run`), all within [`SHUTDOWN_BOUND`]:
//! 1. **Stops accepting**: the listener closes (a new connection is refused by the kernel) and
//!    idle HTTP connections close.
//! 2. **Stops handling client events**: the [`Gate`] closes. An event a client sends from now
//!    on is not handled (not delivered, not published, no ack); events whose handling has
//!    begun are finished first, so everything they emit is queued for the cluster. The number
//!    turned away is in the final `stopped` log line (`events_not_handled`).
//! 3. **Tells the clients to reconnect elsewhere** by closing their Engine.IO sessions: each
//!    client gets the Engine.IO `close` packet and its transport closes. A Socket.IO client
//!    (browser or Node.js, WebSocket or long-polling) then sees `disconnect` with the reason
//!    `"transport close"` (a long-polling client between two polls finds its session gone:
//!    `"transport error"`), which it answers by reconnecting on its own, with its usual
//!    back-off (`reconnection: true`, the default), to whatever its URL reaches next: another
//!    server behind the load balancer, or this one once restarted. It does not see
//!    `"io server disconnect"`, which would stop it from reconnecting. Acks it still waits
//!    for from this server are not answered.
//! 4. **Leaves the cluster**: each namespace's node closes (it unsubscribes, and crosscast
//!    peers get its close announcement, so they stop waiting for its answers at once; Node.js
//!    peers count servers by subscribers, so they see it gone as soon as it unsubscribes).
//! 5. **Drains the publish queue to Redis**: every message queued for the other servers
//!    (the broadcasts of step 2, the close announcement) is published before the Redis
//!    connection closes; so are the `--publish` messages in flight.
//! 6. Waits for the last HTTP connections, then exits with status 0.
//!
//! A step that does not finish in its time is cut short with a warning, and the next step
//! runs: step 2 gets at most [`HANDLERS_BOUND`] (a handler still inside then, such as a `who`
//! waiting for slow peers, has done what touches Socket.IO already: those calls come first,
//! in its first poll), step 3 at most [`CLIENTS_BOUND`], the rest what is left; the process
//! exits within [`SHUTDOWN_BOUND`] (plus one second for the runtime).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The most a graceful shutdown takes, all steps together.
pub(crate) const SHUTDOWN_BOUND: Duration = Duration::from_secs(10);
/// The most the handlers of client events get to finish (step 2), and the clients'
/// connections to close (step 3): the rest of [`SHUTDOWN_BOUND`] is for the cluster.
pub(crate) const HANDLERS_BOUND: Duration = Duration::from_secs(2);
pub(crate) const CLIENTS_BOUND: Duration = Duration::from_secs(3);

/// Lets client event handlers in until shutdown, then waits for those inside.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    closed: AtomicBool,
    inside: AtomicUsize,
    idle: Notify,
    turned_away: AtomicU64,
}

/// A handler inside the [`Gate`]; leaves it when dropped.
#[derive(Debug)]
pub(crate) struct Pass(Arc<Gate>);

impl Gate {
    /// A pass for one handler, or `None` (counted) once the gate is closed.
    pub(crate) fn enter(self: &Arc<Self>) -> Option<Pass> {
        // Counted before the check: `close` either sees this handler inside, or this handler
        // sees the gate closed (both sides use SeqCst).
        self.inside.fetch_add(1, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.leave();
            self.turned_away.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(Pass(Arc::clone(self)))
    }

    /// Closes the gate and waits until no handler is inside. The caller bounds the wait.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.inside.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Whether the gate is closed (the server is stopping).
    #[cfg(test)]
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Events turned away since the gate closed.
    pub(crate) fn turned_away(&self) -> u64 {
        self.turned_away.load(Ordering::Relaxed)
    }

    fn leave(&self) {
        if self.inside.fetch_sub(1, Ordering::SeqCst) == 1 && self.closed.load(Ordering::SeqCst) {
            self.idle.notify_waiters();
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// The time left of a shutdown.
#[derive(Debug)]
pub(crate) struct Deadline(Instant);

impl Deadline {
    /// [`SHUTDOWN_BOUND`] from now.
    pub(crate) fn start() -> Self {
        Self(Instant::now() + SHUTDOWN_BOUND)
    }

    /// Runs `step` for at most `cap` of the time left; `None` (and a warning naming `what`)
    /// when it was cut.
    pub(crate) async fn run<T>(
        &self,
        what: &str,
        cap: Duration,
        step: impl Future<Output = T>,
    ) -> Option<T> {
        let until = self.0.min(Instant::now() + cap);
        match tokio::time::timeout_at(until, step).await {
            Ok(done) => Some(done),
            Err(_) => {
                tracing::warn!("shutdown: {what} cut short");
                None
            }
        }
    }
}

/// Resolves when `done` says so, checking every few milliseconds. The caller bounds the wait.
pub(crate) async fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_gate_waits_for_handlers_inside_and_turns_new_ones_away() {
        let gate = Arc::new(Gate::default());
        let inside = gate.enter().expect("open");
        let closing = tokio::spawn({
            let gate = Arc::clone(&gate);
            async move { gate.close().await }
        });
        until(|| gate.is_closed()).await;
        assert!(gate.enter().is_none());
        assert_eq!(gate.turned_away(), 1);
        assert!(!closing.is_finished());
        drop(inside);
        tokio::time::timeout(Duration::from_secs(5), closing)
            .await
            .expect("close returns once the last handler left")
            .expect("no panic");
        assert!(gate.enter().is_none());
        assert_eq!(gate.turned_away(), 2);
    }

    #[tokio::test]
    async fn an_idle_gate_closes_at_once() {
        let gate = Arc::new(Gate::default());
        drop(gate.enter());
        tokio::time::timeout(Duration::from_secs(5), gate.close())
            .await
            .expect("nobody inside");
    }
}
