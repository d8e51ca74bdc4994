//! A chat server on axum + socketioxide with the crosscast adapter. Run two (or more) on one
//! Redis: a `chat message` from a client of any of them reaches the clients of all of them,
//! and so do Node.js servers on the official `@socket.io/redis-adapter` with the same Redis.
//!
//! ```text
//! cargo run -p crosscast --example chat -- --port 3000 redis://127.0.0.1:6379
//! cargo run -p crosscast --example chat -- --port 3001 redis://127.0.0.1:6379
//! cargo run -p crosscast --example chat -- --sharded redis://127.0.0.1:6379      # Redis 7+
//! cargo run -p crosscast --example chat -- --cluster redis://node-a:7000 redis://node-b:7000
//! ```
//!
//! `--sharded` speaks the protocol of `createShardedAdapter` (SPUBLISH/SSUBSCRIBE) instead of
//! `createAdapter`'s; `--cluster` treats the URLs as seed nodes of a Redis Cluster (in either
//! protocol). `--port 0` picks a free port. It prints `listening on http://ADDR` once it
//! accepts connections, and stops on Ctrl-C.
//!
//! Client events: `chat message` (value) is sent to every client of the cluster, the sender
//! included; `servers` (ack) answers how many servers the cluster has.

use std::net::SocketAddr;

use crosscast::adapter::{Cluster, ClusterConfig, CrosscastAdapter, handshake};
use crosscast_core::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef, TryData};

/// The adapter of every namespace of this server.
type Adapter = CrosscastAdapter<socketioxide::adapter::Emitter>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (port, config) = options(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("chat: {e}");
        std::process::exit(2);
    });
    // One cluster handle per server: the Redis connections, shared by every namespace.
    let cluster = Cluster::connect(config).await?;
    let (layer, io) = SocketIo::builder()
        .with_adapter::<Adapter>(cluster.clone())
        .build_layer();
    let handle = cluster.clone();
    io.ns(
        "/",
        async move |socket: SocketRef<Adapter>, TryData(auth): TryData<Value>| {
            // The client's `auth` payload; `{}` when it sent none or one that does not decode.
            let auth = auth.unwrap_or_else(|_| Value::Map(Vec::new()));
            on_connect(socket, auth, handle);
        },
    )
    .await?;

    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // ConnectInfo gives each socket's handshake its client address.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    io.close().await;
    cluster.close().await;
    Ok(())
}

fn on_connect(socket: SocketRef<Adapter>, auth: Value, cluster: Cluster) {
    // As a Node.js socket does: other servers address one socket through the room of its id.
    socket.join(socket.id);
    // What other servers' `fetchSockets()` show of this socket (handshake and `socket.data`).
    let handshake = handshake::from_request(socket.req_parts(), auth);
    let _ = cluster.register_socket("/", socket.id, handshake, Value::Map(Vec::new()));

    socket.on(
        "chat message",
        async |io: SocketIo<Adapter>, Data(msg): Data<serde_json::Value>| {
            // To every client of every server of the cluster.
            if let Err(e) = io.emit("chat message", &msg).await {
                eprintln!("chat message not sent: {e}");
            }
        },
    );
    let counting = cluster.clone();
    socket.on("servers", async move |ack: AckSender<Adapter>| {
        let answer = match counting.server_count("/").await {
            Ok(n) => serde_json::json!(n),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        let _ = ack.send(&answer);
    });
    socket.on_disconnect(async move |socket: SocketRef<Adapter>| {
        cluster.forget_socket("/", socket.id);
    });
}

/// `[--port N] [--sharded] [--cluster] [URL...]`: the port (default 3000) and the cluster's
/// configuration (default URL `redis://127.0.0.1:6379`).
fn options(mut args: impl Iterator<Item = String>) -> Result<(u16, ClusterConfig), String> {
    let (mut port, mut sharded, mut redis_cluster, mut urls) = (3000, false, false, Vec::new());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().unwrap_or_default();
                port = value
                    .parse()
                    .map_err(|_| format!("--port: not a port: {value:?}"))?;
            }
            "--sharded" => sharded = true,
            "--cluster" => redis_cluster = true,
            url if url.starts_with("redis://") || url.starts_with("rediss://") => {
                urls.push(url.to_owned());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if urls.is_empty() {
        urls.push("redis://127.0.0.1:6379".to_owned());
    }
    if urls.len() > 1 && !redis_cluster {
        return Err("several Redis URLs are the seeds of a Redis Cluster: add --cluster".into());
    }
    let first = urls.remove(0);
    let mut config = if sharded {
        ClusterConfig::sharded(first)
    } else {
        ClusterConfig::classic(first)
    };
    if redis_cluster {
        // The first URL and these are the seed nodes; the rest of the cluster is discovered.
        config.driver.cluster_nodes = Some(urls);
    }
    Ok((port, config))
}
