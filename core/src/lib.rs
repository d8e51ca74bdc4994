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
//! ## The codec
//!
//! - [`Value`]: what Node puts on the wire (integers up to 64 bits, float64,
//!   binary, timestamps, ordered maps); [`msgpack`] and [`json`] encode it
//!   byte-identically to notepack.io and `JSON.stringify`.
//! - [`classic`], [`sharded`] and [`emitter`]: the messages of each protocol;
//!   [`channel`]: their channel names.
//! - [`parser_payload`]: conversion to and from socketioxide's parser payloads.
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

pub mod channel;
pub mod classic;
pub mod emitter;
mod error;
mod format;
pub mod json;
mod limits;
pub mod msgpack;
pub mod node;
mod options;
mod packet;
pub mod parser_payload;
mod room;
pub mod sharded;
mod socket_info;
mod value;

pub use classic::{ClassicBroadcast, ClassicRequest, ClassicResponse};
pub use error::{DecodeError, UsageError};
pub use format::{Format, decode_detected};
pub use limits::Limits;
pub use node::{Event, Node, NodeConfig, Protocol, Time};
pub use options::{BroadcastOpts, Flags};
pub use packet::Packet;
pub use room::Room;
pub use sharded::{ShardedBody, ShardedMessage};
pub use socket_info::SocketInfo;
pub use value::{Timestamp, Value};
