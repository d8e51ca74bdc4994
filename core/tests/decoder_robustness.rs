//! Hostile input: every decoder answers `Ok` or `Err` on arbitrary bytes and on
//! mutated golden vectors, and gives the documented error on truncation,
//! trailing bytes, wrong types, lying lengths, deep nesting and invalid UTF-8.
//!
//! A decoder that reserved memory for a length the input only claims would
//! abort the test process (capacity overflow or allocation failure) on the
//! `lying_lengths` cases; one that recursed without a bound would overflow the
//! stack on the 10 000-deep cases.
#![allow(clippy::unwrap_used)]

mod support;

use crosscast_core::classic::RawResponse;
use crosscast_core::parser_payload::from_payload;
use crosscast_core::{
    ClassicBroadcast, ClassicRequest, DecodeError, Limits, ShardedMessage, json, msgpack,
};
use proptest::collection::vec;
use proptest::prelude::*;
use support::decoders::{REQUEST_TYPES, decode_everywhere};
use support::golden::payloads;
use support::strategies;

fn limits() -> Limits {
    Limits::default()
}

/// The errors of the typed decoders on `bytes` (parser payloads excluded: they
/// take text).
fn typed_errors(bytes: &[u8]) -> Vec<Result<(), DecodeError>> {
    let l = limits();
    vec![
        ClassicBroadcast::decode(bytes, &l).map(drop),
        ClassicRequest::decode(bytes, &l).map(drop),
        RawResponse::decode(bytes, &l).map(drop),
        ShardedMessage::decode(bytes, &l).map(drop),
    ]
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: prop::sample::Index, bit: u8 },
    Set { at: prop::sample::Index, byte: u8 },
    Insert { at: prop::sample::Index, byte: u8 },
    Remove { at: prop::sample::Index },
    Truncate { at: prop::sample::Index },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to the formats are picked more often than chance would.
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(vec![
            0xc0u8, 0xc1, 0xdc, 0xdd, 0xde, 0xdf, 0xd9, 0xdb, 0xc6, 0xc9, 0xd7, 0xff, 0x00, b'{',
            b'[', b'"', b'\\', b':', b',', b'}', b']',
        ]),
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<prop::sample::Index>(), byte.clone())
            .prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (any::<prop::sample::Index>(), byte).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<prop::sample::Index>().prop_map(|at| Mutation::Remove { at }),
        any::<prop::sample::Index>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        if let Mutation::Insert { byte, .. } = mutation {
            bytes.push(*byte);
        }
        return;
    }
    match mutation {
        Mutation::Flip { at, bit } => {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        Mutation::Set { at, byte } => {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
        Mutation::Insert { at, byte } => {
            let i = at.index(bytes.len() + 1);
            bytes.insert(i, *byte);
        }
        Mutation::Remove { at } => {
            let i = at.index(bytes.len());
            bytes.remove(i);
        }
        Mutation::Truncate { at } => bytes.truncate(at.index(bytes.len())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_decode_to_ok_or_err(bytes in vec(any::<u8>(), 0..256)) {
        decode_everywhere(&bytes, &limits());
    }

    #[test]
    fn arbitrary_text_decodes_to_ok_or_err(text in "[\\[\\]{}\":,0-9a-z_\\\\ .eE+-]{0,80}") {
        decode_everywhere(text.as_bytes(), &limits());
    }

    #[test]
    fn mutated_golden_vectors_decode_to_ok_or_err(
        which in any::<prop::sample::Index>(),
        mutations in vec(mutation(), 1..6),
    ) {
        let golden = payloads();
        let (_, payload) = &golden[which.index(golden.len())];
        let mut bytes = payload.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        decode_everywhere(&bytes, &limits());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_encodings_of_generated_messages_decode_to_ok_or_err(
        encoded in prop_oneof![
            strategies::value().prop_map(|v| msgpack::encode(&v)),
            strategies::json_value().prop_map(|v| json::to_string(&v).into_bytes()),
            strategies::request_body().prop_map(|body| {
                ClassicRequest { uid: Some("u".into()), request_id: Some("r".into()), body }.encode()
            }),
            strategies::classic_response().prop_map(|r| r.encode()),
            (strategies::sharded_body(), strategies::text()).prop_map(|(body, nsp)| {
                ShardedMessage { uid: "0123456789abcdef".into(), nsp, body }.encode()
            }),
        ],
        mutations in vec(mutation(), 0..4),
    ) {
        let mut bytes = encoded;
        for m in &mutations {
            apply(&mut bytes, m);
        }
        decode_everywhere(&bytes, &limits());
    }
}

#[test]
fn golden_vectors_decode_and_survive_every_decoder() {
    for (name, payload) in payloads() {
        let outcomes = decode_everywhere(&payload, &limits());
        let msgpack_ok = outcomes[0] == Some(Ok(()));
        let json_ok = outcomes[1] == Some(Ok(()));
        assert!(
            msgpack_ok != json_ok,
            "{name}: exactly one format accepts it"
        );
    }
}

#[test]
fn every_proper_prefix_of_a_golden_vector_is_an_error() {
    for (name, payload) in payloads() {
        let is_msgpack = msgpack::decode(&payload, &limits()).is_ok();
        for end in 0..payload.len() {
            let prefix = &payload[..end];
            let outcomes = decode_everywhere(prefix, &limits());
            // The decoder of the payload's own format, then the typed decoders.
            // (A prefix of JSON text can be valid msgpack: `{` is the fixint 123.)
            let own = if is_msgpack { 0 } else { 1 };
            for i in [own, 2, 3, 4, 5] {
                assert!(
                    matches!(outcomes[i], Some(Err(_))),
                    "{name}: prefix of {end} bytes accepted by decoder {i}"
                );
            }
            if is_msgpack {
                assert!(
                    matches!(
                        msgpack::decode(prefix, &limits()),
                        Err(DecodeError::Truncated { .. })
                    ),
                    "{name}: prefix of {end} bytes"
                );
            }
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    for (name, payload) in payloads() {
        if msgpack::decode(&payload, &limits()).is_ok() {
            let mut longer = payload.clone();
            longer.extend_from_slice(&[0xc0, 0x01]);
            assert_eq!(
                msgpack::decode(&longer, &limits()),
                Err(DecodeError::TrailingBytes { count: 2 }),
                "{name}"
            );
            for outcome in typed_errors(&longer) {
                assert_eq!(
                    outcome,
                    Err(DecodeError::TrailingBytes { count: 2 }),
                    "{name}"
                );
            }
        } else {
            let mut longer = payload.clone();
            longer.extend_from_slice(b"{}");
            assert!(
                matches!(json::decode(&longer, &limits()), Err(DecodeError::Json(_))),
                "{name}"
            );
            // The broadcast decoder reads msgpack only; the others detect JSON.
            let typed = typed_errors(&longer);
            assert!(typed[0].is_err(), "{name}");
            for outcome in &typed[1..] {
                assert!(
                    matches!(outcome, Err(DecodeError::Json(_))),
                    "{name}: {outcome:?}"
                );
            }
            // JSON.parse allows white space around the value, and so does the decoder.
            let mut spaced = payload.clone();
            spaced.extend_from_slice(b" \n\t");
            assert!(json::decode(&spaced, &limits()).is_ok(), "{name}");
        }
    }
}

#[test]
fn well_formed_values_of_the_wrong_shape_are_shape_errors() {
    let cases: &[(&str, &[u8])] = &[
        ("msgpack nil", &[0xc0]),
        ("msgpack int", &[0x05]),
        ("msgpack empty array", &[0x90]),
        ("msgpack empty map", &[0x80]),
        // [uid=1, {}, {}]: uid is not a string.
        ("broadcast with int uid", &[0x93, 0x01, 0x80, 0x80]),
        (
            "JSON map with a string type",
            br#"{"type":"x","uid":"u","nsp":"/","requestId":1}"#,
        ),
        (
            "JSON map with a list uid",
            br#"{"type":1,"uid":[],"nsp":"/","requestId":[]}"#,
        ),
    ];
    for (name, bytes) in cases {
        let typed = typed_errors(bytes);
        // The broadcast decoder reads msgpack only: JSON text is junk to it.
        let skip = usize::from(bytes.first() == Some(&b'{'));
        for outcome in &typed[skip..] {
            assert!(
                matches!(outcome, Err(DecodeError::Shape { .. })),
                "{name}: {outcome:?}"
            );
        }
    }
    // Only `{` marks JSON on these channels: other JSON text reads as msgpack
    // (`[` is the fixint 91) and is refused for its trailing bytes.
    for text in [&b"[1,2,3]"[..], b"\"x\"", b"null"] {
        for outcome in typed_errors(text) {
            assert!(
                matches!(outcome, Err(DecodeError::TrailingBytes { .. })),
                "{outcome:?}"
            );
        }
    }
    // Packet fields of the wrong type inside an otherwise valid envelope.
    let bad_packets: &[&[u8]] = &[
        br#"{"type":3,"data":{"packet":{"type":2,"data":"x"},"opts":{}},"uid":"u","nsp":"/"}"#,
        br#"{"type":3,"data":{"packet":{"type":7,"data":[]},"opts":{}},"uid":"u","nsp":"/"}"#,
        br#"{"type":3,"data":{"packet":{"type":2,"data":[]},"opts":{"rooms":{}}},"uid":"u","nsp":"/"}"#,
        br#"{"type":3,"data":{"packet":{"type":2,"data":[]},"opts":{"rooms":[true]}},"uid":"u","nsp":"/"}"#,
        br#"{"type":4,"data":{"rooms":[]},"uid":"u","nsp":"/"}"#,
    ];
    for bytes in bad_packets {
        assert!(
            matches!(
                ShardedMessage::decode(bytes, &limits()),
                Err(DecodeError::Shape { .. })
            ),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn lying_lengths_are_truncation_errors_without_allocation() {
    let cases: &[&[u8]] = &[
        &[0xdd, 0xff, 0xff, 0xff, 0xff],       // array32 of 4 G elements
        &[0xdf, 0xff, 0xff, 0xff, 0xff],       // map32 of 4 G entries
        &[0xdb, 0xff, 0xff, 0xff, 0xff],       // str32 of 4 GiB
        &[0xc6, 0xff, 0xff, 0xff, 0xff],       // bin32 of 4 GiB
        &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x05], // ext32 of 4 GiB
        &[0xdc, 0xff, 0xff, 0xc0],             // array16 of 65535, one present
        &[0xde, 0xff, 0xff, 0xa1, b'a', 0xc0], // map16 of 65535, one present
        &[0x91, 0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff],
        &[0x93, 0xa1, b'u', 0xdf, 0xff, 0xff, 0xff, 0xff],
    ];
    for bytes in cases {
        assert!(
            matches!(
                msgpack::decode(bytes, &limits()),
                Err(DecodeError::Truncated { .. })
            ),
            "{bytes:02x?}"
        );
        for outcome in typed_errors(bytes) {
            assert!(
                matches!(outcome, Err(DecodeError::Truncated { .. })),
                "{bytes:02x?}: {outcome:?}"
            );
        }
    }
}

fn deep_msgpack_arrays(depth: usize) -> Vec<u8> {
    let mut bytes = vec![0x91; depth];
    bytes.push(0xc0);
    bytes
}

fn deep_msgpack_maps(depth: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(depth * 3 + 1);
    for _ in 0..depth {
        bytes.extend_from_slice(&[0x81, 0xa1, b'a']);
    }
    bytes.push(0xc0);
    bytes
}

fn deep_json_arrays(depth: usize) -> Vec<u8> {
    let mut bytes = vec![b'['; depth];
    bytes.push(b'1');
    bytes.extend(std::iter::repeat_n(b']', depth));
    bytes
}

fn deep_json_maps(depth: usize) -> Vec<u8> {
    let mut bytes = b"{\"a\":".repeat(depth);
    bytes.push(b'1');
    bytes.extend(std::iter::repeat_n(b'}', depth));
    bytes
}

#[test]
fn ten_thousand_levels_of_nesting_are_too_deep_not_a_stack_overflow() {
    let too_deep = Err(DecodeError::TooDeep {
        limit: Limits::DEFAULT_MAX_DEPTH,
    });
    for bytes in [deep_msgpack_arrays(10_000), deep_msgpack_maps(10_000)] {
        assert_eq!(msgpack::decode(&bytes, &limits()).map(drop), too_deep);
        for outcome in typed_errors(&bytes) {
            assert_eq!(outcome, too_deep);
        }
    }
    for bytes in [deep_json_arrays(10_000), deep_json_maps(10_000)] {
        assert_eq!(json::decode(&bytes, &limits()).map(drop), too_deep);
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(from_payload(text, &[[1u8]], &limits()).map(drop), too_deep);
    }
    let typed = typed_errors(&deep_json_maps(10_000));
    // The broadcast decoder reads msgpack only: `{` is a fixint followed by junk.
    assert!(matches!(typed[0], Err(DecodeError::TrailingBytes { .. })));
    for outcome in &typed[1..] {
        assert_eq!(*outcome, too_deep);
    }
    // Inside a real envelope: a sharded broadcast whose argument is 10 000 deep.
    let mut envelope = br#"{"type":3,"data":{"packet":{"type":2,"data":["e","#.to_vec();
    envelope.extend(deep_json_arrays(10_000));
    envelope.extend_from_slice(br#"]},"opts":{}},"uid":"u","nsp":"/"}"#);
    assert_eq!(
        ShardedMessage::decode(&envelope, &limits()).map(drop),
        too_deep
    );
}

#[test]
fn the_depth_limit_counts_containers_the_same_way_in_both_formats() {
    let depth = Limits::DEFAULT_MAX_DEPTH;
    assert!(msgpack::decode(&deep_msgpack_arrays(depth), &limits()).is_ok());
    assert!(msgpack::decode(&deep_msgpack_maps(depth), &limits()).is_ok());
    assert!(json::decode(&deep_json_arrays(depth), &limits()).is_ok());
    assert!(json::decode(&deep_json_maps(depth), &limits()).is_ok());
    let too_deep = Err(DecodeError::TooDeep { limit: depth });
    assert_eq!(
        msgpack::decode(&deep_msgpack_arrays(depth + 1), &limits()).map(drop),
        too_deep
    );
    assert_eq!(
        msgpack::decode(&deep_msgpack_maps(depth + 1), &limits()).map(drop),
        too_deep
    );
    assert_eq!(
        json::decode(&deep_json_arrays(depth + 1), &limits()).map(drop),
        too_deep
    );
    assert_eq!(
        json::decode(&deep_json_maps(depth + 1), &limits()).map(drop),
        too_deep
    );
    // An empty innermost container counts as a level too.
    let empty_json = |d: usize| [vec![b'['; d], vec![b']'; d]].concat();
    let empty_msgpack = |d: usize| [vec![0x91; d - 1], vec![0x90]].concat();
    assert!(json::decode(&empty_json(depth), &limits()).is_ok());
    assert!(msgpack::decode(&empty_msgpack(depth), &limits()).is_ok());
    assert_eq!(
        json::decode(&empty_json(depth + 1), &limits()).map(drop),
        too_deep
    );
    assert_eq!(
        msgpack::decode(&empty_msgpack(depth + 1), &limits()).map(drop),
        too_deep
    );
}

#[test]
fn invalid_utf8_is_refused_in_strings_and_keys() {
    let strings: &[&[u8]] = &[
        &[0xa2, 0xff, 0xfe],       // fixstr
        &[0xd9, 0x02, 0xc3, 0x28], // str8, bad continuation
        &[0x81, 0xa1, 0xff, 0xc0], // map key
    ];
    for bytes in strings {
        assert!(
            matches!(
                msgpack::decode(bytes, &limits()),
                Err(DecodeError::InvalidUtf8 { .. })
            ),
            "{bytes:02x?}"
        );
    }
    // A UTF-16 surrogate half (ed a0 80) as the uid of a broadcast.
    let broadcast = [0x93, 0xa3, 0xed, 0xa0, 0x80, 0x80, 0x80];
    assert_eq!(
        ClassicBroadcast::decode(&broadcast, &limits()),
        Err(DecodeError::InvalidUtf8 { offset: 2 })
    );
    for text in [
        &b"\"\xff\""[..],
        b"{\"\xc3\x28\":1}",
        b"[\"a\xed\xa0\x80\"]",
    ] {
        assert!(
            matches!(json::decode(text, &limits()), Err(DecodeError::Json(_))),
            "{text:?}"
        );
    }
    let in_envelope = b"{\"type\":2,\"uid\":\"\xc3\x28\",\"nsp\":\"/\",\"requestId\":\"r\"}";
    for outcome in &typed_errors(in_envelope)[1..] {
        assert!(matches!(outcome, Err(DecodeError::Json(_))), "{outcome:?}");
    }
}

#[test]
fn messages_over_the_size_limit_are_refused_before_parsing() {
    let small = Limits {
        max_message_bytes: 16,
        ..Limits::default()
    };
    for (name, payload) in payloads().into_iter().filter(|(_, p)| p.len() > 16) {
        let too_large = Err(DecodeError::TooLarge {
            size: payload.len(),
            limit: 16,
        });
        assert_eq!(
            msgpack::decode(&payload, &small).map(drop),
            too_large,
            "{name}"
        );
        assert_eq!(
            json::decode(&payload, &small).map(drop),
            too_large,
            "{name}"
        );
        assert_eq!(
            ShardedMessage::decode(&payload, &small).map(drop),
            too_large,
            "{name}"
        );
        assert_eq!(
            RawResponse::decode(&payload, &small).map(drop),
            too_large,
            "{name}"
        );
    }
}

#[test]
fn a_response_interprets_for_every_request_type_without_panicking() {
    // A response whose fields all have the wrong types still interprets (Node
    // reads what it can) and keeps its request id.
    let raw = RawResponse::decode(
        br#"{"requestId":"r","type":"x","sockets":7,"rooms":{},"data":null,"clientCount":-1,"packet":[]}"#,
        &limits(),
    )
    .unwrap();
    for expecting in REQUEST_TYPES {
        assert_eq!(raw.clone().interpret(expecting).request_id(), "r");
    }
}

#[test]
fn a_type_above_two_to_the_53_is_printed_as_javascript_prints_it() {
    // Found by the sharded_message fuzz target: the type of an unknown message is
    // kept exactly on decode but written as a JavaScript number (rounded), so it
    // changes once and then stays fixed.
    let input = br#"{"uid":"u","nsp":"/","type":11111111211111111111,"data":{"x":1}}"#;
    let message = ShardedMessage::decode(input, &limits()).unwrap();
    assert_eq!(message.body.type_number(), 11_111_111_211_111_111_111);
    let encoded = message.encode();
    assert_eq!(
        String::from_utf8(encoded.clone()).unwrap(),
        r#"{"type":11111111211111110000,"uid":"u","nsp":"/"}"#
    );
    let again = ShardedMessage::decode(&encoded, &limits()).unwrap();
    assert_eq!(again.body.type_number(), 11_111_111_211_111_110_000);
    assert_eq!(again.encode(), encoded);
    decode_everywhere(input, &limits());
}
