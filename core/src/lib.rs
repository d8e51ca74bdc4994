//! # crosscast-core
//!
//! The sans-IO protocol core of crosscast: everything needed to take part in a
//! cluster of Socket.IO servers that speak the wire protocol of the official
//! Node.js `@socket.io/redis-adapter` (classic and sharded) and
//! `@socket.io/redis-emitter`.
//!
//! The core never reads a clock, opens a socket, spawns or draws random numbers,
//! and builds for `wasm32-unknown-unknown`.
//!
//! ## The run loop
//!
//! A [`Node`] is one namespace adapter's share of the cluster. The host feeds it
//! inputs, each with `now`, and after each input drains its outputs until `None`
//! (transmits, events, then the next deadline) before the next one. No input
//! panics, however hostile: bad bytes from Redis are counted in
//! [`node::Stats`] and dropped; a host that breaks the contract gets a
//! [`UsageError`]. `core/README.md` lists every input and output.
//!
//! ```
//! use crosscast_core::node::{Event, Question, Time};
//! use crosscast_core::{BroadcastOpts, Node, NodeConfig, Packet, Protocol, Value};
//!
//! # fn publish(_channel: &str, _payload: &[u8]) {}
//! # fn subscribers(_channel: &str) -> u64 { 2 }
//! let mut node = Node::new(NodeConfig::new("AbC123", "/", Protocol::classic()), Time::from_millis(0))
//!     .expect("a valid configuration");
//!
//! // The app emits to everyone: the host delivers to its own sockets, the node publishes.
//! node.broadcast(Packet::event("chat message", [Value::from("hi")]), &BroadcastOpts::all());
//! let fetch = node.fetch_sockets(Time::from_millis(5), &BroadcastOpts::all());
//!
//! // Drain every output, then sleep until `poll_timeout` or the next input.
//! let now = Time::from_millis(5);
//! loop {
//!     if let Some(t) = node.poll_transmit() {
//!         publish(&t.channel, &t.payload); // PUBLISH or SPUBLISH, per `t.kind`
//!         continue;
//!     }
//!     match node.poll_event() {
//!         Some(Event::Question(Question::ServerCount { id, channel, .. })) => {
//!             node.answer_server_count(now, id, subscribers(&channel)).expect("asked");
//!         }
//!         Some(Event::Completed(done)) => assert_eq!(done.request, fetch),
//!         Some(_other) => {} // subscribe, apply locally, answer, …
//!         None => break,
//!     }
//! }
//! // A message from Redis: `node.handle_message(now, channel, payload)`; a deadline:
//! // `node.handle_timeout(now)` once `node.poll_timeout()` has passed.
//! assert!(node.poll_timeout().is_some());
//! ```
//!
//! ## The codec
//!
//! - [`Value`]: what Node puts on the wire (integers up to 64 bits, float64,
//!   binary, timestamps, ordered maps); [`msgpack`] and [`json`] encode it
//!   byte-identically to notepack.io and `JSON.stringify`.
//! - [`emitter`]: the messages of `@socket.io/redis-emitter`; [`channel`]: the
//!   channel names of each protocol.
//! - With the `codec` feature (for tests, benchmarks and fuzzing; the hosts do
//!   not need it): `classic` and `sharded`, the messages of each protocol, and
//!   `parser_payload`, conversion to and from socketioxide's parser payloads.
//!   The node uses them inside either way.
//!
//! ```
//! use crosscast_core::{BroadcastOpts, ClassicBroadcast, Limits, Packet, Value};
//! use crosscast_core::channel::ClassicChannels;
//!
//! let channels = ClassicChannels::new("socket.io", "/");
//! let mut packet = Packet::event("hello", [Value::from("world"), Value::from(1)]);
//! packet.nsp = Some("/".into());
//! let message = ClassicBroadcast { uid: "AAAAAA".into(), packet, opts: BroadcastOpts::all() };
//! let bytes = message.encode();
//! assert_eq!(channels.broadcast_for(&message.opts.rooms), "socket.io#/#");
//! assert_eq!(ClassicBroadcast::decode(&bytes, &Limits::default()), Ok(message));
//! ```

/// Declares a module that is public with the `codec` feature and private
/// without it: the message codecs the node uses inside, which the hosts never
/// name, and which tests, benchmarks and fuzz targets reach through the feature.
macro_rules! codec_module {
    ($name:ident) => {
        #[cfg(feature = "codec")]
        pub mod $name;
        #[cfg(not(feature = "codec"))]
        #[allow(dead_code, unreachable_pub)]
        mod $name;
    };
}

pub mod channel;
codec_module!(classic);
pub mod emitter;
mod error;
pub mod event_name;
#[cfg_attr(not(feature = "codec"), allow(dead_code, unreachable_pub))]
mod format;
mod handshake;
pub mod json;
mod limits;
pub mod msgpack;
pub mod node;
mod options;
mod packet;
codec_module!(parser_payload);
mod room;
codec_module!(sharded);
mod socket_info;
mod value;

#[cfg(feature = "codec")]
pub use classic::{ClassicBroadcast, ClassicRequest, ClassicResponse};
pub use error::{DecodeError, UsageError};
#[cfg(feature = "codec")]
pub use format::{Format, decode_detected};
pub use handshake::Handshake;
pub use limits::Limits;
pub use node::{Event, Node, NodeConfig, Protocol, Time};
pub use options::{BroadcastOpts, Flags};
pub use packet::Packet;
pub use room::Room;
#[cfg(feature = "codec")]
pub use sharded::{ShardedBody, ShardedMessage};
pub use socket_info::SocketInfo;
pub use value::{Timestamp, Value};
