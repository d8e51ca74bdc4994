//! `crosscast serve --admin`: the namespace `/admin` of the Socket.IO Admin UI
//! (`@socket.io/admin-ui` 0.5.x), and the UI itself at `/admin/`.
//!
//! A crosscast server answers the UI as Node's `instrument(io, options)` does, through
//! the cluster adapter, so that one dashboard connected to any server, Rust or Node.js,
//! shows every server of the cluster and every socket:
//! - [`access`]: the login (the bcrypt hash Node's `auth.password` takes) and its
//!   sessions;
//! - on connection the admin client gets `config` (the features: `EMIT`, `JOIN`,
//!   `LEAVE`, `DISCONNECT`, `MJOIN`, `MLEAVE`, `MDISCONNECT` unless `--admin-readonly`,
//!   then `AGGREGATED_EVENTS`, and `ALL_EVENTS` in development mode), and in
//!   development mode `all_sockets`: every socket of every namespace of the cluster
//!   ([`record`]). A server that does not answer within the requests timeout leaves its
//!   sockets out instead of holding the whole list back (Node's `instrument()` waits and
//!   then sends nothing: admin-ui issue #60);
//! - [`stats`]: `server_stats` every 2 s, broadcast to the admin namespace of the cluster;
//! - in development mode, the live events, broadcast to the cluster as they happen:
//!   `socket_connected`, `socket_disconnected`, `room_joined`, `room_left`, and
//!   `event_received` for every client event the chat handles within the socket's rate
//!   limit (see [`Feed`]). Production mode publishes none of them (nor `all_sockets`), as
//!   Node;
//! - [`actions`]: the UI's `emit`, `join`, `leave` and `_disconnect`, executed cluster-wide
//!   through the adapter.
//!
//! Not done (what Node's `instrument()` also sends): `event_sent` (every packet sent to
//! every socket, which socketioxide has no hook for), `socket_updated` on a transport
//! upgrade, the `packetsIn/Out`, `bytesIn/Out` counts of Engine.IO packets, and
//! `room_joined`/`room_left` for a join or leave that another server asked of this
//! server's sockets (`socketsJoin` from elsewhere: the adapter applies it without telling
//! the app).

pub(crate) mod access;
mod actions;
pub(crate) mod record;
pub(crate) mod stats;
pub(crate) mod ui;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use crosscast_core::{Room, SocketInfo, Timestamp, Value};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::{DisconnectReason, Sid};
use socketioxide::{SocketIo, TransportType};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::adapter::convert::Spread;

use self::access::{Access, Admission, Credentials};
use self::stats::{EventBuffer, STATS_INTERVAL, ServerStats};
use super::cluster::{Cluster, NSP};

/// The admin namespace (Node's default `namespaceName`).
pub(crate) const ADMIN_NSP: &str = "/admin";

/// The namespaces this server serves, in the order the UI lists them.
const NAMESPACES: [&str; 2] = [NSP, ADMIN_NSP];

/// `--admin-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AdminMode {
    /// Live events and the socket list, each published to the cluster as it happens.
    Development,
    /// Only `server_stats`: no per-event publish.
    Production,
}

/// The options of `--admin`.
#[derive(Clone, Debug, Args)]
pub struct AdminArgs {
    /// Serve the Socket.IO Admin UI: its namespace `/admin` (the protocol of
    /// @socket.io/admin-ui 0.5) and the UI itself at /admin/. Needs --admin-user and
    /// --admin-password-hash, or --admin-no-auth.
    #[arg(long)]
    pub admin: bool,
    /// The user name of the admin UI's login.
    #[arg(
        long = "admin-user",
        env = "CROSSCAST_ADMIN_USER",
        value_name = "NAME",
        hide_env_values = true
    )]
    pub user: Option<String>,
    /// The bcrypt hash of the admin UI's password (the hash Node's instrument() takes,
    /// e.g. from `node -e 'console.log(require("bcryptjs").hashSync("secret", 10))'`).
    #[arg(
        long = "admin-password-hash",
        env = "CROSSCAST_ADMIN_PASSWORD_HASH",
        value_name = "BCRYPT",
        value_parser = parse_bcrypt,
        hide_env_values = true
    )]
    pub password_hash: Option<String>,
    /// Let anyone who reaches the server use the admin UI, without a login.
    #[arg(long = "admin-no-auth")]
    pub no_auth: bool,
    /// The admin UI may look but not act: no emit, join, leave or disconnect.
    #[arg(long = "admin-readonly")]
    pub readonly: bool,
    /// `development` sends the live events and the socket list; `production` only the
    /// servers' statistics.
    #[arg(long = "admin-mode", value_enum, default_value = "development")]
    pub mode: AdminMode,
    /// The name of this server in the admin UI (default: its uid in the cluster).
    #[arg(long = "admin-server-id", value_name = "ID")]
    pub server_id: Option<String>,
}

