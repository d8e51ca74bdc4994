//! A minimal WebSocket client (RFC 6455) for the load generator, built for a
//! low CPU cost per received message: one `read` fills a large buffer and every
//! complete frame in it is handed out as a slice, without copies or allocations.
//!
//! Contract: the peer is a trusted loopback Socket.IO server. Server frames must
//! be unmasked and unfragmented (Engine.IO servers send every packet as one
//! frame); a masked or fragmented frame, or one larger than [`MAX_FRAME`], is an
//! error. Client frames are masked with the all-zero key (RFC 6455 requires a
//! mask, not a particular one), so the payload goes out unchanged.

use std::io;
use std::ops::Range;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::endpoint::Endpoint;

/// Largest frame accepted from the server.
pub(crate) const MAX_FRAME: usize = 1 << 20;
/// Free space ensured in the receive buffer before every read.
const READ_CHUNK: usize = 64 * 1024;
/// Largest HTTP upgrade response accepted.
const MAX_RESPONSE_HEAD: usize = 8 * 1024;
/// Bound on one write: a server that stops reading fails the client.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Frame opcodes the client handles.
pub(crate) const OP_TEXT: u8 = 0x1;
#[cfg(test)]
const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// One open WebSocket and its receive buffer.
#[derive(Debug)]
pub(crate) struct Socket {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Start of the unparsed bytes in `buf`.
    start: usize,
    out: Vec<u8>,
}

impl Socket {
    /// Opens a TCP connection to `endpoint` and performs the HTTP upgrade on the
    /// Engine.IO v4 WebSocket path. Fails on anything but `101`.
    pub(crate) async fn connect(endpoint: &Endpoint) -> Result<Self, String> {
        let stream = TcpStream::connect(endpoint.to_string())
            .await
            .map_err(|e| format!("{endpoint}: connect: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("{endpoint}: nodelay: {e}"))?;
        let mut socket = Self {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            out: Vec::with_capacity(256),
        };
        let request = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {endpoint}\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: Y3Jvc3NjYXN0LWJlbmNoIQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        socket
            .stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("{endpoint}: upgrade request: {e}"))?;
        let head_end = loop {
            if let Some(i) = socket.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if socket.buf.len() > MAX_RESPONSE_HEAD {
                return Err(format!("{endpoint}: upgrade response too long"));
            }
            if socket
                .fill()
                .await
                .map_err(|e| format!("{endpoint}: {e}"))?
                == 0
            {
                return Err(format!("{endpoint}: closed during the upgrade"));
            }
        };
        let status = socket.buf.get(..12).unwrap_or_default();
        if status != b"HTTP/1.1 101" {
            let head = String::from_utf8_lossy(&socket.buf[..head_end]).into_owned();
            return Err(format!(
                "{}: upgrade refused: {}",
                endpoint.websocket_url(),
                head.trim()
            ));
        }
        socket.start = head_end;
        Ok(socket)
    }

    /// Reads more bytes into the buffer; `Ok(0)` when the server closed the
    /// connection. Cancel safe.
    pub(crate) async fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 && self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(self.buf.len() - self.start);
            self.start = 0;
        }
        self.buf.reserve(READ_CHUNK);
        self.stream.read_buf(&mut self.buf).await
    }

    /// The next complete frame in the buffer as (opcode, payload range), and
    /// consumes it; `Ok(None)` when more bytes are needed. The range is valid in
    /// [`Socket::payload`] until the next [`Socket::fill`].
    pub(crate) fn next_frame(&mut self) -> Result<Option<(u8, Range<usize>)>, String> {
        let Some((opcode, header, len)) = frame_header(&self.buf[self.start..])? else {
            return Ok(None);
        };
        let from = self.start + header;
        self.start = from + len;
        Ok(Some((opcode, from..from + len)))
    }

    /// The bytes of a range returned by [`Socket::next_frame`].
    pub(crate) fn payload(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Sends one text frame.
    pub(crate) async fn send_text(&mut self, text: &[u8]) -> io::Result<()> {
        self.send(OP_TEXT, text).await
    }

    /// Answers a WebSocket ping with a pong carrying the same payload.
    pub(crate) async fn send_pong(&mut self, range: Range<usize>) -> io::Result<()> {
        let payload = self.buf[range].to_vec();
        self.send(OP_PONG, &payload).await
    }

    async fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        self.out.clear();
        self.out.push(0x80 | opcode);
        match payload.len() {
            n @ 0..=125 => self.out.push(0x80 | n as u8),
            n @ 126..=0xFFFF => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        // The all-zero masking key: the payload is sent as is.
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        self.out.extend_from_slice(payload);
        match tokio::time::timeout(WRITE_TIMEOUT, self.stream.write_all(&self.out)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the server did not read for 2 s",
            )),
        }
    }

    /// Sends a close frame, best effort.
    pub(crate) async fn close(&mut self) {
        let _ = self.send(OP_CLOSE, &[0x03, 0xE8]).await;
        let _ = self.stream.shutdown().await;
    }
}

