//! A socket's events handled in the order they arrived.
//!
//! socketioxide 0.18 runs every call of an async event handler as a task of its own
//! (`tokio::spawn` in its `handler/message.rs`), so on the multi-thread runtime two
//! events of one socket may reach `io.emit` in either order, and its clients see its
//! messages reordered. A Node.js server handles a socket's events one after the other.
//!
//! [`in_order`] makes a handler whose work starts where socketioxide calls it: on the
//! socket's receive path, in arrival order. The handler's future is polled once there,
//! and a broadcast completes in that poll: both adapters deliver to this server's
//! sockets and queue for the cluster without waiting. Only a future that does wait
//! is left to a task for the rest; events after it may then overtake it.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Waker};

use socketioxide::adapter::Adapter;
use socketioxide::handler::{FromMessageParts, MessageHandler, Value};
use socketioxide::socket::Socket;

/// A handler of two extractors whose work starts in arrival order (see the module).
#[derive(Debug, Clone)]
pub(crate) struct InOrder<F>(F);

/// `handler`, started in the order its socket's events arrive.
pub(crate) fn in_order<F>(handler: F) -> InOrder<F> {
    InOrder(handler)
}

/// The marker of [`InOrder`]'s [`MessageHandler`] implementation.
#[derive(Debug)]
pub(crate) struct Ordered<T1, T2>(std::marker::PhantomData<(T1, T2)>);

impl<A, F, Fut, T1, T2> MessageHandler<A, Ordered<T1, T2>> for InOrder<F>
where
    A: Adapter,
    F: Fn(T1, T2) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    T1: FromMessageParts<A> + Send + Sync + 'static,
    T2: FromMessageParts<A> + Send + Sync + 'static,
{
    fn call(&self, s: Arc<Socket<A>>, mut v: Value, ack_id: Option<i64>) {
        let Ok(first) = T1::from_message_parts(&s, &mut v, &ack_id) else {
            return;
        };
        let Ok(second) = T2::from_message_parts(&s, &mut v, &ack_id) else {
            tracing::debug!(sid = %s.id, "an event whose data does not extract: ignored");
            return;
        };
        start((self.0)(first, second));
    }
}

/// Polls `work` once here; should it wait, the rest runs as a task.
fn start(work: impl Future<Output = ()> + Send + 'static) {
    let mut work = Box::pin(work);
    let mut cx = Context::from_waker(Waker::noop());
    if work.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn work_that_does_not_wait_is_done_before_start_returns_and_the_rest_as_a_task() {
        let done = Arc::new(Mutex::new(Vec::new()));
        for i in 0..3 {
            let d = Arc::clone(&done);
            start(async move { d.lock().unwrap_or_else(|e| e.into_inner()).push(i) });
        }
        assert_eq!(*done.lock().unwrap_or_else(|e| e.into_inner()), [0, 1, 2]);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let d = Arc::clone(&done);
        start(async move {
            let _ = rx.await;
            d.lock().unwrap_or_else(|e| e.into_inner()).push(9);
        });
        assert_eq!(
            done.lock().unwrap_or_else(|e| e.into_inner()).len(),
            3,
            "it waits"
        );
        let _ = tx.send(());
        for _ in 0..100 {
            if done.lock().unwrap_or_else(|e| e.into_inner()).len() == 4 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            *done.lock().unwrap_or_else(|e| e.into_inner()),
            [0, 1, 2, 9]
        );
    }
}