fn parse_bcrypt(text: &str) -> Result<String, String> {
    if access::is_bcrypt_hash(text) {
        Ok(text.to_owned())
    } else {
        Err("not a bcrypt hash (expected $2a$, $2b$ or $2y$, a cost and 53 characters)".into())
    }
}

impl AdminArgs {
    /// Checks the options together; the error is one line.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !self.admin {
            for (given, flag) in [
                (self.no_auth, "--admin-no-auth"),
                (self.readonly, "--admin-readonly"),
                (self.server_id.is_some(), "--admin-server-id"),
            ] {
                if given {
                    return Err(format!("{flag} needs --admin"));
                }
            }
            return Ok(());
        }
        match (&self.user, &self.password_hash, self.no_auth) {
            (Some(_), Some(_), false) | (None, None, true) => Ok(()),
            (_, _, true) => Err(
                "--admin-no-auth and --admin-user/--admin-password-hash exclude each other".into(),
            ),
            (Some(_), None, false) => Err("--admin-user needs --admin-password-hash".into()),
            (None, Some(_), false) => Err("--admin-password-hash needs --admin-user".into()),
            (None, None, false) => Err(
                "--admin needs a login: --admin-user NAME --admin-password-hash BCRYPT \
                 (or --admin-no-auth to serve it to anyone)"
                    .into(),
            ),
        }
    }
}

/// Counters of the admin namespace, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct AdminCounters {
    /// Live events published to the cluster.
    pub(crate) events_sent: AtomicU64,
    /// Live events dropped because [`Feed::CAPACITY`] were waiting.
    pub(crate) events_dropped: AtomicU64,
    /// UI actions executed.
    pub(crate) actions: AtomicU64,
    /// UI actions refused (malformed, an unknown namespace, a reserved event).
    pub(crate) actions_refused: AtomicU64,
    /// `all_sockets` lists sent without some server's sockets (it did not answer in time).
    pub(crate) partial_lists: AtomicU64,
}

/// The admin side of a server: shared by the admin namespace and the chat's hooks.
#[derive(Debug)]
pub(crate) struct Admin {
    /// `--admin-server-id`, else the node's uid once it is known (see [`Admin::serve`]).
    server_id: std::sync::OnceLock<String>,
    hostname: String,
    readonly: bool,
    mode: AdminMode,
    started: Instant,
    access: Access,
    /// Session ids to send to the sockets that just logged in.
    new_sessions: Mutex<HashMap<Sid, String>>,
    events: EventBuffer,
    feed: Feed,
    counters: AdminCounters,
}

impl Admin {
    /// Most logins between the check and the connection (a bound on `new_sessions`).
    const MAX_NEW_SESSIONS: usize = 1024;

    /// The admin side for `args` (checked), with the receiving end of its feed (see
    /// [`Admin::serve`]).
    pub(crate) fn new(args: &AdminArgs) -> (Arc<Self>, mpsc::Receiver<LiveEvent>) {
        let credentials = match (&args.user, &args.password_hash) {
            (Some(user), Some(hash)) if !args.no_auth => Some(Credentials {
                user: user.clone(),
                hash: hash.clone(),
            }),
            _ => None,
        };
        let (tx, rx) = mpsc::channel(Feed::CAPACITY);
        let admin = Arc::new(Self {
            server_id: args
                .server_id
                .clone()
                .map(std::sync::OnceLock::from)
                .unwrap_or_default(),
            hostname: stats::hostname(),
            readonly: args.readonly,
            mode: args.mode,
            started: Instant::now(),
            access: Access::new(credentials),
            new_sessions: Mutex::new(HashMap::new()),
            events: EventBuffer::default(),
            feed: Feed { tx },
            counters: AdminCounters::default(),
        });
        (admin, rx)
    }

    /// Whether live events and socket lists are sent.
    pub(crate) fn development(&self) -> bool {
        self.mode == AdminMode::Development
    }

    /// The counters.
    pub(crate) fn counters(&self) -> &AdminCounters {
        &self.counters
    }

    /// The login's counters and sessions.
    pub(crate) fn access(&self) -> &Access {
        &self.access
    }

    /// The connection events not counted (the buffer was full).
    pub(crate) fn events_not_counted(&self) -> u64 {
        self.events.dropped()
    }

