//! The messages a node produces match the golden vectors of the real Node
//! packages byte for byte. Request ids are this node's own (Node draws random
//! ones), so a golden request is compared after putting the node's id in it.

use crosscast_core::channel::SubscriptionMode;
use crosscast_core::classic::{RawResponse, RequestBody, RequestType, Target};
use crosscast_core::node::{Event, NodeConfig, Protocol, Question, Time, Transmit};
use crosscast_core::{
    ClassicBroadcast, ClassicRequest, ClassicResponse, Limits, Node, ShardedBody, ShardedMessage,
    Value, decode_detected, msgpack,
};
use crosscast_tests::vectors::{self, Vector, to_hex};

const T0: Time = Time::from_millis(0);

fn node(uid: &str, nsp: &str, protocol: Protocol) -> Node {
    let mut config = NodeConfig::new(uid, nsp, protocol);
    config.heartbeat_interval_ms = 0; // no membership traffic: only the operation's messages
    let mut node = Node::new(config, T0).expect("config");
    while node.poll_event().is_some() {}
    node
}

fn classic(key: &str, specific: bool) -> Protocol {
    Protocol::Classic {
        key: key.to_owned(),
        publish_on_specific_response_channel: specific,
    }
}

fn sharded(prefix: &str, mode: SubscriptionMode) -> Protocol {
    Protocol::Sharded {
        channel_prefix: prefix.to_owned(),
        subscription_mode: mode,
    }
}

fn only_transmit(node: &mut Node) -> Transmit {
    let t = node.poll_transmit().expect("one message published");
    assert!(node.poll_transmit().is_none(), "exactly one message");
    t
}

/// The golden payload with its request id replaced by `ours`, re-encoded in
/// the vector's own format.
fn with_request_id(v: &Vector, ours: &str) -> Vec<u8> {
    let limits = Limits::default();
    let mut value = decode_detected(&v.payload, &limits).expect("golden decodes");
    fn replace(value: &mut Value, ours: &str) {
        if let Value::Map(entries) = value {
            for (k, v) in entries.iter_mut() {
                if k == "requestId" {
                    *v = Value::from(ours);
                } else {
                    replace(v, ours);
                }
            }
        }
    }
    replace(&mut value, ours);
    if v.format == "json" {
        value.to_string().into_bytes()
    } else {
        msgpack::encode(&value)
    }
}

fn assert_same(v: &Vector, got: &Transmit, want: &[u8]) {
    assert_eq!(got.channel, v.channel, "{}: channel", v.what);
    assert_eq!(
        to_hex(&got.payload),
        to_hex(want),
        "{}\n ours: {}\n node: {}",
        v.what,
        String::from_utf8_lossy(&got.payload),
        String::from_utf8_lossy(want)
    );
}

fn wire_id(t: &Transmit) -> String {
    let value = decode_detected(&t.payload, &Limits::default()).expect("our own message decodes");
    let id = value
        .get("requestId")
        .or_else(|| value.get("data").and_then(|d| d.get("requestId")));
    id.and_then(Value::as_str).expect("a request id").to_owned()
}

#[test]
fn classic_node_operations_match_the_golden_vectors() {
    let limits = Limits::default();
    let mut checked = 0;
    for v in vectors::load("golden-classic.json") {
        let key = if v.channel.starts_with("myapp") {
            "myapp"
        } else {
            "socket.io"
        };
        if v.channel.contains("-response#") {
            continue; // answers: see the next test
        }
        if v.channel.contains("-request#") {
            let req = ClassicRequest::decode(&v.payload, &limits).expect("golden request");
            let uid = req.uid.clone().expect("Node requests carry a uid");
            let mut n = node(&uid, "/", classic(key, false));
            match req.body {
                RequestBody::Broadcast { packet, mut opts } => {
                    let timeout = opts.flags.timeout.take().expect("timeout flag");
                    n.broadcast_with_ack(T0, packet, &opts, timeout)
                        .expect("golden packets are carried");
                }
                RequestBody::Fetch { opts } => {
                    n.fetch_sockets(T0, &opts);
                }
                RequestBody::AllRooms => {
                    n.rooms(T0, &crosscast_core::BroadcastOpts::all());
                }
                RequestBody::Join {
                    target: Target::Opts(opts),
                    rooms,
                } => n.sockets_join(&opts, rooms),
                RequestBody::Leave {
                    target: Target::Opts(opts),
                    rooms,
                } => n.sockets_leave(&opts, rooms),
                RequestBody::Disconnect {
                    target: Target::Opts(opts),
                    close,
                } => n.disconnect_sockets(&opts, close),
                RequestBody::ServerSideEmit { data } if req.request_id.is_some() => {
                    n.server_side_emit_with_ack(T0, data)
                        .expect("golden event names are plain");
                }
                RequestBody::ServerSideEmit { data } => n
                    .server_side_emit(data)
                    .expect("golden event names are plain"),
                other => panic!("{}: unexpected {other:?}", v.what),
            }
            let t = only_transmit(&mut n);
            let want = if req.request_id.is_some() {
                with_request_id(&v, &wire_id(&t))
            } else {
                v.payload.clone()
            };
            assert_same(&v, &t, &want);
        } else {
            let b = ClassicBroadcast::decode(&v.payload, &limits).expect("golden broadcast");
            let nsp = b.packet.nsp.clone().expect("nsp");
            let mut n = node(&b.uid, &nsp, classic(key, false));
            n.broadcast(b.packet, &b.opts)
                .expect("golden packets are carried");
            assert_same(&v, &only_transmit(&mut n), &v.payload);
        }
        checked += 1;
    }
    assert_eq!(checked, 18);
}

