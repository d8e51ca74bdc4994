//! Runs every decoder of the core on the same bytes and checks, for each one
//! that accepts them, that its encoder and decoder agree: what decodes encodes to
//! bytes that decode again and encode to the same bytes.

use crosscast_core::classic::{RawResponse, RequestType};
use crosscast_core::parser_payload::{from_payload, value_to_payload};
use crosscast_core::{
    ClassicBroadcast, ClassicRequest, DecodeError, Limits, ShardedMessage, json, msgpack,
};

/// Every request type, in wire order.
pub(crate) const REQUEST_TYPES: [RequestType; 10] = [
    RequestType::Sockets,
    RequestType::AllRooms,
    RequestType::RemoteJoin,
    RequestType::RemoteLeave,
    RequestType::RemoteDisconnect,
    RequestType::RemoteFetch,
    RequestType::ServerSideEmit,
    RequestType::Broadcast,
    RequestType::BroadcastClientCount,
    RequestType::BroadcastAck,
];

/// The outcome of each decoder on one input, in a fixed order: msgpack, JSON,
/// classic broadcast, classic request, classic response, sharded message,
/// parser payload (`None` when the bytes are not UTF-8 text).
pub(crate) type Outcomes = Vec<Option<Result<(), DecodeError>>>;

/// Decodes `bytes` with every decoder, panicking (failing the test) if an
/// accepted input does not survive its encoder.
pub(crate) fn decode_everywhere(bytes: &[u8], limits: &Limits) -> Outcomes {
    let mut out = Vec::with_capacity(7);
    out.push(Some(msgpack::decode(bytes, limits).map(|v| {
        let encoded = msgpack::encode(&v);
        let again = msgpack::decode(&encoded, limits).expect("re-encoded msgpack decodes");
        assert_eq!(msgpack::encode(&again), encoded, "msgpack fixed point");
    })));
    out.push(Some(json::decode(bytes, limits).map(|v| {
        let text = json::to_string(&v);
        let again = json::decode(text.as_bytes(), limits).expect("printed JSON parses");
        assert_eq!(json::to_string(&again), text, "JSON fixed point");
    })));
    out.push(Some(ClassicBroadcast::decode(bytes, limits).map(|m| {
        let encoded = m.encode();
        let again = ClassicBroadcast::decode(&encoded, limits).expect("broadcast decodes");
        assert_eq!(again.encode(), encoded, "broadcast fixed point");
    })));
    out.push(Some(ClassicRequest::decode(bytes, limits).map(|r| {
        let encoded = r.encode();
        let again = ClassicRequest::decode(&encoded, limits).expect("request decodes");
        assert_eq!(again.encode(), encoded, "request fixed point");
    })));
    out.push(Some(RawResponse::decode(bytes, limits).map(|raw| {
        for expecting in REQUEST_TYPES {
            let response = raw.clone().interpret(expecting);
            assert_eq!(response.request_id(), raw.request_id);
            let encoded = response.encode();
            let again = RawResponse::decode(&encoded, limits)
                .expect("response decodes")
                .interpret(expecting);
            assert_eq!(
                again.encode(),
                encoded,
                "response fixed point for {expecting:?}"
            );
        }
    })));
    out.push(Some(ShardedMessage::decode(bytes, limits).map(|m| {
        let encoded = m.encode();
        let again = ShardedMessage::decode(&encoded, limits).expect("sharded decodes");
        assert_eq!(again.encode(), encoded, "sharded fixed point");
    })));
    out.push(std::str::from_utf8(bytes).ok().map(|text| {
        let attachments = [vec![1u8, 2, 3]];
        from_payload(text, &attachments, limits).map(|v| {
            let payload = value_to_payload(&v);
            let again = from_payload(&payload.text, &payload.attachments, limits)
                .expect("payload reconstructs");
            assert_eq!(value_to_payload(&again), payload, "payload fixed point");
        })
    }));
    out
}
