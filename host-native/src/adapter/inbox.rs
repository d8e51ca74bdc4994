//! The inbox of a namespace task: the commands it is asked to carry out (this
//! server's operations and the Redis messages of the namespace), and the queue
//! that holds them, bounded in commands and in bytes.
//!
//! A leaf: the adapter, the cluster handle and the server-side acks put
//! commands in; the namespace task takes them out.

use std::sync::Arc;

use crosscast_core::node::{Completion, RemoteAckId, ServerSideAckId};
use crosscast_core::{BroadcastOpts, Packet, Room, Value};
use tokio::sync::{mpsc, oneshot};

use crate::driver::budget::{ByteBudget, Charge};

/// What the namespace task is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// A message from Redis for this namespace.
    Message {
        channel: String,
        payload: bytes::Bytes,
    },
    /// Publish a broadcast (the caller delivered locally).
    Broadcast {
        packet: Packet,
        opts: BroadcastOpts,
    },
    /// Publish a broadcast with acks; remote acks go to `acks` until it completes.
    BroadcastWithAck {
        packet: Packet,
        opts: BroadcastOpts,
        timeout_ms: u64,
        acks: mpsc::UnboundedSender<Value>,
        done: oneshot::Sender<Completion>,
    },
    /// Publish a join/leave/disconnect.
    Join {
        opts: BroadcastOpts,
        rooms: Vec<Room>,
    },
    Leave {
        opts: BroadcastOpts,
        rooms: Vec<Room>,
    },
    Disconnect {
        opts: BroadcastOpts,
        close: bool,
    },
    /// A request whose completion is awaited.
    Request {
        kind: RequestKind,
        done: oneshot::Sender<Completion>,
    },
    /// A server-side event without ack.
    ServerSideEmit {
        data: Vec<Value>,
    },
    /// The host's answer to a server-count question.
    ServerCount {
        question: crosscast_core::node::QuestionId,
        count: u64,
    },
    /// A local client's ack of a remote broadcast.
    RemoteAck {
        ack: RemoteAckId,
        value: Value,
    },
    /// This server's answer to a remote server-side event.
    ServerSideAck {
        id: ServerSideAckId,
        value: Option<Value>,
    },
    /// A remote server-side event this server will not answer (its ack was
    /// dropped, or nobody listens).
    ReleaseServerSideAck {
        id: ServerSideAckId,
    },
    /// Look at the local rooms again (sharded dynamic subscriptions).
    RoomsChanged,
    /// Close the node and end the task.
    Close {
        done: oneshot::Sender<()>,
    },
    /// A command queued through an [`Inbox`], holding its bytes until it is handled.
    Charged {
        command: Box<Command>,
        charge: Charge,
    },
}

impl Command {
    /// About how many bytes the command holds while it waits: its own size and what it
    /// points to (packets, payloads, rooms).
    pub(crate) fn size(&self) -> usize {
        let heap = match self {
            Command::Message { channel, payload } => channel.len() + payload.len(),
            Command::Broadcast { packet, opts }
            | Command::BroadcastWithAck { packet, opts, .. } => {
                values_size(&packet.data) + opts_size(opts)
            }
            Command::Join { opts, rooms } | Command::Leave { opts, rooms } => {
                opts_size(opts) + rooms_size(rooms)
            }
            Command::Disconnect { opts, .. } => opts_size(opts),
            Command::Request { kind, .. } => match kind {
                RequestKind::Fetch(opts) | RequestKind::Rooms(opts) => opts_size(opts),
                RequestKind::ServerSideEmit(data) => values_size(data),
                RequestKind::ServerCount => 0,
            },
            Command::ServerSideEmit { data } => values_size(data),
            Command::RemoteAck { value, .. } => values_size(std::slice::from_ref(value)),
            Command::ServerSideAck { value, .. } => value
                .as_ref()
                .map_or(0, |v| values_size(std::slice::from_ref(v))),
            Command::Charged { command, .. } => command.size(),
            Command::ServerCount { .. }
            | Command::ReleaseServerSideAck { .. }
            | Command::RoomsChanged
            | Command::Close { .. } => 0,
        };
        std::mem::size_of::<Command>().saturating_add(heap)
    }
}

