//! What the Admin UI asks a server to do, executed cluster-wide through the adapter as
//! Node's `instrument()` does (Socket.IO v4 forms: a room filter, empty for every socket):
//! - `emit` (nsp, filter, event, ...args): `io.of(nsp).in(filter).emit(event, ...args)`;
//! - `join` / `leave` (nsp, room, filter): `socketsJoin(room)` / `socketsLeave(room)`;
//! - `_disconnect` (nsp, close, filter): `disconnectSockets(close)`.
//!
//! An action on a namespace this server does not serve, with arguments of the wrong type,
//! or that would emit an event name Socket.IO clients reserve, changes nothing and is
//! counted (`crosscast_admin_actions_refused_total`); Node's `instrument()` would throw
//! on some of these.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crosscast_core::Value;
use crosscast_core::event_name::CLIENT_RESERVED_EVENTS;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Data, SocketRef};
use tracing::debug;

use crate::adapter::convert::{Gathered, Spread};

use super::{Admin, NAMESPACES};
use crate::server::cluster::Cluster;

/// A checked action.
#[derive(Debug, PartialEq)]
enum Action {
    Emit {
        nsp: String,
        filter: Option<String>,
        event: String,
        args: Vec<Value>,
    },
    Join {
        nsp: String,
        room: String,
        filter: Option<String>,
    },
    Leave {
        nsp: String,
        room: String,
        filter: Option<String>,
    },
    Disconnect {
        nsp: String,
        close: bool,
        filter: Option<String>,
    },
}

/// The room filter of an action: a non-empty string or number, or nothing.
fn filter(value: Option<&Value>) -> Result<Option<String>, &'static str> {
    match value {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Str(s)) if s.is_empty() => Ok(None),
        Some(v) => name(v)
            .map(Some)
            .ok_or("the room filter is not a room name"),
    }
}

fn name(value: &Value) -> Option<String> {
    match value {
        Value::Str(s) if !s.is_empty() => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        _ => None,
    }
}

fn namespace(value: Option<&Value>) -> Result<String, &'static str> {
    let nsp = value.and_then(Value::as_str).ok_or("no namespace")?;
    if NAMESPACES.contains(&nsp) {
        Ok(nsp.to_owned())
    } else {
        Err("a namespace this server does not serve")
    }
}

/// Reads the UI's `kind` action from its arguments.
fn parse(kind: &str, args: Vec<Value>) -> Result<Action, &'static str> {
    let nsp = namespace(args.first())?;
    match kind {
        "emit" => {
            let filter = filter(args.get(1))?;
            let event = args
                .get(2)
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty())
                .ok_or("no event name")?
                .to_owned();
            if CLIENT_RESERVED_EVENTS.contains(&event.as_str()) {
                return Err("an event name Socket.IO clients reserve");
            }
            Ok(Action::Emit {
                nsp,
                filter,
                event,
                args: args.into_iter().skip(3).collect(),
            })
        }
        "join" | "leave" => {
            let room = args.get(1).and_then(name).ok_or("no room")?;
            let filter = filter(args.get(2))?;
            Ok(if kind == "join" {
                Action::Join { nsp, room, filter }
            } else {
                Action::Leave { nsp, room, filter }
            })
        }
        "_disconnect" => {
            let close = matches!(args.get(1), Some(Value::Bool(true)));
            let filter = filter(args.get(2))?;
            Ok(Action::Disconnect { nsp, close, filter })
        }
        _ => Err("an unknown action"),
    }
}

/// Installs the action handlers on admin socket `socket`.
pub(super) fn register<A: Adapter>(
    socket: &SocketRef<A>,
    io: &SocketIo<A>,
    admin: &Arc<Admin>,
    cluster: &Arc<Cluster>,
) {
    for kind in ["emit", "join", "leave", "_disconnect"] {
        let (io, admin, cluster) = (io.clone(), Arc::clone(admin), Arc::clone(cluster));
        socket.on(
            kind,
            async move |Data(Gathered(args)): Data<Gathered>| match parse(kind, args) {
                Ok(action) => {
                    admin.counters.actions.fetch_add(1, Ordering::Relaxed);
                    run(&io, &admin, &cluster, action).await;
                }
                Err(why) => {
                    admin
                        .counters
                        .actions_refused
                        .fetch_add(1, Ordering::Relaxed);
                    debug!(kind, "admin action refused: {why}");
                }
            },
        );
    }
}

