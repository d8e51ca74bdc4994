//! Arbitrary bytes into `msgpack::decode`: never a panic; a value that decodes
//! re-encodes to bytes that decode again and re-encode to the same bytes
//! (compared as bytes so NaN and integral floats need no special case).
#![no_main]

use crosscast_core::{Limits, msgpack};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(value) = msgpack::decode(data, &limits) {
        let encoded = msgpack::encode(&value);
        let again = msgpack::decode(&encoded, &limits).expect("re-encoded value decodes");
        assert_eq!(
            msgpack::encode(&again),
            encoded,
            "re-encoding is a fixed point"
        );
    }
});
