//! Arbitrary bytes into `parser_payload::from_payload`. The input is split on
//! 0xff (never part of UTF-8): the first part is the JSON text, the others are
//! the attachments. Never a panic; a value that reconstructs deconstructs to a
//! payload that reconstructs and deconstructs to the same payload.
#![no_main]

use crosscast_core::Limits;
use crosscast_core::parser_payload::{from_payload, value_to_payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xff);
    let Some(Ok(text)) = parts.next().map(std::str::from_utf8) else {
        return;
    };
    let attachments: Vec<&[u8]> = parts.collect();
    let limits = Limits::default();
    if let Ok(value) = from_payload(text, &attachments, &limits) {
        let payload = value_to_payload(&value);
        let again = from_payload(&payload.text, &payload.attachments, &limits)
            .expect("deconstructed payload reconstructs");
        assert_eq!(
            value_to_payload(&again),
            payload,
            "deconstruction is a fixed point"
        );
    }
});