/// Feeds a request to a node and answers its question as the golden answer did.
#[test]
fn classic_node_answers_match_the_golden_vectors() {
    let limits = Limits::default();
    let mut checked = 0;
    for v in vectors::load("golden-classic.json")
        .into_iter()
        .filter(|v| v.channel.contains("-response#"))
    {
        let raw = RawResponse::decode(&v.payload, &limits).expect("golden response");
        let specific = v.channel.contains("#ZZZZZZ#");
        let key = if specific { "myapp" } else { "socket.io" };
        let mut n = node("AAAAAA", "/", classic(key, specific));
        let request_id = raw.request_id.clone();
        let request = |body: RequestBody| {
            ClassicRequest {
                uid: Some("ZZZZZZ".into()),
                request_id: Some(request_id.clone()),
                body,
            }
            .encode()
        };
        let request_channel = format!("{key}-request#/#");
        let value = decode_detected(&v.payload, &limits).expect("decodes");
        let has = |k: &str| value.get(k).is_some();
        match raw.type_number() {
            Some(6) => {
                n.handle_message(
                    T0,
                    &request_channel,
                    &request(RequestBody::ServerSideEmit {
                        data: vec![Value::from("srv")],
                    }),
                );
                let Some(Event::ServerSideEmit { ack: Some(ack), .. }) = n.poll_event() else {
                    panic!("{}", v.what)
                };
                n.handle_server_side_ack(T0, ack, value.get("data").cloned())
                    .expect("ack");
            }
            Some(8 | 9) => {
                let b = request(RequestBody::Broadcast {
                    packet: crosscast_core::Packet::event("ask", []),
                    opts: Default::default(),
                });
                n.handle_message(T0, &request_channel, &b);
                let Some(Event::BroadcastWithAck { ack, .. }) = n.poll_event() else {
                    panic!("{}", v.what)
                };
                if raw.type_number() == Some(8) {
                    let count = value
                        .get("clientCount")
                        .and_then(Value::as_u64)
                        .expect("count");
                    n.handle_remote_client_count(T0, ack, count).expect("count");
                } else {
                    n.handle_remote_ack(T0, ack, value.get("packet").cloned().expect("packet"))
                        .expect("ack");
                }
            }
            _ if has("rooms") => {
                n.handle_message(T0, &request_channel, &request(RequestBody::AllRooms));
                let Some(Event::Question(Question::LocalRooms { id })) = n.poll_event() else {
                    panic!()
                };
                let ClassicResponse::AllRooms { rooms, .. } = raw.interpret(RequestType::AllRooms)
                else {
                    panic!()
                };
                n.answer_local_rooms(T0, id, rooms).expect("answer");
            }
            _ if has("sockets") => {
                let legacy = value
                    .get("sockets")
                    .and_then(Value::as_array)
                    .is_some_and(|s| s.iter().all(|x| x.as_str().is_some()));
                let body = if legacy {
                    RequestBody::Sockets { rooms: vec![] }
                } else {
                    RequestBody::Fetch {
                        opts: Default::default(),
                    }
                };
                n.handle_message(T0, &request_channel, &request(body));
                let Some(Event::Question(Question::LocalSockets { id, .. })) = n.poll_event()
                else {
                    panic!()
                };
                let ClassicResponse::Fetch { sockets, .. } =
                    raw.interpret(RequestType::RemoteFetch)
                else {
                    panic!()
                };
                let sockets = if legacy {
                    sockets_from_ids(&value)
                } else {
                    sockets
                };
                n.answer_local_sockets(T0, id, sockets).expect("answer");
            }
            _ => {
                // Legacy sid-form leave: the owner of the socket acts and replies {requestId}.
                let body = RequestBody::Leave {
                    target: Target::Socket {
                        sid: "SOCKETID000000000001".into(),
                    },
                    rooms: vec!["room1".into()],
                };
                n.handle_message(T0, &request_channel, &request(body));
                let Some(Event::Question(Question::LocalSockets { id, .. })) = n.poll_event()
                else {
                    panic!()
                };
                n.answer_local_sockets(
                    T0,
                    id,
                    sockets_from_ids(&Value::map([(
                        "sockets",
                        Value::Array(vec![Value::from("SOCKETID000000000001")]),
                    )])),
                )
                .expect("answer");
                assert!(matches!(n.poll_event(), Some(Event::SocketsLeave { .. })));
            }
        }
        assert_same(&v, &only_transmit(&mut n), &v.payload);
        checked += 1;
    }
    assert_eq!(checked, 8);
}

