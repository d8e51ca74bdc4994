//! Arbitrary bytes into `ClassicRequest::decode`: never a panic; a request that
//! decodes encodes to bytes that decode again and encode to the same bytes.
#![no_main]

use crosscast_core::{ClassicRequest, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(request) = ClassicRequest::decode(data, &limits) {
        let encoded = request.encode();
        let again = ClassicRequest::decode(&encoded, &limits).expect("re-encoded request decodes");
        assert_eq!(again.type_number(), request.type_number(), "type survives");
        assert_eq!(again.encode(), encoded, "encoding is a fixed point");
    }
});
