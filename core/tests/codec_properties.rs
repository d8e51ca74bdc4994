//! Property tests of the codec: every value and message the core can produce
//! survives its own wire format, and the decoders answer `Ok` or `Err` (never a
//! panic, never an allocation sized by a length the input only claims) on
//! arbitrary bytes and on mutations of the golden vectors.
#![allow(clippy::unwrap_used)]

mod support;

use crosscast_core::classic::{RawResponse, RequestBody, RequestType, Target};
use crosscast_core::parser_payload::{from_payload, to_payload, value_to_payload};
use crosscast_core::sharded::ShardedBody;
use crosscast_core::{
    ClassicBroadcast, ClassicRequest, ClassicResponse, Limits, ShardedMessage, Value, json, msgpack,
};
use proptest::collection::vec;
use proptest::prelude::*;
use support::strategies::{
    broadcast_opts, classic_response, json_value, packet, payload_value, sharded_body,
    socket_infos, text, value,
};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The request type a response variant answers.
fn expecting(response: &ClassicResponse) -> RequestType {
    match response {
        ClassicResponse::Sockets { .. } => RequestType::Sockets,
        ClassicResponse::AllRooms { .. } => RequestType::AllRooms,
        ClassicResponse::Fetch { .. } => RequestType::RemoteFetch,
        ClassicResponse::ServerSideEmit { .. } => RequestType::ServerSideEmit,
        ClassicResponse::ClientCount { .. } => RequestType::Broadcast,
        ClassicResponse::Ack { .. } => RequestType::BroadcastAck,
        _ => RequestType::RemoteJoin,
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn msgpack_round_trips_every_value(v in value()) {
        let bytes = msgpack::encode(&v);
        prop_assert_eq!(msgpack::decode(&bytes, &Limits::default()), Ok(v));
    }

    #[test]
    fn json_round_trips_every_json_value(v in json_value()) {
        let text = json::to_string(&v);
        prop_assert_eq!(json::decode(text.as_bytes(), &Limits::default()), Ok(v));
    }

    #[test]
    fn parser_payload_round_trips_args_with_binaries(args in vec(payload_value(), 0..4)) {
        let payload = to_payload(&args);
        let back = from_payload(&payload.text, &payload.attachments, &Limits::default());
        prop_assert_eq!(back, Ok(Value::Array(args)));
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn classic_broadcast_round_trips_in_both_layouts(
        uid in text(),
        nsp in text(),
        packet in packet(),
        opts in broadcast_opts(true),
    ) {
        let mut packet = packet;
        packet.nsp = Some(nsp);
        let message = ClassicBroadcast { uid, packet, opts };
        let limits = Limits::default();
        prop_assert_eq!(ClassicBroadcast::decode(&message.encode(), &limits), Ok(message.clone()));
        prop_assert_eq!(
            ClassicBroadcast::decode(&message.encode_as_emitter(), &limits),
            Ok(message)
        );
    }

    #[test]
    fn classic_request_round_trips_every_body(
        uid in proptest::option::of(text()),
        request_id in proptest::option::of(text()),
        body in support::strategies::request_body(),
    ) {
        let request = ClassicRequest { uid, request_id, body };
        let bytes = request.encode();
        prop_assert_eq!(request.format(), crosscast_core::Format::detect(&bytes));
        prop_assert_eq!(ClassicRequest::decode(&bytes, &Limits::default()), Ok(request));
    }

    #[test]
    fn classic_response_round_trips_through_interpret(response in classic_response()) {
        let bytes = response.encode();
        let raw = RawResponse::decode(&bytes, &Limits::default());
        prop_assert!(raw.is_ok(), "{:?}", raw);
        let raw = raw.unwrap();
        prop_assert_eq!(&raw.request_id, response.request_id());
        prop_assert_eq!(raw.interpret(expecting(&response)), response);
    }

    #[test]
    fn sharded_message_round_trips_every_body(uid in text(), nsp in text(), body in sharded_body()) {
        let message = ShardedMessage { uid, nsp, body };
        let bytes = message.encode();
        prop_assert_eq!(message.format(), crosscast_core::Format::detect(&bytes));
        prop_assert_eq!(ShardedMessage::decode(&bytes, &Limits::default()), Ok(message));
    }
}

#[test]
fn a_request_body_of_every_kind_is_generated() {
    // Guards the strategies above: each variant must be reachable.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    let strategy = support::strategies::request_body();
    for _ in 0..150 {
        let body = strategy.new_tree(&mut runner).expect("tree").current();
        let kind = ClassicRequest {
            uid: None,
            request_id: None,
            body,
        }
        .type_number();
        seen.insert(kind.min(8));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        (0..=8).collect::<Vec<_>>()
    );
}

#[test]
fn every_response_variant_and_sharded_body_is_generated() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut responses = std::collections::BTreeSet::new();
    let mut bodies = std::collections::BTreeSet::new();
    let (rs, bs) = (classic_response(), sharded_body());
    for _ in 0..100 {
        let r = rs.new_tree(&mut runner).expect("tree").current();
        responses.insert(
            format!("{:?}", expecting(&r))
                + if matches!(r, ClassicResponse::Done { .. }) {
                    "/done"
                } else {
                    ""
                },
        );
        let b = bs.new_tree(&mut runner).expect("tree").current();
        let with_ack = matches!(b, ShardedBody::BroadcastWithAck { .. });
        let kind = match b.type_number() {
            k @ 1..=13 => k,
            _ => 0,
        };
        bodies.insert((kind, with_ack));
    }
    assert_eq!(responses.len(), 7, "{responses:?}");
    // 1..=13, 3 twice (with and without ack), and unknown kinds (as 0).
    assert_eq!(bodies.len(), 15, "{bodies:?}");
}

#[test]
fn legacy_and_opts_targets_keep_their_form() {
    let limits = Limits::default();
    for target in [
        Target::Socket { sid: "abc".into() },
        Target::Opts(crosscast_core::BroadcastOpts::to_rooms(["r1"])),
    ] {
        let request = ClassicRequest {
            uid: Some("u".into()),
            request_id: Some("id".into()),
            body: RequestBody::Leave {
                target,
                rooms: vec!["room".into()],
            },
        };
        assert_eq!(
            ClassicRequest::decode(&request.encode(), &limits),
            Ok(request)
        );
    }
}

#[test]
fn fetch_answers_with_socket_infos_round_trip_in_sharded_form() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for _ in 0..16 {
        let sockets = socket_infos()
            .new_tree(&mut runner)
            .expect("tree")
            .current();
        let message = ShardedMessage {
            uid: "0123456789abcdef".into(),
            nsp: "/".into(),
            body: ShardedBody::FetchSocketsResponse {
                request_id: "r".into(),
                sockets,
            },
        };
        assert_eq!(
            ShardedMessage::decode(&message.encode(), &Limits::default()),
            Ok(message)
        );
    }
}

#[test]
fn binary_args_round_trip_through_a_single_value_payload() {
    let value = Value::map([
        ("a", Value::Bin(vec![0, 1])),
        ("b", Value::Array(vec![Value::Bin(vec![]), json_example()])),
    ]);
    let payload = value_to_payload(&value);
    assert_eq!(payload.attachments.len(), 2);
    assert_eq!(
        from_payload(&payload.text, &payload.attachments, &Limits::default()),
        Ok(value)
    );
}

fn json_example() -> Value {
    Value::map([("k", Value::Float(0.5)), ("é", Value::Str("ü".into()))])
}

#[test]
fn json_parses_shortest_float_text_to_the_same_float() {
    // Found by json_round_trips_every_json_value: serde_json's default float
    // parser can be one ulp off; JSON.parse is correctly rounded.
    for f in [
        5.686753381054361e-54,
        -9.643961197835417e-244,
        -2.020_129_567_502_308e-286,
        0.1,
        2.2250738585072014e-308,
    ] {
        let text = json::to_string(&Value::Float(f));
        assert_eq!(
            json::decode(text.as_bytes(), &Limits::default()),
            Ok(Value::Float(f)),
            "{text}"
        );
    }
}