fn sockets_from_ids(value: &Value) -> Vec<crosscast_core::SocketInfo> {
    value
        .get("sockets")
        .and_then(Value::as_array)
        .unwrap_or_default()
        .iter()
        .map(|id| crosscast_core::SocketInfo {
            id: id.as_str().expect("id").to_owned(),
            handshake: None,
            rooms: vec![],
            data: None,
        })
        .collect()
}

#[test]
fn sharded_node_operations_and_answers_match_the_golden_vectors() {
    let limits = Limits::default();
    let mut checked = 0;
    for v in vectors::load("golden-sharded.json") {
        let msg = ShardedMessage::decode(&v.payload, &limits).expect("golden message");
        let (prefix, mode) = if v.what.contains("dynamic-private") {
            ("pfx", SubscriptionMode::DynamicPrivate)
        } else if v.what.contains("static") {
            ("pfx", SubscriptionMode::Static)
        } else {
            ("socket.io", SubscriptionMode::Dynamic)
        };
        let mut n = node(&msg.uid, &msg.nsp, sharded(prefix, mode));
        let main = format!("{prefix}#/#");
        let from_requester = |body: ShardedBody| {
            ShardedMessage {
                uid: "fedcba9876543210".into(),
                nsp: "/".into(),
                body,
            }
            .encode()
        };
        let mut request_id = None;
        match msg.body {
            ShardedBody::Broadcast { packet, opts } => n
                .broadcast(packet, &opts)
                .expect("golden packets are carried"),
            ShardedBody::BroadcastWithAck {
                packet, mut opts, ..
            } => {
                let timeout = opts.flags.timeout.take().expect("timeout");
                n.broadcast_with_ack(T0, packet, &opts, timeout)
                    .expect("golden packets are carried");
                request_id = Some(());
            }
            ShardedBody::FetchSockets { opts, .. } => {
                n.fetch_sockets(T0, &opts);
                request_id = Some(());
            }
            ShardedBody::SocketsJoin { opts, rooms } => n.sockets_join(&opts, rooms),
            ShardedBody::SocketsLeave { opts, rooms } => n.sockets_leave(&opts, rooms),
            ShardedBody::DisconnectSockets { opts, close } => n.disconnect_sockets(&opts, close),
            ShardedBody::ServerSideEmit {
                request_id: None,
                packet,
            } => n
                .server_side_emit(packet)
                .expect("golden event names are plain"),
            ShardedBody::ServerSideEmit {
                request_id: Some(_),
                packet,
            } => {
                n.server_side_emit_with_ack(T0, packet)
                    .expect("golden event names are plain");
                request_id = Some(());
            }
            ShardedBody::FetchSocketsResponse {
                request_id,
                sockets,
            } => {
                n.handle_message(
                    T0,
                    &main,
                    &from_requester(ShardedBody::FetchSockets {
                        opts: Default::default(),
                        request_id,
                    }),
                );
                let Some(Event::Question(Question::LocalSockets { id, .. })) = n.poll_event()
                else {
                    panic!()
                };
                n.answer_local_sockets(T0, id, sockets).expect("answer");
            }
            ShardedBody::ServerSideEmitResponse { request_id, packet } => {
                n.handle_message(
                    T0,
                    &main,
                    &from_requester(ShardedBody::ServerSideEmit {
                        request_id: Some(request_id),
                        packet: vec![Value::from("srv")],
                    }),
                );
                let Some(Event::ServerSideEmit { ack: Some(ack), .. }) = n.poll_event() else {
                    panic!()
                };
                n.handle_server_side_ack(T0, ack, Some(packet))
                    .expect("ack");
            }
            ShardedBody::BroadcastClientCount {
                request_id,
                client_count,
            } => {
                n.handle_message(
                    T0,
                    &main,
                    &from_requester(ShardedBody::BroadcastWithAck {
                        request_id,
                        packet: crosscast_core::Packet::event("ask", []),
                        opts: Default::default(),
                    }),
                );
                let Some(Event::BroadcastWithAck { ack, .. }) = n.poll_event() else {
                    panic!()
                };
                n.handle_remote_client_count(T0, ack, client_count)
                    .expect("count");
            }
            ShardedBody::BroadcastAck { request_id, packet } => {
                n.handle_message(
                    T0,
                    &main,
                    &from_requester(ShardedBody::BroadcastWithAck {
                        request_id,
                        packet: crosscast_core::Packet::event("ask", []),
                        opts: Default::default(),
                    }),
                );
                let Some(Event::BroadcastWithAck { ack, .. }) = n.poll_event() else {
                    panic!()
                };
                n.handle_remote_ack(T0, ack, packet).expect("ack");
            }
            other => panic!("{}: {other:?}", v.what),
        }
        let t = only_transmit(&mut n);
        let want = match request_id {
            Some(()) => with_request_id(&v, &wire_id(&t)),
            None => v.payload.clone(),
        };
        assert_same(&v, &t, &want);
        checked += 1;
    }
    assert_eq!(checked, 23);
}
