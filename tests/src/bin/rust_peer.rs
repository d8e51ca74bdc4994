//! The interop peer on the Rust side: the same chat app and control events as
//! `interop/node/peer-server.js`, on socketioxide with crosscast's cluster
//! adapter, so the mixed-cluster tests can drive Rust and Node servers alike.
//!
//! Contract (as peer-server.js): listens on 127.0.0.1 only, prints one line
//! `listening on http://127.0.0.1:PORT uid=<uid of />` when ready, exits 0 on
//! SIGTERM. Flags: --port (0 picks one), --redis-url, --adapter classic|sharded,
//! --key, --requests-timeout, --subscription-mode.
//! Extra control events: `x:remote-emit` (socket id, event) emits to one socket
//! found with fetch_sockets (a Node socket included) and `x:remote-join`
//! (socket id, room) makes it join a room. `x:disconnect-room` (room[, close])
//! is `Cluster::disconnect_sockets` (close defaults to true, as in peer-server.js).
//! Namespace `/other` answers `ping` (ack) with `"pong"`.

use std::time::Duration;

use crosscast::adapter::{Cluster, ClusterConfig, CrosscastAdapter};
use crosscast_core::Value;
use crosscast_core::channel::SubscriptionMode;
use crosscast_core::node::Protocol;
use futures_util::StreamExt;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};

type A = CrosscastAdapter<socketioxide::adapter::Emitter>;

#[derive(Debug)]
struct Options {
    port: u16,
    redis_url: String,
    sharded: bool,
    key: String,
    requests_timeout: u64,
    mode: SubscriptionMode,
    cluster: Option<Vec<String>>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        port: 0,
        redis_url: String::new(),
        sharded: false,
        key: "socket.io".into(),
        requests_timeout: 5000,
        mode: SubscriptionMode::Dynamic,
        cluster: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => o.port = value.parse().map_err(|_| "bad --port")?,
            "--redis-url" => o.redis_url = value,
            "--adapter" => o.sharded = value == "sharded",
            "--key" => o.key = value,
            "--requests-timeout" => {
                o.requests_timeout = value.parse().map_err(|_| "bad timeout")?
            }
            "--subscription-mode" => {
                o.mode = match value.as_str() {
                    "static" => SubscriptionMode::Static,
                    "dynamic-private" => SubscriptionMode::DynamicPrivate,
                    _ => SubscriptionMode::Dynamic,
                }
            }
            "--redis-cluster" => {
                let nodes: Vec<String> = value.split(',').map(str::to_owned).collect();
                o.redis_url = nodes[0].clone();
                o.cluster = Some(nodes);
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if o.redis_url.is_empty() {
        return Err("--redis-url is required".into());
    }
    Ok(o)
}

fn opt_rooms(opts: &Value) -> Vec<String> {
    match opts.get("rooms") {
        Some(Value::Str(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn error(e: impl std::fmt::Display) -> Value {
    Value::map([("error", Value::from(e.to_string()))])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rust-peer: {e}");
            std::process::exit(2);
        }
    };
    let mut config = if o.sharded {
        let mut c = ClusterConfig::sharded(o.redis_url.clone());
        c.protocol = Protocol::Sharded {
            channel_prefix: o.key.clone(),
            subscription_mode: o.mode,
        };
        c
    } else {
        let mut c = ClusterConfig::classic(o.redis_url.clone());
        c.protocol = c.protocol.with_key(o.key.clone());
        c
    };
    config.driver.cluster_nodes = o.cluster.clone();
    config.requests_timeout_ms = o.requests_timeout;
    let cluster = match Cluster::connect(config).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rust-peer: {e}");
            std::process::exit(1);
        }
    };
    let (layer, io) = SocketIo::builder()
        .with_adapter::<A>(cluster.clone())
        .build_layer();
    let _ = CLUSTER.set(cluster.clone());
    if let Err(e) = io.ns("/", on_connect).await {
        eprintln!("rust-peer: {e}");
        std::process::exit(1);
    }
    let other = io.ns("/other", async |socket: SocketRef<A>| {
        socket.on("ping", async |ack: AckSender<A>| {
            let _ = ack.send(&"pong");
        });
    });
    if let Err(e) = other.await {
        eprintln!("rust-peer: {e}");
        std::process::exit(1);
    }
    if let Some(mut events) = cluster.server_side_events("/") {
        let io = io.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if event.event == "stats"
                    && let Some(ack) = event.ack
                {
                    let sockets = io.local().sockets().len();
                    ack.send(Value::map([("sockets", Value::from(sockets))]));
                }
            }
        });
    }
    let app = axum::Router::new().layer(layer);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", o.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rust-peer: {e}");
            std::process::exit(1);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    println!(
        "listening on http://127.0.0.1:{port} uid={}",
        cluster.uid("/").unwrap_or_default()
    );
    let io_close = io.clone();
    let shutdown = async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        io_close.close().await;
    };
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    cluster.close().await;
}

