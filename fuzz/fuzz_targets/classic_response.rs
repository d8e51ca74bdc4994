//! Arbitrary bytes into `RawResponse::decode`, then `interpret` for every
//! request type: never a panic; each interpretation encodes to bytes that decode
//! and interpret (same request type) to a response with the same encoding.
#![no_main]

use crosscast_core::Limits;
use crosscast_core::classic::{RawResponse, RequestType};
use libfuzzer_sys::fuzz_target;

const TYPES: [RequestType; 10] = [
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

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(raw) = RawResponse::decode(data, &limits) else {
        return;
    };
    for expecting in TYPES {
        let response = raw.clone().interpret(expecting);
        assert_eq!(response.request_id(), raw.request_id, "request id is kept");
        let encoded = response.encode();
        let again = RawResponse::decode(&encoded, &limits)
            .expect("re-encoded response decodes")
            .interpret(expecting);
        assert_eq!(again.encode(), encoded, "encoding is a fixed point");
    }
});