    /// The features the UI may use, in Node's order.
    fn features(&self) -> Vec<&'static str> {
        let mut features = if self.readonly {
            Vec::new()
        } else {
            vec![
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ]
        };
        features.push("AGGREGATED_EVENTS");
        if self.development() {
            features.push("ALL_EVENTS");
        }
        features
    }

    /// The `_admin` data of a socket (development mode), for its record.
    pub(crate) fn socket_data<A: Adapter>(&self, socket: &SocketRef<A>) -> Option<Value> {
        self.development().then(|| admin_data(socket))
    }

    /// A socket of namespace `nsp` connected (`info` is its record, rooms included).
    pub(crate) fn socket_connected(&self, nsp: &str, info: &SocketInfo) {
        self.events.push("rawConnection", None, now_ms());
        if !self.development() {
            return;
        }
        for room in &info.rooms {
            self.room_joined(nsp, &room.to_string(), &info.id);
        }
        self.feed.send(
            &self.counters,
            "socket_connected",
            vec![record::socket_value(info, nsp), now()],
        );
    }

    /// Socket `id` of `nsp` disconnected for `reason`, leaving `rooms`.
    pub(crate) fn socket_disconnected(
        &self,
        nsp: &str,
        id: &str,
        reason: DisconnectReason,
        rooms: &[String],
    ) {
        let reason = node_reason(reason);
        self.events.push("rawDisconnection", Some(reason), now_ms());
        if !self.development() {
            return;
        }
        self.feed.send(
            &self.counters,
            "socket_disconnected",
            vec![
                Value::from(nsp),
                Value::from(id),
                Value::from(reason),
                now(),
            ],
        );
        for room in rooms {
            self.room_left(nsp, room, id);
        }
    }

    /// Socket `id` of `nsp` sent `event` with `args` (Node's `event_received`).
    pub(crate) fn event_received(&self, nsp: &str, id: &str, event: String, args: Vec<Value>) {
        if self.development() {
            let mut all = Vec::with_capacity(args.len() + 1);
            all.push(Value::Str(event));
            all.extend(args);
            self.feed.send(
                &self.counters,
                "event_received",
                vec![Value::from(nsp), Value::from(id), Value::Array(all), now()],
            );
        }
    }

    /// Socket `id` of `nsp` joined `room`.
    pub(crate) fn room_joined(&self, nsp: &str, room: &str, id: &str) {
        self.room_event(true, nsp, room, id);
    }

    /// Socket `id` of `nsp` left `room`.
    pub(crate) fn room_left(&self, nsp: &str, room: &str, id: &str) {
        self.room_event(false, nsp, room, id);
    }

    /// `room_joined` (`joined`) or `room_left`.
    fn room_event(&self, joined: bool, nsp: &str, room: &str, id: &str) {
        if self.development() {
            self.feed.send(
                &self.counters,
                if joined { "room_joined" } else { "room_left" },
                vec![Value::from(nsp), Value::from(room), Value::from(id), now()],
            );
        }
    }

    /// Runs the admin side on `io` until the server stops: publishes the live events of
    /// `feed` and `server_stats` every 2 s to the admin namespace of the cluster. The
    /// server is named `uid` in them unless `--admin-server-id` named it.
    pub(crate) fn serve<A: Adapter>(
        self: &Arc<Self>,
        io: SocketIo<A>,
        mut feed: mpsc::Receiver<LiveEvent>,
        uid: String,
    ) -> tokio::task::JoinHandle<()> {
        let _ = self.server_id.set(uid);
        let admin = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(STATS_INTERVAL);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let report = admin.stats(&io);
                        emit(&io, "server_stats", &[report]).await;
                    }
                    event = feed.recv() => {
                        let Some(LiveEvent { event, args }) = event else { break };
                        admin.counters.events_sent.fetch_add(1, Ordering::Relaxed);
                        emit(&io, event, &args).await;
                    }
                }
            }
        })
    }

    /// This server's `server_stats`.
    fn stats<A: Adapter>(&self, io: &SocketIo<A>) -> Value {
        let mut namespaces = Vec::new();
        let (mut clients, mut polling) = (0, 0);
        for nsp in NAMESPACES {
            let sockets = io.of(nsp).map(|op| op.sockets()).unwrap_or_default();
            clients += sockets.len();
            polling += sockets
                .iter()
                .filter(|s| s.transport_type() == TransportType::Polling)
                .count();
            namespaces.push((nsp.to_owned(), sockets.len()));
        }
        ServerStats {
            server_id: self.server_id.get().map_or("", String::as_str),
            hostname: &self.hostname,
            pid: std::process::id(),
            uptime: self.started.elapsed(),
            clients,
            polling_clients: polling,
            namespaces,
        }
        .to_value(self.events.take())
    }
}

