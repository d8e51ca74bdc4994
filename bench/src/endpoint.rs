//! Server addresses: loopback only, turned into Engine.IO WebSocket URLs.

use std::fmt;
use std::net::IpAddr;

/// A Socket.IO server on a loopback address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    host: String,
    port: u16,
}

impl Endpoint {
    /// Accepts `http://HOST:PORT`, `ws://HOST:PORT` (an optional trailing `/`)
    /// or `HOST:PORT`, where HOST is `localhost`, an address in 127.0.0.0/8, or
    /// `[::1]`. Anything else is refused: the load generator only targets this machine.
    pub(crate) fn parse(input: &str) -> Result<Self, String> {
        let rest = ["http://", "ws://"]
            .iter()
            .find_map(|scheme| input.strip_prefix(scheme))
            .unwrap_or(input);
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("{input}: expected HOST:PORT"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{input}: bad port {port:?}"))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback =
            bare == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(format!("{input}: only loopback hosts are allowed"));
        }
        let host = if bare.contains(':') {
            format!("[{bare}]")
        } else {
            bare.to_owned()
        };
        Ok(Self { host, port })
    }

    /// The Engine.IO v4 WebSocket-only URL of the server.
    pub(crate) fn websocket_url(&self) -> String {
        format!(
            "ws://{}:{}/socket.io/?EIO=4&transport=websocket",
            self.host, self.port
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_forms() {
        for input in [
            "http://127.0.0.1:3000",
            "ws://127.0.0.1:3000/",
            "127.0.0.1:3000",
        ] {
            let e = Endpoint::parse(input).expect("loopback");
            assert_eq!(
                e.websocket_url(),
                "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
            );
        }
        assert_eq!(
            Endpoint::parse("localhost:1")
                .expect("localhost")
                .to_string(),
            "localhost:1"
        );
        assert_eq!(
            Endpoint::parse("[::1]:8080").expect("v6").websocket_url(),
            "ws://[::1]:8080/socket.io/?EIO=4&transport=websocket"
        );
        assert!(Endpoint::parse("127.8.9.10:1").is_ok());
    }

    #[test]
    fn refuses_other_hosts_and_bad_ports() {
        for input in [
            "http://10.0.0.1:3000",
            "192.168.1.2:80",
            "example.com:80",
            "[::2]:80",
            "127.0.0.1",
            "127.0.0.1:99999",
        ] {
            assert!(Endpoint::parse(input).is_err(), "{input} must be refused");
        }
    }
}
