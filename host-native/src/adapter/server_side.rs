//! Server-side events: socketioxide has no `serverSideEmit`, so the cluster
//! handle offers it, interoperable with Node's.

use crosscast_core::Value;
use crosscast_core::node::ServerSideAckId;
use tokio::sync::mpsc;

use super::inbox::Command;

/// A server-side event sent by another server of the cluster.
#[derive(Debug)]
pub struct ServerSideEvent {
    /// The event name.
    pub event: String,
    /// Its arguments.
    pub args: Vec<Value>,
    /// Present when the sender waits for an answer (`serverSideEmitWithAck`).
    pub ack: Option<ServerSideAck>,
}

/// The answer to one server-side event. Answer once with [`ServerSideAck::send`].
///
/// Dropping it unanswered (or never receiving the event: no listener, or a
/// listener that does not keep up) releases the node's entry at once; the
/// sender gets no answer from this server and times out, as with a Node server
/// that has no listener. Unanswered entries also expire after the requests
/// timeout, so nothing the sender does can grow this server's memory.
#[derive(Debug)]
pub struct ServerSideAck {
    id: ServerSideAckId,
    commands: mpsc::Sender<Command>,
    answered: bool,
}

impl ServerSideAck {
    pub(crate) fn new(id: ServerSideAckId, commands: mpsc::Sender<Command>) -> Self {
        Self {
            id,
            commands,
            answered: false,
        }
    }

    /// Sends `value` back to the server that asked. If the namespace's queue is
    /// full the answer is lost (the sender times out) and the entry expires.
    pub fn send(mut self, value: Value) {
        self.answered = true;
        let _ = self.commands.try_send(Command::ServerSideAck {
            id: self.id,
            value: Some(value),
        });
    }
}

impl Drop for ServerSideAck {
    fn drop(&mut self) {
        if !self.answered {
            let _ = self
                .commands
                .try_send(Command::ReleaseServerSideAck { id: self.id });
        }
    }
}

/// The answers of the other servers to a server-side event.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSideAcks {
    /// One value per server that answered.
    pub values: Vec<Value>,
    /// Servers that were expected and did not answer.
    pub missing: u64,
    /// Whether the requests timeout ended the wait.
    pub timed_out: bool,
    /// After a timeout: the error Node's `serverSideEmitWithAck` gives, in the
    /// official adapter's words (`timeout reached: only 1 responses received
    /// out of 2`). The values that came are in `values` all the same.
    pub error: Option<String>,
}