/// About how many bytes `values` hold: strings, binaries and keys by length, anything else
/// by a few bytes. Iterative, so any depth is fine.
pub(crate) fn values_size(values: &[Value]) -> usize {
    let mut stack: Vec<&Value> = values.iter().collect();
    let mut n = 0usize;
    while let Some(value) = stack.pop() {
        let own = match value {
            Value::Str(s) => s.len(),
            Value::Bin(b) | Value::Ext(_, b) => b.len(),
            Value::Array(items) => {
                stack.extend(items);
                0
            }
            Value::Map(entries) => {
                let mut keys = 0usize;
                for (k, v) in entries {
                    keys = keys.saturating_add(k.len());
                    stack.push(v);
                }
                keys
            }
            _ => 0,
        };
        n = n
            .saturating_add(own)
            .saturating_add(std::mem::size_of::<Value>());
    }
    n
}

fn rooms_size(rooms: &[Room]) -> usize {
    rooms.iter().fold(0usize, |n, r| {
        let own = match r {
            Room::Str(s) => s.len(),
            other => other.as_channel_part().len(),
        };
        n.saturating_add(own)
            .saturating_add(std::mem::size_of::<Room>())
    })
}

fn opts_size(opts: &BroadcastOpts) -> usize {
    rooms_size(&opts.rooms).saturating_add(rooms_size(&opts.except))
}

/// Why a command did not enter a namespace's inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InboxDrop {
    /// The inbox held `inbox_queue` commands.
    Full,
    /// The command would have passed `inbox_queue_bytes` (or is larger than all of it).
    Bytes,
    /// The namespace task is gone.
    Closed,
}

/// The queue of a namespace task, bounded in commands (the channel) and in bytes (the
/// budget, held by each command until the task has handled it). Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Inbox {
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) budget: Arc<ByteBudget>,
}

impl Inbox {
    /// A new inbox of at most `count` commands and `bytes` bytes, and its receiver.
    pub(crate) fn new(count: usize, bytes: usize) -> (Self, mpsc::Receiver<Command>) {
        let (tx, rx) = mpsc::channel(count.max(1));
        (
            Self {
                tx,
                budget: ByteBudget::new(bytes),
            },
            rx,
        )
    }

    /// Queues `command` now, or says why it could not be.
    pub(crate) fn try_send(&self, command: Command) -> Result<(), InboxDrop> {
        let charge = self
            .budget
            .try_charge(command.size())
            .ok_or(InboxDrop::Bytes)?;
        self.tx
            .try_send(Command::Charged {
                command: Box::new(command),
                charge,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => InboxDrop::Full,
                mpsc::error::TrySendError::Closed(_) => InboxDrop::Closed,
            })
    }

    /// Queues `command`, waiting for room in count and in bytes; fails at once when it is
    /// larger than the whole byte bound, or when the task is gone.
    pub(crate) async fn send(&self, command: Command) -> Result<(), InboxDrop> {
        let charge = tokio::select! {
            charge = self.budget.charge(command.size()) => charge.ok_or(InboxDrop::Bytes)?,
            () = self.tx.closed() => return Err(InboxDrop::Closed),
        };
        self.tx
            .send(Command::Charged {
                command: Box::new(command),
                charge,
            })
            .await
            .map_err(|_| InboxDrop::Closed)
    }
}

/// The requests a caller can await.
#[derive(Debug)]
pub(crate) enum RequestKind {
    Fetch(BroadcastOpts),
    /// The rooms of the matching sockets; the node picks the request.
    Rooms(BroadcastOpts),
    ServerSideEmit(Vec<Value>),
    ServerCount,
}
