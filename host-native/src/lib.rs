//! Socket.IO servers in Rust and Node.js as one cluster through Redis.
//!
//! crosscast speaks the wire protocol of the official Node.js `@socket.io/redis-adapter`
//! 8.x, classic (`createAdapter`) and sharded (`createShardedAdapter`, Redis 7+), so a
//! [socketioxide] server with this crate's adapter and Node.js servers with the official one
//! form one cluster: broadcasts (rooms, except, binary), broadcasts with acks,
//! `fetchSockets`, remote join/leave/disconnect, server counts, and server-side events cross
//! every server. The protocol itself is [`crosscast_core`], which runs in Node.js too (the
//! npm package `crosscast`).
//!
//! - [`adapter`]: the cluster adapter for socketioxide 0.18 ([`adapter::CrosscastAdapter`])
//!   and its handle, [`adapter::Cluster`]: one per server, shared by every namespace, with
//!   server-side events, socket records for other servers' `fetchSockets()`, and metrics.
//! - [`driver`]: the Redis driver under it (standalone or Redis Cluster, `redis://` or
//!   `rediss://`, RESP2 or RESP3), which reconnects with a backoff and resubscribes.
//! - `server` (feature `server`, on by default): the app of the `crosscast` binary, a
//!   ready-to-run chat server (`crosscast serve`) and emitter (`crosscast emit`).
//!
//! # Use it in your app
//!
//! ```toml
//! [dependencies]
//! # Without the binary's app: the build needs cargo alone (no npm, no network but crates.io).
//! crosscast = { version = "0.1", default-features = false }
//! crosscast-core = "0.1"
//! socketioxide = "0.18"
//! axum = "0.8"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "net", "signal"] }
//! serde_json = "1"
//! ```
//!
//! The example app `examples/chat.rs` (run it with
//! `cargo run -p crosscast --example chat -- redis://127.0.0.1:6379` from a clone of the
//! repository): a chat whose `chat message` reaches every client of every server, classic,
//! sharded (`--sharded`) or on a Redis Cluster (`--cluster URL...`):
//!
//! ```no_run
#![doc = include_str!("../examples/chat.rs")]
//! ```
//!
//! What matters in it:
//!
//! - [`adapter::Cluster::connect`] with a [`adapter::ClusterConfig`]
//!   ([`classic`](adapter::ClusterConfig::classic) or
//!   [`sharded`](adapter::ClusterConfig::sharded); every server of a cluster must agree, Node
//!   servers included) makes the handle; a Redis Cluster is the first URL plus
//!   `config.driver.cluster_nodes`. `SocketIo::builder().with_adapter::<CrosscastAdapter<_>>(cluster)`
//!   puts every namespace on it. Await `io.ns(...)`: it subscribes to the namespace's
//!   channels.
//! - Each socket joins the room of its own id, as Node sockets do, so that other servers can
//!   address it, and is registered with [`adapter::Cluster::register_socket`] (forgotten on
//!   disconnect) so that their `fetchSockets()` see its handshake and data.
//! - Serve with `into_make_service_with_connect_info::<SocketAddr>()`, so that the handshake
//!   carries the client's address. Close Socket.IO (`io.close()`), then the cluster.
//!
//! # Features
//!
//! - `server` (default): the `crosscast` binary and the `server` module. Its build script
//!   embeds the official `socket.io-client` browser bundle, from `npm` (the npm registry) or
//!   from the file named by `CROSSCAST_SOCKET_IO_JS`. Turn it off for the library alone.
//!
//! [socketioxide]: https://docs.rs/socketioxide/0.18
pub mod adapter;
pub mod driver;
#[cfg(feature = "server")]
pub mod server;
