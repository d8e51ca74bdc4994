//! Every vector made by the real Node packages: golden ones encode
//! byte-identically, and every golden and captured one decodes to its
//! documented form and into a typed message.

use crosscast_core::classic::{RawResponse, RequestType};
use crosscast_core::{
    ClassicBroadcast, ClassicRequest, ClassicResponse, Limits, ShardedMessage, decode_detected,
    msgpack,
};
use crosscast_tests::vectors::{self, CAPTURED, GOLDEN, Vector, documented, same, to_hex};

/// How a vector's channel says it must be read.
#[derive(Debug, PartialEq)]
enum Kind {
    ClassicBroadcast,
    ClassicRequest,
    ClassicResponse,
    Sharded,
}

fn kind(v: &Vector) -> Kind {
    if v.command == "SPUBLISH" {
        Kind::Sharded
    } else if v.channel.contains("-request#") {
        Kind::ClassicRequest
    } else if v.channel.contains("-response#") {
        Kind::ClassicResponse
    } else if v.payload.first() == Some(&b'{')
        || v.payload.first().is_some_and(|b| b & 0xf0 == 0x80)
    {
        // A map on a `P#N#` channel: a sharded message sent with plain PUBLISH
        // (the sharded golden file records PUBLISH for SPUBLISH).
        Kind::Sharded
    } else {
        Kind::ClassicBroadcast
    }
}

/// The request type a requester would have stored for this response.
fn expected_request(response: &RawResponse, decoded: &serde_json::Value) -> RequestType {
    match response.type_number() {
        Some(6) => RequestType::ServerSideEmit,
        Some(8 | 9) => RequestType::Broadcast,
        _ => match (decoded.get("sockets"), decoded.get("rooms")) {
            (Some(s), _)
                if s.as_array()
                    .is_some_and(|a| a.iter().all(|x| x.is_string()))
                    && !s.as_array().is_some_and(|a| a.is_empty()) =>
            {
                RequestType::Sockets
            }
            (Some(_), _) => RequestType::RemoteFetch,
            (_, Some(_)) => RequestType::AllRooms,
            _ => RequestType::RemoteLeave,
        },
    }
}

/// Decodes into the typed message and encodes it again.
fn typed_roundtrip(v: &Vector) -> Vec<u8> {
    let limits = Limits::default();
    let context = format!("{}: {}", v.file, v.what);
    match kind(v) {
        Kind::ClassicBroadcast => {
            let m = ClassicBroadcast::decode(&v.payload, &limits)
                .unwrap_or_else(|e| panic!("{context}: {e}"));
            if m.uid == "emitter" {
                m.encode_as_emitter()
            } else {
                m.encode()
            }
        }
        Kind::ClassicRequest => ClassicRequest::decode(&v.payload, &limits)
            .unwrap_or_else(|e| panic!("{context}: {e}"))
            .encode(),
        Kind::ClassicResponse => {
            let raw = RawResponse::decode(&v.payload, &limits)
                .unwrap_or_else(|e| panic!("{context}: {e}"));
            let decoded = v.decoded.clone().unwrap_or_default();
            let expecting = expected_request(&raw, &decoded);
            let response: ClassicResponse = raw.interpret(expecting);
            response.encode()
        }
        Kind::Sharded => ShardedMessage::decode(&v.payload, &limits)
            .unwrap_or_else(|e| panic!("{context}: {e}"))
            .encode(),
    }
}

#[test]
fn every_golden_vector_encodes_byte_identically() {
    let mut checked = 0;
    for file in GOLDEN {
        for v in vectors::load(file) {
            let again = typed_roundtrip(&v);
            assert_eq!(
                to_hex(&again),
                to_hex(&v.payload),
                "{file}: {} ({:?})\n ours: {}\n node: {}",
                v.what,
                kind(&v),
                String::from_utf8_lossy(&again),
                String::from_utf8_lossy(&v.payload),
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 26 + 23 + 8, "every golden vector was checked");
}

#[test]
fn every_vector_decodes_to_its_documented_form() {
    let limits = Limits::default();
    let mut checked = 0;
    for file in GOLDEN.into_iter().chain(CAPTURED) {
        for v in vectors::load(file) {
            let Some(want) = &v.decoded else { continue };
            let got = match kind(&v) {
                Kind::ClassicBroadcast => msgpack::decode(&v.payload, &limits),
                _ => decode_detected(&v.payload, &limits),
            }
            .unwrap_or_else(|e| panic!("{file}: {}: {e}", v.what));
            assert!(
                same(&documented(&got), want),
                "{file}: {}\n ours: {}\n node: {want}",
                v.what,
                documented(&got)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 243, "vectors with a decoded form");
}

/// Captured inputs that Node itself cannot use, with the reason our decoder gives.
fn expected_rejection(v: &Vector) -> Option<&'static str> {
    if v.format.starts_with("undecodable") {
        Some("JSON on the broadcast channel: notepack fails with trailing bytes")
    } else if v.format == "invalid-json" {
        Some("malformed JSON request")
    } else if v.what.contains("without nsp") {
        Some("sharded message without nsp: Node 8.3.0 drops it")
    } else {
        None
    }
}

#[test]
fn every_captured_vector_decodes_into_a_typed_message() {
    let limits = Limits::default();
    let mut accepted = 0;
    let mut rejected = 0;
    for file in CAPTURED {
        for v in vectors::load(file) {
            let result: Result<(), crosscast_core::DecodeError> = match kind(&v) {
                Kind::ClassicBroadcast => ClassicBroadcast::decode(&v.payload, &limits).map(drop),
                Kind::ClassicRequest => ClassicRequest::decode(&v.payload, &limits).map(drop),
                Kind::ClassicResponse => RawResponse::decode(&v.payload, &limits).map(drop),
                Kind::Sharded => ShardedMessage::decode(&v.payload, &limits).map(drop),
            };
            match (expected_rejection(&v), result) {
                (None, Ok(())) => accepted += 1,
                (Some(_), Err(_)) => rejected += 1,
                (None, Err(e)) => panic!("{file}: {}: refused: {e}", v.what),
                (Some(why), Ok(())) => panic!("{file}: {}: accepted, but {why}", v.what),
            }
        }
    }
    assert_eq!((accepted, rejected), (185, 3));
}

#[test]
fn streams_adapter_pubsub_messages_decode_as_cluster_messages() {
    // The streams adapter (0.3.x) sends its ephemeral messages as msgpack
    // envelopes of the same ClusterAdapter shape; the decoder takes them too.
    let limits = Limits::default();
    let vectors = vectors::load("captured-streams.json");
    assert!(!vectors.is_empty());
    for v in vectors {
        let m = ShardedMessage::decode(&v.payload, &limits)
            .unwrap_or_else(|e| panic!("{}: {e}", v.what));
        assert_eq!(m.nsp, "/");
    }
}