async fn run<A: Adapter>(io: &SocketIo<A>, admin: &Admin, cluster: &Cluster, action: Action) {
    match action {
        Action::Emit {
            nsp,
            filter,
            event,
            args,
        } => {
            let Some(op) = scope(io, &nsp, filter) else {
                return;
            };
            if let Err(e) = op.emit(&event, &Spread(&args)).await {
                debug!(%nsp, %event, "admin emit failed: {e}");
            }
        }
        Action::Join { nsp, room, filter } => rooms(io, admin, nsp, room, filter, true).await,
        Action::Leave { nsp, room, filter } => rooms(io, admin, nsp, room, filter, false).await,
        Action::Disconnect { nsp, close, filter } => {
            let rooms: Vec<String> = filter.iter().cloned().collect();
            match cluster.disconnect_sockets(&nsp, rooms, close).await {
                Some(Ok(())) => {}
                Some(Err(e)) => debug!(%nsp, "admin disconnect failed: {e}"),
                None => {
                    let Some(op) = scope(io, &nsp, filter) else {
                        return;
                    };
                    if let Err(e) = op.disconnect().await {
                        debug!(%nsp, "admin disconnect failed: {e}");
                    }
                }
            }
        }
    }
}

/// The sockets of namespace `nsp` in room `filter`, or all of them; `None` when this
/// server does not serve `nsp`.
fn scope<A: Adapter>(
    io: &SocketIo<A>,
    nsp: &str,
    filter: Option<String>,
) -> Option<socketioxide::operators::BroadcastOperators<A>> {
    let op = io.of(nsp)?;
    Some(match filter {
        Some(room) => op.to(room),
        None => op,
    })
}

/// Makes the sockets of `nsp` in `filter` (every one without) join (or leave) `room`
/// cluster-wide; the UI hears of this server's sockets from here, of the others' from
/// their servers (a Node server tells; a crosscast server does not: see `admin`'s
/// "Not done").
async fn rooms<A: Adapter>(
    io: &SocketIo<A>,
    admin: &Admin,
    nsp: String,
    room: String,
    filter: Option<String>,
    join: bool,
) {
    let Some(op) = scope(io, &nsp, filter) else {
        return;
    };
    let local: Vec<String> = op
        .clone()
        .sockets()
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    let done = if join {
        op.join(room.clone()).await
    } else {
        op.leave(room.clone()).await
    };
    if let Err(e) = done {
        debug!(%nsp, %room, join, "admin room action failed: {e}");
    }
    for id in local {
        admin.room_event(join, &nsp, &room, &id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::from(text)
    }

    #[test]
    fn the_uis_actions_read_as_nodes_instrument_takes_them() {
        assert_eq!(
            parse(
                "emit",
                vec![
                    s("/"),
                    s("lobby"),
                    s("chat message"),
                    s("hi"),
                    Value::from(2_i64)
                ]
            ),
            Ok(Action::Emit {
                nsp: "/".into(),
                filter: Some("lobby".into()),
                event: "chat message".into(),
                args: vec![s("hi"), Value::from(2_i64)],
            })
        );
        assert_eq!(
            parse("join", vec![s("/"), s("room1"), s("")]),
            Ok(Action::Join {
                nsp: "/".into(),
                room: "room1".into(),
                filter: None
            })
        );
        assert_eq!(
            parse(
                "_disconnect",
                vec![s("/"), Value::Bool(false), s("AAAAAAAAAAAAAAAA")]
            ),
            Ok(Action::Disconnect {
                nsp: "/".into(),
                close: false,
                filter: Some("AAAAAAAAAAAAAAAA".into())
            })
        );
    }

    #[test]
    fn a_malformed_action_is_refused() {
        assert!(parse("emit", vec![s("/elsewhere"), Value::Nil, s("x")]).is_err());
        assert!(parse("emit", vec![s("/"), Value::Nil, s("disconnect")]).is_err());
        assert!(parse("emit", vec![s("/"), Value::Nil]).is_err());
        assert!(parse("join", vec![s("/"), Value::Nil]).is_err());
        assert!(parse("leave", vec![s("/"), s("r"), Value::Array(Vec::new())]).is_err());
        assert!(parse("_disconnect", Vec::new()).is_err());
    }
}
