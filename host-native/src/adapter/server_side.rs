//! Server-side events: socketioxide has no `serverSideEmit`, so the cluster
//! handle offers it, interoperable with Node's.

use crosscast_core::Value;
use crosscast_core::node::ServerSideAckId;
use tokio::sync::mpsc;

use super::namespace::Command;

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

/// The answer to one server-side event. Answer once; dropping it without
/// answering leaves the sender waiting until its timeout, as in Node.
#[derive(Debug)]
pub struct ServerSideAck {
    pub(crate) id: ServerSideAckId,
    pub(crate) commands: mpsc::Sender<Command>,
}

impl ServerSideAck {
    /// Sends `value` back to the server that asked.
    pub fn send(self, value: Value) {
        let _ = self.commands.try_send(Command::ServerSideAck {
            id: self.id,
            value: Some(value),
        });
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
}