/// A live event for the admin namespace of the cluster.
#[derive(Debug)]
pub(crate) struct LiveEvent {
    event: &'static str,
    args: Vec<Value>,
}

/// The queue of live events between the app's handlers and the task that publishes them:
/// at most [`Feed::CAPACITY`] wait; past it an event is dropped and counted
/// (`crosscast_admin_events_dropped_total`): the UI then misses it, the cluster does not
/// slow down.
#[derive(Debug)]
struct Feed {
    tx: mpsc::Sender<LiveEvent>,
}

impl Feed {
    /// Most live events waiting to be published.
    const CAPACITY: usize = 4096;

    fn send(&self, counters: &AdminCounters, event: &'static str, args: Vec<Value>) {
        if self.tx.try_send(LiveEvent { event, args }).is_err() {
            counters.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Emits `event` with `args` to every admin client of the cluster.
async fn emit<A: Adapter>(io: &SocketIo<A>, event: &str, args: &[Value]) {
    let Some(op) = io.of(ADMIN_NSP) else {
        return;
    };
    if let Err(e) = op.emit(event, &Spread(args)).await {
        debug!(event, "admin event not sent: {e}");
    }
}

/// The connect handler of the admin namespace, behind the login.
pub(crate) fn connect_handler<A: Adapter>(
    admin: Arc<Admin>,
    cluster: Arc<Cluster>,
) -> impl ConnectHandler<A, (SocketRef<A>, SocketIo<A>)> {
    let gate = Arc::clone(&admin);
    let handler = move |socket: SocketRef<A>, io: SocketIo<A>| {
        let admin = Arc::clone(&admin);
        let cluster = Arc::clone(&cluster);
        async move { on_connect(socket, io, admin, cluster).await }
    };
    handler.with(move |socket: SocketRef<A>, TryData(auth): TryData<Value>| {
        let admin = Arc::clone(&gate);
        async move {
            let auth = auth.unwrap_or(Value::Nil);
            let session = || format!("{}{}", Sid::new(), Sid::new());
            match admin.access.admit(&auth, Instant::now(), session).await {
                Admission::Open(None) => Ok(()),
                Admission::Open(Some(session)) => {
                    let mut new = admin
                        .new_sessions
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    if new.len() >= Admin::MAX_NEW_SESSIONS {
                        return Err(access::TOO_MANY_ATTEMPTS);
                    }
                    new.insert(socket.id, session);
                    Ok(())
                }
                Admission::Refused(words) => {
                    debug!(sid = %socket.id, "admin login refused: {words}");
                    Err(words)
                }
            }
        }
    })
}

async fn on_connect<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    admin: Arc<Admin>,
    cluster: Arc<Cluster>,
) {
    socket.join(socket.id);
    let session = admin
        .new_sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&socket.id);
    if let Some(session) = session {
        let _ = socket.emit("session", &session);
    }
    // Its record for the other servers' lists: the handshake without `auth` (the password).
    let data = record_data(None, admin.socket_data(&socket));
    let info = local_info(&socket, Some(data.clone()));
    cluster.register_socket_in(
        ADMIN_NSP,
        socket.id,
        socket.req_parts(),
        Value::Map(Vec::new()),
        data,
    );
    admin.socket_connected(ADMIN_NSP, &info);
    if !admin.readonly {
        actions::register(&socket, &io, &admin, &cluster);
    }
    let config = Value::map([(
        "supportedFeatures",
        Value::Array(admin.features().into_iter().map(Value::from).collect()),
    )]);
    let _ = socket.emit("config", &config);
    let a = Arc::clone(&admin);
    let c = Arc::clone(&cluster);
    socket.on_disconnect(
        async move |socket: SocketRef<A>, reason: DisconnectReason| {
            let rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
            c.forget_socket_in(ADMIN_NSP, socket.id);
            a.socket_disconnected(ADMIN_NSP, &socket.id.to_string(), reason, &rooms);
        },
    );
    if admin.development() {
        let sockets = all_sockets(&io, &cluster, &admin).await;
        if socket.connected() {
            let _ = socket.emit("all_sockets", &sockets);
        }
    }
}

/// Every socket of the cluster, as the UI lists them: each namespace's sockets from the
/// servers that answered in time (the namespaces are asked at once, so a hung server
/// costs one requests timeout, not one per namespace).
async fn all_sockets<A: Adapter>(io: &SocketIo<A>, cluster: &Cluster, admin: &Admin) -> Value {
    let lists = futures_util::future::join_all(
        NAMESPACES
            .iter()
            .map(|nsp| namespace_sockets(io, cluster, admin, nsp)),
    )
    .await;
    let mut all = Vec::new();
    let mut partial = false;
    for (sockets, complete) in lists {
        all.extend(sockets);
        partial |= !complete;
    }
    if partial {
        admin.counters.partial_lists.fetch_add(1, Ordering::Relaxed);
    }
    Value::Array(all)
}

/// The UI's records of the sockets of `nsp` in the cluster, and whether every server
/// answered.
async fn namespace_sockets<A: Adapter>(
    io: &SocketIo<A>,
    cluster: &Cluster,
    admin: &Admin,
    nsp: &str,
) -> (Vec<Value>, bool) {
    let local: Vec<SocketRef<A>> = io.of(nsp).map(|op| op.sockets()).unwrap_or_default();
    let mut complete = true;
    let infos = match cluster.socket_infos(nsp).await {
        // Without Redis: this server's sockets, as the chat would have recorded them.
        None => local
            .iter()
            .map(|s| {
                let server = (nsp == NSP).then(|| cluster.uid());
                let data = record_data(server.as_deref(), admin.socket_data(s));
                local_info(s, Some(data))
            })
            .collect(),
        Some(Ok(found)) => {
            if found.servers_answered < found.servers_expected {
                complete = false;
                warn!(
                    nsp,
                    answered = found.servers_answered,
                    expected = found.servers_expected,
                    "admin socket list without the servers that did not answer in time"
                );
            }
            found.sockets
        }
        Some(Err(e)) => {
            warn!(nsp, "admin socket list: {e}");
            complete = false;
            Vec::new()
        }
    };
    let records = infos
        .into_iter()
        .map(|mut info| {
            // This server's sockets show their transport now (it may have been upgraded).
            if let Some(socket) = local.iter().find(|s| s.id.to_string() == info.id)
                && let Some(Value::Map(data)) = info.data.as_mut()
                && let Some((_, fields)) =
                    data.iter_mut().find(|(k, _)| k == record::ADMIN_DATA_KEY)
            {
                *fields = admin_data(socket);
            }
            record::socket_value(&info, nsp)
        })
        .collect();
    (records, complete)
}

/// The record of local socket `socket` of `nsp` (the handshake of its request, without
/// `auth`), with `data`.
pub(crate) fn local_info<A: Adapter>(socket: &SocketRef<A>, data: Option<Value>) -> SocketInfo {
    let handshake =
        crate::adapter::handshake::from_request(socket.req_parts(), Value::Map(Vec::new()));
    let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
    let own = socket.id.to_string();
    if !rooms.contains(&own) {
        rooms.push(own.clone());
    }
    rooms.sort();
    SocketInfo {
        id: own,
        handshake: Some(handshake.to_value()),
        rooms: rooms.into_iter().map(Room::Str).collect(),
        data,
    }
}

/// The `socket.data` this server records for one of its sockets: `server`, the uid of
/// the node (the chat's sockets), then `_admin` (in development mode).
pub(crate) fn record_data(server: Option<&str>, admin_fields: Option<Value>) -> Value {
    let mut data = Vec::new();
    if let Some(uid) = server {
        data.push(("server".to_owned(), Value::from(uid)));
    }
    if let Some(fields) = admin_fields {
        data.push((record::ADMIN_DATA_KEY.to_owned(), fields));
    }
    Value::Map(data)
}

/// `{clientId, transport}` of a local socket.
fn admin_data<A: Adapter>(socket: &SocketRef<A>) -> Value {
    let id = socket.id.to_string();
    let transport = match socket.transport_type() {
        TransportType::Polling => "polling",
        TransportType::Websocket => "websocket",
    };
    record::admin_data(id.get(..12).unwrap_or(&id), transport)
}

/// Node's words for a disconnection reason (what the UI shows).
fn node_reason(reason: DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::TransportClose => "transport close",
        DisconnectReason::TransportError | DisconnectReason::MultipleHttpPollingError => {
            "transport error"
        }
        DisconnectReason::HeartbeatTimeout => "ping timeout",
        DisconnectReason::ClientNSDisconnect => "client namespace disconnect",
        DisconnectReason::ServerNSDisconnect => "server namespace disconnect",
        DisconnectReason::ClosingServer => "server shutting down",
        DisconnectReason::PacketParsingError => "parse error",
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Now as a JavaScript `Date` (an ISO string to clients, a Date to Node peers).
fn now() -> Value {
    Value::Timestamp(Timestamp::from_millis(now_ms()))
}
