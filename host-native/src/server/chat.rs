//! The chat app on namespace `/`: the same events as the Node.js peer server of
//! `interop/node/peer-server.js`, so both kinds of server can share one cluster.
//!
//! Client events:
//! - `chat message` (value): `chat message` with the value to every client of the cluster,
//!   the sender included.
//! - `join` (room, ack) / `leave` (room, ack): the socket joins / leaves `room`; `ack(true)`;
//!   `ack(false)` when the room is not a string or a number; `ack({error})` for a room no
//!   client may join (see `limits::room_refusal`: a socket id, a reserved or too long name)
//!   and for a join over `--max-rooms-per-socket`.
//! - `room message` ({room, msg}): `chat message` with `msg` to every client of the cluster in
//!   `room`.
//! - `who` (ack): `ack({sockets, servers})`: the sockets of the whole cluster
//!   (`fetch_sockets`) and the server count; `ack({error})` when a request fails.
//! - `x:sse` (event, args, ack): a server-side emit with acknowledgements to the other servers
//!   of an event on the `--client-sse` allowlist; `ack([answers...])` or `ack({error})`. Off
//!   without the flag: a browser does not drive server-to-server events.
//!
//! Every event is behind the socket's limits (`limits`): over the event rate it gets
//! `ack({error})`; `who` and `x:sse` over the requests in flight too. Once the server stops,
//! no event is handled any more (the limits' gate, see `shutdown`).
//!
//! With `--publish CHANNEL:EVENT`, each client event named EVENT (one of these or any other)
//! is also PUBLISHed on CHANNEL (see `publish`).
//!
//! Server-side event from the other servers: `stats` (ack): `ack({sockets: <local count>})`.
//!
//! Every socket joins the room named after its own id on connect, as Node sockets do, so that
//! Node servers can address it with `to(id)`. Every socket is registered with the cluster on
//! connect and forgotten on disconnect, so that other servers' `fetchSockets()` see its real
//! handshake (headers, query, auth, address, time, issued, secure, xdomain, url) and its
//! `socket.data`: `{server: <uid of the node it is connected to>}`.

use std::sync::{Arc, Mutex, PoisonError};

use rmpv::Value as Msg;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Data, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::{DisconnectReason, Sid};
use tracing::{debug, warn};

use super::admin::{self, Admin};
use super::cluster::{Cluster, NSP, ServerEvent};
use super::limits::{self, Limits, SocketLimits, guarded};
use super::metrics::{Metrics, Refusal};
use super::ordering::in_order;
use super::publish::{Publisher, Route};
use crate::adapter::convert;

