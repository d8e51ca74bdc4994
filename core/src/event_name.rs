//! Event names that must not cross the cluster, one list per receiver.
//!
//! A Socket.IO client's parser refuses an event packet whose name is one of
//! [`CLIENT_RESERVED_EVENTS`] (it drops the connection with `parse error`), so
//! such a broadcast can never be delivered. A Node server replays a received
//! server-side event on its namespace's event emitter, so a name that the
//! namespace itself uses ([`SERVER_SIDE_RESERVED_EVENTS`]) would fake a
//! connection, a new namespace or an unhandled `error` on every Node peer.

use crate::error::UsageError;
use crate::value::Value;

/// Event names a Socket.IO client refuses to decode (socket.io-parser's list;
/// the emitter of `@socket.io/redis-emitter` refuses the same).
pub const CLIENT_RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Event names refused by `serverSideEmit`: Node's own three (`connect`,
/// `connection`, `new_namespace`), the names a Node namespace's event emitter
/// gives a meaning to, and `error`, which an event emitter without an `error`
/// listener throws (a Node peer would crash).
pub const SERVER_SIDE_RESERVED_EVENTS: [&str; 8] = [
    "connect",
    "connection",
    "new_namespace",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
    "error",
];

/// Checks the event name of a server-side event `[event, ...args]`: it must be
/// a string and not one of [`SERVER_SIDE_RESERVED_EVENTS`].
pub fn check_server_side(data: &[Value]) -> Result<(), UsageError> {
    match data.first() {
        Some(Value::Str(name)) if SERVER_SIDE_RESERVED_EVENTS.contains(&name.as_str()) => {
            Err(UsageError::ReservedEvent(name.clone()))
        }
        Some(Value::Str(_)) => Ok(()),
        _ => Err(UsageError::InvalidArgument(
            "a server-side event starts with its name, a string",
        )),
    }
}

/// Whether a client can decode an event packet with this `data`: a non-empty
/// array whose first element is a number or a string that is not one of
/// [`CLIENT_RESERVED_EVENTS`] (socket.io-parser's rule).
pub fn client_can_decode(data: &[Value]) -> bool {
    match data.first() {
        Some(Value::Str(name)) => !CLIENT_RESERVED_EVENTS.contains(&name.as_str()),
        Some(Value::Int(_) | Value::Float(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_side_names_that_node_peers_would_replay_are_refused() {
        for name in SERVER_SIDE_RESERVED_EVENTS {
            assert_eq!(
                check_server_side(&[Value::from(name)]),
                Err(UsageError::ReservedEvent(name.to_owned()))
            );
        }
        assert_eq!(check_server_side(&[Value::from("stats")]), Ok(()));
        assert!(check_server_side(&[]).is_err());
        assert!(check_server_side(&[Value::Int(1)]).is_err());
    }

    #[test]
    fn packets_a_client_parser_refuses_are_recognised() {
        assert!(client_can_decode(&[Value::from("chat message")]));
        assert!(client_can_decode(&[Value::Int(3), Value::Nil]));
        assert!(!client_can_decode(&[]));
        assert!(!client_can_decode(&[Value::Nil]));
        assert!(!client_can_decode(&[Value::Array(vec![])]));
        for name in CLIENT_RESERVED_EVENTS {
            assert!(!client_can_decode(&[Value::from(name)]), "{name}");
        }
    }
}
