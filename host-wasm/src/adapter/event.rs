//! The node's outputs as plain JavaScript objects, each with a `type` string.
//!
//! | `type` | fields |
//! |---|---|
//! | `subscribe`, `unsubscribe` | `kind` (`channel`, `pattern`, `sharded`), `channel` |
//! | `broadcast` | `packet` (`{type: 2, data, nsp?}`), `opts` |
//! | `broadcastWithAck` | `ack`, `packet`, `opts`, `timeoutMs` |
//! | `socketsJoin`, `socketsLeave` | `opts`, `rooms` |
//! | `disconnectSockets` | `opts`, `close` |
//! | `serverSideEmit` | `data` (`[event, ...args]`), `ack` (a number, or `undefined`) |
//! | `serverCount` (question) | `id`, `channel`, `sharded` |
//! | `localSockets` (question) | `id`, `opts` |
//! | `localRooms` (question) | `id` |
//! | `ackReceived` | `request`, `value` |
//! | `completed` | `request`, `outcome`, `missing`, `timedOut`, and by outcome: `sockets`, `rooms`, `values`, `clients` + `acks`, `count` |
//! | `peerUp`, `peerDown` | `uid` (and `closed` for `peerDown`) |
//!
//! `outcome` is one of `fetch`, `allRooms`, `serverSideEmit`, `broadcastAck`,
//! `serverCount`, `cancelled`. `opts` is as [`crate::convert::opts_to_js`]
//! writes it. Ids are numbers.

use crosscast_core::node::{
    Completion, Event, Outcome, PublishKind, Question, ServerCountCommand, Subscription, Transmit,
};
use crosscast_core::{Packet, Value};
use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::convert::{opts_to_js, rooms_to_js, set, socket_info_to_js, to_js};

/// `{kind: "publish" | "spublish", channel, payload: Uint8Array}`.
pub(crate) fn transmit_to_js(t: &Transmit) -> JsValue {
    let object = Object::new();
    // The core names only these two; another kind would be a newer core than this binding.
    let kind = match t.kind {
        PublishKind::SPublish => "spublish",
        _ => "publish",
    };
    set(&object, "kind", &kind.into());
    set(&object, "channel", &t.channel.as_str().into());
    set(
        &object,
        "payload",
        &Uint8Array::from(t.payload.as_slice()).into(),
    );
    object.into()
}

/// The event as a plain object; `undefined` for an event kind this version
/// does not know (the core's enum is non-exhaustive).
pub(crate) fn event_to_js(event: &Event) -> JsValue {
    let object = Object::new();
    let kind = match event {
        Event::Subscribe(sub) => subscription(&object, "subscribe", sub),
        Event::Unsubscribe(sub) => subscription(&object, "unsubscribe", sub),
        Event::Broadcast { packet, opts } => {
            set(&object, "packet", &packet_to_js(packet));
            set(&object, "opts", &opts_to_js(opts));
            "broadcast"
        }
        Event::BroadcastWithAck {
            ack,
            packet,
            opts,
            timeout_ms,
        } => {
            set(&object, "ack", &id(ack.to_raw()));
            set(&object, "packet", &packet_to_js(packet));
            set(&object, "opts", &opts_to_js(opts));
            set(&object, "timeoutMs", &id(*timeout_ms));
            "broadcastWithAck"
        }
        Event::SocketsJoin { opts, rooms } => {
            set(&object, "opts", &opts_to_js(opts));
            set(&object, "rooms", &rooms_to_js(rooms));
            "socketsJoin"
        }
        Event::SocketsLeave { opts, rooms } => {
            set(&object, "opts", &opts_to_js(opts));
            set(&object, "rooms", &rooms_to_js(rooms));
            "socketsLeave"
        }
        Event::DisconnectSockets { opts, close } => {
            set(&object, "opts", &opts_to_js(opts));
            set(&object, "close", &JsValue::from_bool(*close));
            "disconnectSockets"
        }
        Event::ServerSideEmit { data, ack } => {
            set(&object, "data", &values_to_js(data));
            set(
                &object,
                "ack",
                &ack.map(|a| id(a.to_raw())).unwrap_or(JsValue::UNDEFINED),
            );
            "serverSideEmit"
        }
        Event::Question(question) => match question {
            Question::ServerCount {
                id: q,
                channel,
                command,
            } => {
                // The JS layer runs PUBSUB SHARDNUMSUB when `sharded`, else PUBSUB NUMSUB.
                let sharded = matches!(command, ServerCountCommand::ShardNumSub);
                set(&object, "id", &id(q.to_raw()));
                set(&object, "channel", &channel.as_str().into());
                set(&object, "sharded", &JsValue::from_bool(sharded));
                "serverCount"
            }
            Question::LocalSockets { id: q, opts } => {
                set(&object, "id", &id(q.to_raw()));
                set(&object, "opts", &opts_to_js(opts));
                "localSockets"
            }
            Question::LocalRooms { id: q } => {
                set(&object, "id", &id(q.to_raw()));
                "localRooms"
            }
            _ => return JsValue::UNDEFINED,
        },
        Event::AckReceived { request, value } => {
            set(&object, "request", &id(request.to_raw()));
            set(&object, "value", &to_js(value));
            "ackReceived"
        }
        Event::Completed(completion) => {
            completed(&object, completion);
            "completed"
        }
        Event::PeerUp { uid } => {
            set(&object, "uid", &uid.as_str().into());
            "peerUp"
        }
        Event::PeerDown { uid, closed } => {
            set(&object, "uid", &uid.as_str().into());
            set(&object, "closed", &JsValue::from_bool(*closed));
            "peerDown"
        }
        _ => return JsValue::UNDEFINED,
    };
    set(&object, "type", &kind.into());
    object.into()
}

