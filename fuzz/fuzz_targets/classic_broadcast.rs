//! Arbitrary bytes into `ClassicBroadcast::decode`: never a panic; a broadcast
//! that decodes encodes (adapter and emitter layouts) to bytes that decode again
//! and encode to the same bytes.
#![no_main]

use crosscast_core::{ClassicBroadcast, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(message) = ClassicBroadcast::decode(data, &limits) {
        let encoded = message.encode();
        let again =
            ClassicBroadcast::decode(&encoded, &limits).expect("re-encoded broadcast decodes");
        assert_eq!(again.encode(), encoded, "adapter encoding is a fixed point");
        let emitter = message.encode_as_emitter();
        let from_emitter =
            ClassicBroadcast::decode(&emitter, &limits).expect("emitter encoding decodes");
        assert_eq!(
            from_emitter.encode(),
            encoded,
            "both layouts carry the same broadcast"
        );
    }
});