/// Reads the frame at the start of `data`: (opcode, header length, payload
/// length) when the whole frame is there, `None` when bytes are missing.
fn frame_header(data: &[u8]) -> Result<Option<(u8, usize, usize)>, String> {
    let [b0, b1, ..] = *data else {
        return Ok(None);
    };
    if b0 & 0x80 == 0 || b0 & 0x0F == 0 {
        return Err("fragmented frame from the server".to_owned());
    }
    if b1 & 0x80 != 0 {
        return Err("masked frame from the server".to_owned());
    }
    let (len, header) = match b1 & 0x7F {
        126 => match data.get(2..4) {
            Some(&[a, b]) => (usize::from(u16::from_be_bytes([a, b])), 4),
            _ => return Ok(None),
        },
        127 => match data.get(2..10) {
            Some(bytes) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(bytes);
                let len = u64::from_be_bytes(be);
                (usize::try_from(len).unwrap_or(usize::MAX), 10)
            }
            None => return Ok(None),
        },
        n => (usize::from(n), 2),
    };
    if len > MAX_FRAME {
        return Err(format!("frame of {len} bytes from the server"));
    }
    if data.len() < header + len {
        return Ok(None);
    }
    Ok(Some((b0 & 0x0F, header, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_length_forms_and_waits_for_missing_bytes() {
        let small = [&[0x81, 0x02][..], b"42"].concat();
        assert_eq!(frame_header(&small), Ok(Some((OP_TEXT, 2, 2))));
        assert_eq!(frame_header(&small[..3]), Ok(None));
        let mut medium = vec![0x81, 126, 0x01, 0x00];
        medium.resize(4 + 256, b'x');
        assert_eq!(frame_header(&medium), Ok(Some((OP_TEXT, 4, 256))));
        assert_eq!(frame_header(&medium[..3]), Ok(None));
        let mut large = vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0];
        large.resize(10 + 65536, 0);
        assert_eq!(frame_header(&large), Ok(Some((OP_BINARY, 10, 65536))));
        assert_eq!(frame_header(&large[..9]), Ok(None));
        assert_eq!(frame_header(&[0x88, 0x00]), Ok(Some((OP_CLOSE, 2, 0))));
    }

    #[test]
    fn refuses_masked_fragmented_and_oversized_frames() {
        assert!(frame_header(&[0x81, 0x82, 0, 0, 0, 0, b'4', b'2']).is_err());
        assert!(frame_header(&[0x01, 0x02, b'4', b'2']).is_err());
        assert!(frame_header(&[0x80, 0x02, b'4', b'2']).is_err());
        assert!(frame_header(&[0x81, 127, 0, 0, 0, 0, 0, 0x20, 0, 0]).is_err());
    }
}