fn subscription(object: &Object, kind: &'static str, sub: &Subscription) -> &'static str {
    let (which, channel) = match sub {
        Subscription::Channel(c) => ("channel", c.as_str()),
        Subscription::Pattern(p) => ("pattern", p.as_str()),
        Subscription::Sharded(c) => ("sharded", c.as_str()),
        // A kind newer than this binding: the JS host ignores it.
        _ => ("unknown", ""),
    };
    set(object, "kind", &which.into());
    set(object, "channel", &channel.into());
    kind
}

fn completed(object: &Object, c: &Completion) {
    set(object, "request", &id(c.request.to_raw()));
    set(object, "missing", &id(c.missing));
    set(object, "timedOut", &JsValue::from_bool(c.timed_out));
    set(object, "serversExpected", &id(c.servers_expected));
    set(object, "serversAnswered", &id(c.servers_answered));
    if let Some(error) = &c.error {
        set(object, "error", &error.as_str().into());
    }
    let outcome = match &c.outcome {
        Outcome::Fetch(sockets) => {
            let list: Array = sockets.iter().map(socket_info_to_js).collect();
            set(object, "sockets", &list);
            "fetch"
        }
        Outcome::AllRooms(rooms) => {
            set(object, "rooms", &rooms_to_js(rooms));
            "allRooms"
        }
        Outcome::ServerSideEmit(values) => {
            set(object, "values", &values_to_js(values));
            "serverSideEmit"
        }
        Outcome::BroadcastAck {
            client_counts,
            clients,
            acks,
        } => {
            let counts: Array = client_counts.iter().map(|n| id(*n)).collect();
            set(object, "clientCounts", &counts);
            set(object, "clients", &id(*clients));
            set(object, "acks", &id(*acks));
            "broadcastAck"
        }
        Outcome::ServerCount(n) => {
            set(object, "count", &id(*n));
            "serverCount"
        }
        Outcome::Cancelled => "cancelled",
        _ => "unknown",
    };
    set(object, "outcome", &outcome.into());
}

/// A Socket.IO event packet: `{type: 2, data, nsp?}`.
fn packet_to_js(packet: &Packet) -> JsValue {
    let object = Object::new();
    set(&object, "type", &JsValue::from_f64(2.0));
    set(&object, "data", &values_to_js(&packet.data));
    if let Some(nsp) = &packet.nsp {
        set(&object, "nsp", &nsp.as_str().into());
    }
    object.into()
}

fn values_to_js(values: &[Value]) -> JsValue {
    values.iter().map(to_js).collect::<Array>().into()
}

/// An id or count as a JavaScript number (ids are counters, far below 2^53).
pub(crate) fn id(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}
