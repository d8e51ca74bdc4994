//! The few Engine.IO v4 / Socket.IO v5 text frames the load generator reads and
//! writes, parsed by scanning: the receive path never builds a JSON tree.

use std::fmt::Write as _;

/// Engine.IO pong, the answer to a ping (`2`).
pub(crate) const PONG: &str = "3";
/// Socket.IO CONNECT for the main namespace `/`.
pub(crate) const CONNECT_MAIN: &str = "40";

const CHAT_PREFIX: &str = "42[\"chat message\",";

/// What one text frame from the server means to a client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// Engine.IO OPEN (`0{...}`): the client must now connect a namespace.
    Open,
    /// Engine.IO PING (`2`): the client must answer [`PONG`].
    Ping,
    /// Socket.IO CONNECT acknowledgement on `/` (`40{...}`).
    Connected,
    /// Socket.IO CONNECT_ERROR (`44...`) or DISCONNECT (`41`), or Engine.IO CLOSE (`1`).
    Refused(&'a str),
    /// A `chat message` event whose first argument is an object with a numeric
    /// `"t"` (sender clock, µs) and, when present, a numeric `"s"` (sender index).
    Chat {
        /// The sender's timestamp in microseconds of the shared clock.
        t: u64,
        /// The sender's index, when the payload has one.
        s: Option<u64>,
        /// The sender's sequence number (`"n"`), when the payload has one.
        n: Option<u64>,
    },
    /// Anything else: other events, acks, messages without a usable `"t"`.
    Other,
}

/// Classifies one text frame. Never fails: unknown input is [`Frame::Other`].
pub(crate) fn parse(text: &str) -> Frame<'_> {
    if let Some(rest) = text.strip_prefix(CHAT_PREFIX) {
        return match number_after(rest, "\"t\":") {
            Some(t) => Frame::Chat {
                t,
                s: number_after(rest, "\"s\":"),
                n: number_after(rest, "\"n\":"),
            },
            None => Frame::Other,
        };
    }
    match text.as_bytes() {
        [b'2'] => Frame::Ping,
        [b'0', b'{', ..] => Frame::Open,
        [b'4', b'0', b'{', ..] | [b'4', b'0'] => Frame::Connected,
        [b'4', b'1', ..] | [b'4', b'4', ..] | [b'1'] => Frame::Refused(text),
        _ => Frame::Other,
    }
}

/// The unsigned integer right after the first occurrence of `key` in `text`.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let start = text.find(key)? + key.len();
    let digits = &text.as_bytes()[start..];
    let mut value: u64 = 0;
    let mut count = 0;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        count += 1;
    }
    (count > 0).then_some(value)
}

/// Writes the `chat message` event frame `42["chat message",{"t":T,"s":S,"n":N}]`
/// into `out`, replacing its contents.
pub(crate) fn write_chat(out: &mut String, t: u64, s: u64, n: u64) {
    out.clear();
    // Writing into a String cannot fail.
    let _ = write!(out, "{CHAT_PREFIX}{{\"t\":{t},\"s\":{s},\"n\":{n}}}]");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_chat_frames_back() {
        let mut out = String::new();
        write_chat(&mut out, 1_234_567, 42, 9);
        assert_eq!(out, r#"42["chat message",{"t":1234567,"s":42,"n":9}]"#);
        assert_eq!(
            parse(&out),
            Frame::Chat {
                t: 1_234_567,
                s: Some(42),
                n: Some(9)
            }
        );
    }

    #[test]
    fn finds_t_and_s_in_any_key_order_and_spacing() {
        let frame = r#"42["chat message",{"n":1,"s":7,"at":5,"t":99}]"#;
        assert_eq!(
            parse(frame),
            Frame::Chat {
                t: 99,
                s: Some(7),
                n: Some(1)
            }
        );
        assert_eq!(
            parse(r#"42["chat message",{"t":3}]"#),
            Frame::Chat {
                t: 3,
                s: None,
                n: None
            }
        );
    }

    #[test]
    fn chat_without_a_number_t_is_other() {
        assert_eq!(parse(r#"42["chat message","hello"]"#), Frame::Other);
        assert_eq!(parse(r#"42["chat message",{"t":"x"}]"#), Frame::Other);
        assert_eq!(
            parse(r#"42["chat message",{"t":99999999999999999999999}]"#),
            Frame::Other
        );
    }

    #[test]
    fn classifies_engine_io_and_socket_io_control_frames() {
        assert_eq!(parse(r#"0{"sid":"a","pingInterval":25000}"#), Frame::Open);
        assert_eq!(parse("2"), Frame::Ping);
        assert_eq!(parse(r#"40{"sid":"b"}"#), Frame::Connected);
        assert_eq!(parse("41"), Frame::Refused("41"));
        assert_eq!(
            parse(r#"44{"message":"no"}"#),
            Frame::Refused(r#"44{"message":"no"}"#)
        );
        assert_eq!(parse(r#"42["other",1]"#), Frame::Other);
        assert_eq!(parse("3"), Frame::Other);
    }
}
