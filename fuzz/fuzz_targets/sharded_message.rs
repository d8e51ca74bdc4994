//! Arbitrary bytes into `ShardedMessage::decode`: never a panic; a message that
//! decodes encodes to bytes that decode again and encode to the same bytes.
#![no_main]

use crosscast_core::{Limits, ShardedMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(message) = ShardedMessage::decode(data, &limits) {
        let encoded = message.encode();
        let again = ShardedMessage::decode(&encoded, &limits).expect("re-encoded message decodes");
        // A type is a JavaScript number: above 2^53 JSON carries it rounded, as
        // `JSON.stringify` does, so only a safe integer survives exactly.
        if message.body.type_number() < 1 << 53 {
            assert_eq!(
                again.body.type_number(),
                message.body.type_number(),
                "type survives"
            );
        }
        assert_eq!(again.encode(), encoded, "encoding is a fixed point");
    }
});
