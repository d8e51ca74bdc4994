//! Opening a Socket.IO client connection: WebSocket, Engine.IO open, namespace `/`.

use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::packet::{self, Frame};
use crate::wire::{self, Socket};

/// Connects to `endpoint` and returns once the server has acknowledged the
/// Socket.IO CONNECT on `/`. Fails when that takes longer than `timeout`, when
/// the server refuses, or when the socket closes first.
pub(crate) async fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Socket, String> {
    tokio::time::timeout(timeout, handshake(endpoint))
        .await
        .map_err(|_| format!("{endpoint}: no Socket.IO connect within {timeout:?}"))?
}

async fn handshake(endpoint: &Endpoint) -> Result<Socket, String> {
    let mut ws = Socket::connect(endpoint).await?;
    loop {
        while let Some((opcode, range)) = ws.next_frame().map_err(|e| format!("{endpoint}: {e}"))? {
            match opcode {
                wire::OP_TEXT => {}
                wire::OP_CLOSE => return Err(format!("{endpoint}: closed during the handshake")),
                wire::OP_PING => {
                    ws.send_pong(range)
                        .await
                        .map_err(|e| format!("{endpoint}: {e}"))?;
                    continue;
                }
                _ => continue,
            }
            let text = std::str::from_utf8(ws.payload(range)).unwrap_or("");
            let reply = match packet::parse(text) {
                Frame::Open => packet::CONNECT_MAIN,
                Frame::Ping => packet::PONG,
                Frame::Connected => return Ok(ws),
                Frame::Refused(why) => return Err(format!("{endpoint}: refused: {why}")),
                Frame::Chat { .. } | Frame::Other => continue,
            };
            ws.send_text(reply.as_bytes())
                .await
                .map_err(|e| format!("{endpoint}: {e}"))?;
        }
        if ws.fill().await.map_err(|e| format!("{endpoint}: {e}"))? == 0 {
            return Err(format!("{endpoint}: closed during the handshake"));
        }
    }
}
