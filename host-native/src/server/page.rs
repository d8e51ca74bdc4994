//! The chat page and the Socket.IO browser client, embedded in the binary.

/// `GET /`: the chat page (`host-native/assets/index.html`).
pub(crate) const INDEX_HTML: &str = include_str!("../../assets/index.html");

/// The official `socket.io-client` browser bundle (`dist/socket.io.min.js`), provided by
/// `build.rs` at the pinned version.
pub(crate) const SOCKET_IO_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/socket.io.min.js"));

/// The version of [`SOCKET_IO_JS`].
pub(crate) const SOCKET_IO_CLIENT_VERSION: &str = env!("CROSSCAST_SOCKET_IO_CLIENT_VERSION");

/// Where the page loads [`SOCKET_IO_JS`] from.
pub(crate) const SOCKET_IO_JS_PATH: &str = "/assets/socket.io.min.js";