static CLUSTER: std::sync::OnceLock<Cluster> = std::sync::OnceLock::new();

async fn on_connect(socket: SocketRef<A>) {
    let Some(cluster) = CLUSTER.get().cloned() else {
        return;
    };
    socket.join(socket.id);
    socket.on(
        "chat message",
        async |io: SocketIo<A>, Data(value): Data<Value>| {
            let _ = io.emit("chat message", &value).await;
        },
    );
    socket.on(
        "join",
        async |s: SocketRef<A>, Data(room): Data<String>, ack: AckSender<A>| {
            s.join(room);
            let _ = ack.send(&true);
        },
    );
    socket.on(
        "leave",
        async |s: SocketRef<A>, Data(room): Data<String>, ack: AckSender<A>| {
            s.leave(room);
            let _ = ack.send(&true);
        },
    );
    socket.on(
        "room message",
        async |io: SocketIo<A>, Data(body): Data<Value>| {
            if let (Some(room), Some(msg)) =
                (body.get("room").and_then(Value::as_str), body.get("msg"))
            {
                let _ = io.to(room.to_owned()).emit("chat message", msg).await;
            }
        },
    );
    let c = cluster.clone();
    socket.on("who", async move |io: SocketIo<A>, ack: AckSender<A>| {
        let answer = match (io.fetch_sockets().await, c.server_count("/").await) {
            (Ok(sockets), Ok(servers)) => Value::map([
                ("sockets", Value::from(sockets.len())),
                ("servers", Value::from(servers)),
            ]),
            (Err(e), _) => error(e),
            (_, Err(e)) => error(e),
        };
        let _ = ack.send(&answer);
    });
    let c = cluster.clone();
    socket.on(
        "x:fetch",
        async move |io: SocketIo<A>, Data(opts): Data<Value>, ack: AckSender<A>| {
            let rooms = opts_rooms_or_all(&opts);
            let op = if rooms.is_empty() {
                io.broadcast()
            } else {
                io.within(rooms)
            };
            let answer = match op.fetch_sockets().await {
                Ok(sockets) => {
                    let mut out = Vec::new();
                    for s in sockets {
                        let id = c.socket_id(s.data());
                        let mut rooms: Vec<Value> = s
                            .rooms()
                            .await
                            .unwrap_or_default()
                            .into_iter()
                            .map(|r| Value::from(r.to_string()))
                            .collect();
                        rooms.sort_by_key(|r| r.to_string());
                        out.push(Value::map([
                            ("id", Value::from(id)),
                            ("rooms", Value::Array(rooms)),
                        ]));
                    }
                    Value::Array(out)
                }
                Err(e) => error(e),
            };
            let _ = ack.send(&answer);
        },
    );
    socket.on("x:rooms", async |io: SocketIo<A>, ack: AckSender<A>| {
        let answer = match io.rooms().await {
            Ok(rooms) => Value::Array(
                rooms
                    .into_iter()
                    .map(|r| Value::from(r.to_string()))
                    .collect(),
            ),
            Err(e) => error(e),
        };
        let _ = ack.send(&answer);
    });
    let c = cluster.clone();
    socket.on(
        "x:sse",
        async move |Data((event, args)): Data<(String, Vec<Value>)>, ack: AckSender<A>| {
            let answer = match c.server_side_emit_with_ack("/", &event, args).await {
                Ok(acks) if acks.timed_out => error("serverSideEmitWithAck timed out"),
                Ok(acks) => Value::Array(acks.values),
                Err(e) => error(e),
            };
            let _ = ack.send(&answer);
        },
    );
    socket.on(
        "x:broadcast-ack",
        async |io: SocketIo<A>, Data(opts): Data<Value>, ack: AckSender<A>| {
            let timeout = opts.get("timeout").and_then(Value::as_u64).unwrap_or(2000);
            let answer = match io
                .timeout(Duration::from_millis(timeout))
                .emit_with_ack::<_, Value>("ping", &[0u8; 0])
                .await
            {
                Ok(stream) => {
                    let items: Vec<Value> = stream
                        .filter_map(|(_, r)| async move { r.ok() })
                        .collect()
                        .await;
                    Value::Array(items)
                }
                Err(e) => error(e),
            };
            let _ = ack.send(&answer);
        },
    );
    socket.on(
        "x:join-all",
        async |io: SocketIo<A>, Data(room): Data<String>, ack: AckSender<A>| {
            let _ = io.broadcast().join(room).await;
            let _ = ack.send(&true);
        },
    );
    socket.on(
        "x:leave-all",
        async |io: SocketIo<A>, Data(room): Data<String>, ack: AckSender<A>| {
            let _ = io.broadcast().leave(room).await;
            let _ = ack.send(&true);
        },
    );
    let c = cluster.clone();
    socket.on(
        "x:disconnect-room",
        async move |Data(RoomClose(room, close)): Data<RoomClose>, ack: AckSender<A>| {
            let _ = ack.send(&true);
            let _ = c
                .disconnect_sockets("/", vec![room], Vec::new(), close)
                .await;
        },
    );
    socket.on(
        "x:emit",
        async |io: SocketIo<A>, Data(opts): Data<Value>, ack: AckSender<A>| {
            let rooms = opt_rooms(&opts);
            let except: Vec<String> = match opts.get("except") {
                Some(Value::Str(s)) => vec![s.clone()],
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            let event = opts
                .get("event")
                .and_then(Value::as_str)
                .unwrap_or("chat message")
                .to_owned();
            let args: Vec<Value> = opts
                .get("args")
                .and_then(Value::as_array)
                .map(<[Value]>::to_vec)
                .unwrap_or_default();
            let op = io.to(rooms).except(except);
            let _ = match args.len() {
                0 => op.emit(&event, &()).await,
                1 => op.emit(&event, &args[0]).await,
                _ => op.emit(&event, &args).await,
            };
            let _ = ack.send(&true);
        },
    );
    let c = cluster.clone();
    socket.on("x:metrics", async move |ack: AckSender<A>| {
        let m = c.metrics();
        let _ = ack.send(&Value::map([
            ("decodeErrors", Value::from(m.core.decode_errors)),
            ("received", Value::from(m.core.received)),
            ("reconnects", Value::from(m.driver.reconnects)),
            ("partial", Value::from(m.core.requests_partial)),
            ("timedOut", Value::from(m.core.requests_timed_out)),
        ]));
    });
    let c = cluster.clone();
    socket.on(
        "x:remote-emit",
        async move |io: SocketIo<A>,
                    Data((id, event)): Data<(String, String)>,
                    ack: AckSender<A>| {
            let answer = match io.fetch_sockets().await {
                Ok(sockets) => match sockets.into_iter().find(|s| c.socket_id(s.data()) == id) {
                    Some(s) => Value::Bool(s.emit(&event, &"direct").await.is_ok()),
                    None => error("no such socket"),
                },
                Err(e) => error(e),
            };
            let _ = ack.send(&answer);
        },
    );
    let c = cluster;
    socket.on(
        "x:remote-join",
        async move |io: SocketIo<A>,
                    Data((id, room)): Data<(String, String)>,
                    ack: AckSender<A>| {
            let answer = match io.fetch_sockets().await {
                Ok(sockets) => match sockets.into_iter().find(|s| c.socket_id(s.data()) == id) {
                    Some(s) => Value::Bool(s.join(room).await.is_ok()),
                    None => error("no such socket"),
                },
                Err(e) => error(e),
            };
            let _ = ack.send(&answer);
        },
    );
}

/// The arguments `(room[, close])` of `x:disconnect-room`, `close` defaulting to true.
/// A tuple for socketioxide, which then hands over every argument, not only the first.
#[derive(Debug)]
struct RoomClose(String, bool);

impl<'de> serde::Deserialize<'de> for RoomClose {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Args;
        impl<'de> serde::de::Visitor<'de> for Args {
            type Value = RoomClose;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("(room[, close])")
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> Result<RoomClose, S::Error> {
                let room: String = seq
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                let close = seq.next_element::<bool>()?.unwrap_or(true);
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(RoomClose(room, close))
            }
        }
        d.deserialize_tuple(2, Args)
    }
}

fn opts_rooms_or_all(opts: &Value) -> Vec<String> {
    opt_rooms(opts)
}
