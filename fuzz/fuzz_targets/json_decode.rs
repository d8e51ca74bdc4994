//! Arbitrary bytes into `json::decode`: never a panic; a value that parses
//! prints as JSON that parses again and prints to the same text.
#![no_main]

use crosscast_core::{Limits, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(value) = json::decode(data, &limits) {
        let text = json::to_string(&value);
        let again = json::decode(text.as_bytes(), &limits).expect("printed JSON parses");
        assert_eq!(json::to_string(&again), text, "printing is a fixed point");
    }
});
