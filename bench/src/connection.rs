//! Opening a Socket.IO client connection: WebSocket, Engine.IO open, namespace `/`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::endpoint::Endpoint;
use crate::packet::{self, Frame};

/// A WebSocket carrying one Engine.IO session.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `endpoint` and returns once the server has acknowledged the
/// Socket.IO CONNECT on `/`. Fails when that takes longer than `timeout`, when
/// the server refuses, or when the socket closes first.
pub(crate) async fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Ws, String> {
    tokio::time::timeout(timeout, handshake(endpoint))
        .await
        .map_err(|_| format!("{endpoint}: no Socket.IO connect within {timeout:?}"))?
}

async fn handshake(endpoint: &Endpoint) -> Result<Ws, String> {
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(endpoint.websocket_url(), None, true)
            .await
            .map_err(|e| format!("{endpoint}: {e}"))?;
    while let Some(message) = ws.next().await {
        let message = message.map_err(|e| format!("{endpoint}: {e}"))?;
        let Message::Text(text) = message else {
            continue;
        };
        let reply = match packet::parse(text.as_str()) {
            Frame::Open => packet::CONNECT_MAIN,
            Frame::Ping => packet::PONG,
            Frame::Connected => return Ok(ws),
            Frame::Refused(why) => return Err(format!("{endpoint}: refused: {why}")),
            Frame::Chat { .. } | Frame::Other => continue,
        };
        ws.send(Message::text(reply))
            .await
            .map_err(|e| format!("{endpoint}: {e}"))?;
    }
    Err(format!("{endpoint}: closed during the handshake"))
}
