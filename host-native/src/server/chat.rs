//! The chat app on namespace `/`: the same events as the Node.js peer server of
//! `interop/node/peer-server.js`, so both kinds of server can share one cluster.
//!
//! Client events:
//! - `chat message` (value): `chat message` with the value to every client of the cluster,
//!   the sender included.
//! - `join` (room, ack) / `leave` (room, ack): the socket joins / leaves `room`; `ack(true)`.
//! - `room message` ({room, msg}): `chat message` with `msg` to every client of the cluster in
//!   `room`.
//! - `who` (ack): `ack({sockets, servers})`: the sockets of the whole cluster
//!   (`fetch_sockets`) and the server count; `ack({error})` when a request fails.
//! - `x:sse` (event, args, ack): a server-side emit with acknowledgements to the other servers;
//!   `ack([answers...])` or `ack({error})`.
//!
//! With `--publish CHANNEL:EVENT`, each client event named EVENT (one of these or any other)
//! is also PUBLISHed on CHANNEL (see `publish`).
//!
//! Server-side event from the other servers: `stats` (ack): `ack({sockets: <local count>})`.
//!
//! Every socket joins the room named after its own id on connect, as Node sockets do, so that
//! Node servers can address it with `to(id)`. Every socket is registered with the cluster on
//! connect and forgotten on disconnect, so that other servers' `fetchSockets()` see its real
//! handshake (headers, query, auth, address, time, issued, secure, xdomain, url); its
//! `socket.data` is an empty object (the chat keeps none).

use std::sync::Arc;

use rmpv::Value as Msg;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Data, SocketRef, TryData};
use tracing::{debug, warn};

use super::cluster::{Cluster, ServerEvent};
use super::metrics::Metrics;
use super::publish::{Publisher, Route};
use super::value;

/// What the handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Chat {
    cluster: Arc<Cluster>,
    metrics: Arc<Metrics>,
    publisher: Arc<Publisher>,
}

/// The client events the chat handles itself.
const CHAT_EVENTS: [&str; 6] = [
    "chat message",
    "join",
    "leave",
    "room message",
    "who",
    "x:sse",
];

impl Chat {
    /// The app on `cluster`, counting in `metrics`, publishing with `publisher`.
    pub(crate) fn new(
        cluster: Arc<Cluster>,
        metrics: Arc<Metrics>,
        publisher: Arc<Publisher>,
    ) -> Self {
        Self {
            cluster,
            metrics,
            publisher,
        }
    }

    /// Answers the server-side events of the other servers with the state of `io`.
    pub(crate) fn serve_server_events<A: Adapter>(&self, io: SocketIo<A>) {
        self.cluster
            .on_server_event(Arc::new(move |event: ServerEvent| {
                match event.event.as_str() {
                    "stats" => {
                        let sockets = io.sockets().len();
                        if let Some(reply) = event.reply {
                            let answer = crosscast_core::Value::map([(
                                "sockets",
                                crosscast_core::Value::from(sockets),
                            )]);
                            let _ = reply.send(answer);
                        }
                    }
                    other => debug!(
                        event = other,
                        args = event.args.len(),
                        "ignored a server-side event"
                    ),
                }
            }));
    }
}

/// The connect handler of namespace `/` for any adapter.
pub(crate) fn connect_handler<A: Adapter>(
    chat: Chat,
) -> impl FnOnce(SocketRef<A>, TryData<crosscast_core::Value>) -> std::future::Ready<()>
+ Clone
+ Send
+ Sync
+ 'static {
    move |socket: SocketRef<A>, TryData(auth): TryData<crosscast_core::Value>| {
        // The client's auth payload, `{}` when it sent none or one we cannot read.
        let auth = auth.unwrap_or_else(|_| crosscast_core::Value::Map(Vec::new()));
        on_connect(socket, auth, chat);
        std::future::ready(())
    }
}

