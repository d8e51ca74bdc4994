//! Unit tests of the msgpack codec.

use super::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn integers_take_notepacks_smallest_format() {
    let cases: &[(Value, &str)] = &[
        (Value::Int(0), "00"),
        (Value::Int(127), "7f"),
        (Value::Int(128), "cc80"),
        (Value::Int(65535), "cdffff"),
        (Value::Int(65536), "ce00010000"),
        (Value::Int(4_294_967_296), "cf0000000100000000"),
        (Value::Int(-1), "ff"),
        (Value::Int(-32), "e0"),
        (Value::Int(-33), "d0df"),
        (Value::Int(-129), "d1ff7f"),
        (Value::Int(-32769), "d2ffff7fff"),
        (Value::Int(-2_147_483_649), "d3ffffffff7fffffff"),
        (Value::UInt(u64::MAX), "cfffffffffffffffff"),
        (Value::Float(2.0), "02"),
        (Value::Float(-0.0), "00"),
        (Value::Float(2.5), "cb4004000000000000"),
        (Value::Float(f64::NAN), "cb7ff8000000000000"),
    ];
    for (value, want) in cases {
        assert_eq!(hex(&encode(value)), *want, "{value:?}");
    }
}

#[test]
fn legacy_notepack2_extensions_decode() {
    let limits = Limits::default();
    // [undefined, Date(1000ms), ArrayBuffer[1,2]] and {a: undefined, b: 1}
    let arr = [
        0x93, 0xd4, 0x00, 0x00, 0xd7, 0x00, 0, 0, 0, 0, 0, 0, 0x03, 0xe8,
    ];
    let mut arr = arr.to_vec();
    arr.extend_from_slice(&[0xc7, 0x02, 0x00, 0x01, 0x02]);
    assert_eq!(
        decode(&arr, &limits),
        Ok(Value::Array(vec![
            Value::Nil,
            Value::Timestamp(Timestamp { secs: 1, nanos: 0 }),
            Value::Bin(vec![1, 2]),
        ]))
    );
    let map = [0x82, 0xa1, b'a', 0xd4, 0x00, 0x00, 0xa1, b'b', 0x01];
    assert_eq!(
        decode(&map, &limits),
        Ok(Value::map([("b", Value::Int(1))]))
    );
}

#[test]
fn lies_about_length_reserve_nothing_and_fail() {
    let limits = Limits::default();
    assert_eq!(
        decode(&[0xdd, 0xff, 0xff, 0xff, 0xff], &limits),
        Err(DecodeError::Truncated { offset: 5 })
    );
    assert_eq!(
        decode(&[0xc6, 0xff, 0xff, 0xff, 0xff, 0x00], &limits),
        Err(DecodeError::Truncated { offset: 5 })
    );
    assert_eq!(
        decode(&[0x01, 0x02], &limits),
        Err(DecodeError::TrailingBytes { count: 1 })
    );
}

#[test]
fn repeated_keys_keep_their_first_place_and_last_value_in_large_maps() {
    let mut bytes = vec![0xde, 0x00, 40];
    for i in 0..39u8 {
        bytes.extend_from_slice(&[0xa2, b'k', b'0' + i % 40, i]);
    }
    // The 40th entry repeats key "k0" (i == 0) with value 99.
    bytes.extend_from_slice(&[0xa2, b'k', b'0', 99]);
    let Ok(Value::Map(entries)) = decode(&bytes, &Limits::default()) else {
        panic!("a map")
    };
    assert_eq!(entries.len(), 39);
    assert_eq!(entries[0], ("k0".to_owned(), Value::Int(99)));
    assert_eq!(entries[38].0, "kV");
}

#[test]
fn depth_is_bounded() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert!(decode(&[0x91, 0x91, 0x90], &limits).is_ok());
    assert_eq!(
        decode(&[0x91, 0x91, 0x91, 0x90], &limits),
        Err(DecodeError::TooDeep { limit: 3 })
    );
}