/// What the handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Chat {
    cluster: Arc<Cluster>,
    metrics: Arc<Metrics>,
    publisher: Arc<Publisher>,
    limits: Arc<Limits>,
    /// With `--admin`: told of connections, rooms and disconnections.
    admin: Option<Arc<Admin>>,
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
    /// The app on `cluster`, counting in `metrics`, publishing with `publisher`, within
    /// `limits`, telling `admin` (with `--admin`) what its sockets do.
    pub(crate) fn new(
        cluster: Arc<Cluster>,
        metrics: Arc<Metrics>,
        publisher: Arc<Publisher>,
        limits: Arc<Limits>,
        admin: Option<Arc<Admin>>,
    ) -> Self {
        Self {
            cluster,
            metrics,
            publisher,
            limits,
            admin,
        }
    }

    /// Answers the server-side events of the other servers with the state of `io`.
    pub(crate) fn serve_server_events<A: Adapter>(&self, io: SocketIo<A>) {
        let gate = Arc::clone(&self.limits.gate);
        self.cluster
            .on_server_event(Arc::new(move |event: ServerEvent| {
                // Unanswered once the server stops: `io` is closing.
                let Some(_pass) = gate.enter() else {
                    return;
                };
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

/// The connect handler of namespace `/` for any adapter, behind the connection limit.
pub(crate) fn connect_handler<A: Adapter>(
    chat: Chat,
) -> impl ConnectHandler<A, (SocketRef<A>, TryData<crosscast_core::Value>)> {
    let limits = Arc::clone(&chat.limits);
    let handler = move |socket: SocketRef<A>, TryData(auth): TryData<crosscast_core::Value>| {
        // The client's auth payload, `{}` when it sent none or one we cannot read.
        let auth = auth.unwrap_or_else(|_| crosscast_core::Value::Map(Vec::new()));
        on_connect(socket, auth, chat);
        std::future::ready(())
    };
    // The check before the connection (the client gets connect_error with the reason);
    // `on_connect` admits, so two connections racing past this check cannot both stay.
    handler.with(move |_socket: SocketRef<A>| {
        let admitted = limits.has_room_for_a_connection();
        if !admitted {
            limits.refused(Refusal::Connections);
        }
        let max = limits.max_connections;
        std::future::ready(if admitted {
            Ok(())
        } else {
            Err(format!(
                "too many connections (this server holds at most {max})"
            ))
        })
    })
}

fn error(text: impl std::fmt::Display) -> serde_json::Value {
    serde_json::json!({ "error": text.to_string() })
}

fn on_connect<A: Adapter>(socket: SocketRef<A>, auth: crosscast_core::Value, chat: Chat) {
    let Some(admission) = chat.limits.admit() else {
        chat.limits.refused(Refusal::Connections);
        debug!(sid = %socket.id, "over --max-connections: disconnected");
        let _ = socket.disconnect();
        return;
    };
    // Freed by the disconnect handler (or with the socket, should that never run).
    let admission = Arc::new(Mutex::new(Some(admission)));
    socket.join(socket.id);
    // What other servers' fetchSockets() show of this socket: its handshake, and as
    // socket.data the node it is connected to (and with --admin, the admin UI's fields).
    let admin_fields = chat.admin.as_ref().and_then(|a| a.socket_data(&socket));
    let data = admin::record_data(Some(&chat.cluster.uid()), admin_fields);
    if let Some(a) = &chat.admin {
        a.socket_connected(NSP, &admin::local_info(&socket, Some(data.clone())));
    }
    chat.cluster
        .register_socket(socket.id, socket.req_parts(), auth, data);
    chat.metrics.socket_connected();
    debug!(sid = %socket.id, "socket connected");
    let limits = chat.limits.socket(chat.admin.clone());
    let g = &limits;

    let c = chat.clone();
    // The broadcasts of one socket leave in the order it sent them (see `ordering`).
    socket.on(
        "chat message",
        guarded(
            g,
            in_order(move |io: SocketIo<A>, Data(msg): Data<Msg>| {
                let c = c.clone();
                async move {
                    let Some(_pass) = c.limits.gate.enter() else {
                        return;
                    };
                    c.metrics.chat_message();
                    let sent = match c.publisher.publish("chat message", &msg, true) {
                        Route::Adapter => io.emit("chat message", &msg).await,
                        Route::Bridged { event, data } => io.local().emit(event, &data).await,
                    };
                    if let Err(e) = sent {
                        warn!("chat message broadcast failed: {e}");
                    }
                }
            }),
        ),
    );

    let c = chat.clone();
    let l = Arc::clone(g);
    socket.on(
        "join",
        guarded(
            g,
            async move |socket: SocketRef<A>,
                        io: SocketIo<A>,
                        Data(room): Data<Msg>,
                        ack: AckSender<A>| {
                let Some(_pass) = c.limits.gate.enter() else {
                    return;
                };
                c.publisher.publish("join", &room, false);
                let answer = match allowed_room(&c, &io, socket.id, "join", &room) {
                    Err(refused) => refused,
                    Ok(room) => {
                        let own = socket.id.to_string();
                        let rooms_now = || {
                            socket
                                .rooms()
                                .into_iter()
                                .map(|r| r.to_string())
                                .filter(|r| *r != own)
                                .collect()
                        };
                        match l.join_bounded(&room, rooms_now, || socket.join(room.clone())) {
                            Ok(()) => {
                                if let Some(a) = &c.admin {
                                    a.room_joined(NSP, &room, &socket.id.to_string());
                                }
                                serde_json::Value::Bool(true)
                            }
                            Err(refusal) => error(refusal),
                        }
                    }
                };
                let _ = ack.send(&answer);
            },
        ),
    );

    let c = chat.clone();
    socket.on(
        "leave",
        guarded(
            g,
            async move |socket: SocketRef<A>,
                        io: SocketIo<A>,
                        Data(room): Data<Msg>,
                        ack: AckSender<A>| {
                let Some(_pass) = c.limits.gate.enter() else {
                    return;
                };
                c.publisher.publish("leave", &room, false);
                // Rooms no client may join cannot be left either: a socket keeps its id room.
                let answer = match allowed_room(&c, &io, socket.id, "leave", &room) {
                    Err(refused) => refused,
                    Ok(room) => {
                        let was_in = socket.rooms().iter().any(|r| *r == room);
                        socket.leave(room.clone());
                        if let (Some(a), true) = (&c.admin, was_in) {
                            a.room_left(NSP, &room, &socket.id.to_string());
                        }
                        serde_json::Value::Bool(true)
                    }
                };
                let _ = ack.send(&answer);
            },
        ),
    );

    let c = chat.clone();
    socket.on(
        "room message",
        guarded(
            g,
            in_order(move |io: SocketIo<A>, Data(body): Data<Msg>| {
                let c = c.clone();
                async move {
                    let Some(_pass) = c.limits.gate.enter() else {
                        return;
                    };
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
                }
            }),
        ),
    );

    let c = chat.clone();
    let l = Arc::clone(g);
    socket.on(
        "who",
        guarded(g, async move |io: SocketIo<A>, ack: AckSender<A>| {
            let Some(_pass) = c.limits.gate.enter() else {
                return;
            };
            c.publisher.publish("who", &Msg::Nil, false);
            let Some(_permit) = l.request() else {
                let _ = ack.send(&too_many_requests(&l));
                return;
            };
            let answer = match who(&io, &c.cluster).await {
                Ok((sockets, servers)) => {
                    serde_json::json!({ "sockets": sockets, "servers": servers })
                }
                Err(e) => error(e),
            };
            let _ = ack.send(&answer);
        }),
    );

    let c = chat.clone();
    let l = Arc::clone(g);
    socket.on(
        "x:sse",
        guarded(g, async move |Data(data): Data<Msg>, ack: AckSender<A>| {
            let Some(_pass) = c.limits.gate.enter() else {
                return;
            };
            c.publisher.publish("x:sse", &data, false);
            let (event, args) = sse_request(data);
            if !c.limits.client_may_send(&event) {
                c.limits.refused(Refusal::Sse);
                let text = if c.limits.client_sse.is_empty() {
                    "x:sse is off: this server lets no client send server-side events \
                     (see crosscast serve --client-sse)"
                        .to_owned()
                } else {
                    format!(
                        "x:sse refused: {event:?} is not one of this server's --client-sse events"
                    )
                };
                let _ = ack.send(&error(text));
                return;
            }
            let Some(_permit) = l.request() else {
                let _ = ack.send(&too_many_requests(&l));
                return;
            };
            let answer = match c.cluster.server_side_emit_with_ack(&event, args).await {
                Ok(answers) => Msg::Array(answers.iter().map(convert::to_msg).collect()),
                Err(e) => Msg::Map(vec![("error".into(), e.to_string().into())]),
            };
            let _ = ack.send(&answer);
        }),
    );

    // The events that are only published.
    for event in chat.publisher.events() {
        if CHAT_EVENTS.contains(&event.as_str()) {
            continue;
        }
        let c = chat.clone();
        let name = event.clone();
        socket.on(
            event,
            guarded(g, async move |Data(data): Data<Msg>| {
                let Some(_pass) = c.limits.gate.enter() else {
                    return;
                };
                c.publisher.publish(&name, &data, false);
            }),
        );
    }
    // Every other event takes from the bucket too: a flood of unknown events is one.
    socket.on_fallback(guarded(g, async || {}));

    let c = chat;
    socket.on_disconnect(
        async move |socket: SocketRef<A>, reason: DisconnectReason| {
            admission
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if reason == DisconnectReason::PacketParsingError {
                c.limits.refused(Refusal::Packet);
            }
            c.cluster.forget_socket(socket.id);
            if let Some(a) = &c.admin {
                let rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
                a.socket_disconnected(NSP, &socket.id.to_string(), reason, &rooms);
            }
            c.metrics.socket_disconnected();
            debug!(sid = %socket.id, %reason, "socket disconnected");
        },
    );
}

/// The room a client asked to join or leave, or the ack that refuses it: `false` for a
/// value that is not a room name, `{error}` (counted) for a room no client may use.
fn allowed_room<A: Adapter>(
    chat: &Chat,
    io: &SocketIo<A>,
    sid: Sid,
    action: &str,
    room: &Msg,
) -> Result<String, serde_json::Value> {
    let Some(room) = room_name(room) else {
        return Err(serde_json::Value::Bool(false));
    };
    match limits::room_refusal(&room, |r| is_local_socket(io, r)) {
        Some(refusal) => {
            chat.limits.refused(Refusal::Room);
            debug!(%sid, room, "{action} refused: {refusal}");
            Err(error(refusal))
        }
        None => Ok(room),
    }
}

/// Whether `room` is the id of a socket of this server.
fn is_local_socket<A: Adapter>(io: &SocketIo<A>, room: &str) -> bool {
    room.parse::<Sid>()
        .ok()
        .and_then(|sid| io.get_socket(sid))
        .is_some()
}

fn too_many_requests(limits: &SocketLimits) -> serde_json::Value {
    error(format!(
        "too many requests in flight: a socket has at most {} cluster requests at a time",
        limits.limits().max_requests
    ))
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
        Some(Msg::Array(args)) => args.iter().map(convert::from_msg).collect(),
        Some(single) => vec![convert::from_msg(&single)],
        None => Vec::new(),
    };
    (event, args)
}