fn on_connect<A: Adapter>(socket: SocketRef<A>, auth: crosscast_core::Value, chat: Chat) {
    socket.join(socket.id);
    // What other servers' fetchSockets() show of this socket; the chat keeps no socket.data.
    let no_data = crosscast_core::Value::Map(Vec::new());
    chat.cluster
        .register_socket(socket.id, socket.req_parts(), auth, no_data);
    chat.metrics.socket_connected();
    debug!(sid = %socket.id, "socket connected");

    let c = chat.clone();
    socket.on(
        "chat message",
        async move |io: SocketIo<A>, Data(msg): Data<Msg>| {
            c.metrics.chat_message();
            let sent = match c.publisher.publish("chat message", &msg, true) {
                Route::Adapter => io.emit("chat message", &msg).await,
                Route::Bridged { event, data } => io.local().emit(event, &data).await,
            };
            if let Err(e) = sent {
                warn!("chat message broadcast failed: {e}");
            }
        },
    );

    let c = chat.clone();
    socket.on(
        "join",
        async move |socket: SocketRef<A>, Data(room): Data<Msg>, ack: AckSender<A>| {
            c.publisher.publish("join", &room, false);
            let joined = room_name(&room).map(|room| socket.join(room)).is_some();
            let _ = ack.send(&joined);
        },
    );

    let c = chat.clone();
    socket.on(
        "leave",
        async move |socket: SocketRef<A>, Data(room): Data<Msg>, ack: AckSender<A>| {
            c.publisher.publish("leave", &room, false);
            let left = room_name(&room).map(|room| socket.leave(room)).is_some();
            let _ = ack.send(&left);
        },
    );

    let c = chat.clone();
    socket.on(
        "room message",
        async move |io: SocketIo<A>, Data(body): Data<Msg>| {
            c.publisher.publish("room message", &body, false);
            let room = field(&body, "room")
                .and_then(Msg::as_str)
                .map(str::to_owned);
            let Some(room) = room else {
                debug!("room message without a string room: ignored");
                return;
            };
            c.metrics.chat_message();
            let msg = field(&body, "msg").cloned().unwrap_or(Msg::Nil);
            if let Err(e) = io.to(room).emit("chat message", &msg).await {
                warn!("room message broadcast failed: {e}");
            }
        },
    );

    let c = chat.clone();
    socket.on("who", async move |io: SocketIo<A>, ack: AckSender<A>| {
        c.publisher.publish("who", &Msg::Nil, false);
        let answer = match who(&io, &c.cluster).await {
            Ok((sockets, servers)) => serde_json::json!({ "sockets": sockets, "servers": servers }),
            Err(error) => serde_json::json!({ "error": error }),
        };
        let _ = ack.send(&answer);
    });

    let c = chat.clone();
    socket.on(
        "x:sse",
        async move |Data(data): Data<Msg>, ack: AckSender<A>| {
            c.publisher.publish("x:sse", &data, false);
            let (event, args) = sse_request(data);
            let answer = match c.cluster.server_side_emit_with_ack(&event, args).await {
                Ok(answers) => Msg::Array(answers.iter().map(value::to_msg).collect()),
                Err(e) => Msg::Map(vec![("error".into(), e.to_string().into())]),
            };
            let _ = ack.send(&answer);
        },
    );

    // The events that are only published.
    for event in chat.publisher.events() {
        if CHAT_EVENTS.contains(&event.as_str()) {
            continue;
        }
        let c = chat.clone();
        let name = event.clone();
        socket.on(event, async move |Data(data): Data<Msg>| {
            c.publisher.publish(&name, &data, false);
        });
    }

    let c = chat;
    socket.on_disconnect(async move |socket: SocketRef<A>| {
        c.cluster.forget_socket(socket.id);
        c.metrics.socket_disconnected();
        debug!(sid = %socket.id, "socket disconnected");
    });
}

/// `{sockets, servers}` of the whole cluster.
async fn who<A: Adapter>(io: &SocketIo<A>, cluster: &Cluster) -> Result<(usize, u16), String> {
    let sockets = io
        .fetch_sockets()
        .await
        .map_err(|e| format!("fetchSockets failed: {e}"))?;
    let servers = cluster.server_count().await.map_err(|e| e.to_string())?;
    Ok((sockets.len(), servers))
}

/// A room name from a client: a string, or a number as its decimal text (as Node's
/// `String(room)`).
fn room_name(room: &Msg) -> Option<String> {
    match room {
        Msg::String(s) => s.as_str().map(str::to_owned),
        Msg::Integer(i) => Some(i.to_string()),
        Msg::F64(f) => Some(f.to_string()),
        _ => None,
    }
}

fn field<'a>(body: &'a Msg, key: &str) -> Option<&'a Msg> {
    body.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// `(event, args)` of an `x:sse` request: `[event, [args...]]` or a bare event name.
fn sse_request(data: Msg) -> (String, Vec<crosscast_core::Value>) {
    let mut items = match data {
        Msg::Array(items) => items.into_iter(),
        other => vec![other].into_iter(),
    };
    let event = match items.next() {
        Some(Msg::String(s)) => s.into_str().unwrap_or_default(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let args = match items.next() {
        Some(Msg::Array(args)) => args.iter().map(value::from_msg).collect(),
        Some(single) => vec![value::from_msg(&single)],
        None => Vec::new(),
    };
    (event, args)
}
