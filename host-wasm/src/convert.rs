//! The one conversion between JavaScript values and [`Value`], following
//! notepack.io's encoder (NODE-WIRE.md §2.4.1) where JavaScript leaves a choice:
//!
//! | JavaScript | [`Value`] |
//! |---|---|
//! | `null`, `undefined` (in an array) | `Nil` |
//! | boolean | `Bool` |
//! | number: integral and safe (`Number.isSafeInteger`, `-0` too) | `Int` |
//! | any other number (fractions, NaN, ±Infinity, huge integers) | `Float` |
//! | BigInt | `Int`, or `UInt` above `i64::MAX`; outside 64 bits: `VALUE_RANGE` |
//! | string | `Str` |
//! | `ArrayBuffer`, any view (`Uint8Array`, `Buffer`, `DataView`, …) | `Bin` (the viewed bytes) |
//! | `Date` | `Timestamp` (an invalid date: `VALUE_UNSUPPORTED`) |
//! | array | `Array` (holes are `Nil`) |
//! | object with `toJSON()` | the conversion of its result |
//! | any other object | `Map` of its own enumerable string keys in order; entries whose value is `undefined`, a function or a symbol are omitted |
//! | function, symbol at the top level or in an array | `VALUE_UNSUPPORTED` |
//!
//! Back to JavaScript: `Nil` → `null`, `Int` → number when safe else BigInt,
//! `UInt` → BigInt, `Bin` → `Uint8Array`, `Timestamp` → `Date`, `Map` → plain
//! object (own data properties, so a `__proto__` key stays a key), `Ext(t, b)` →
//! `[t, Uint8Array]` as notepack does.
//!
//! Nesting deeper than [`MAX_DEPTH`] (a cycle, for instance) is `VALUE_TOO_DEEP`.

use crosscast_core::{BroadcastOpts, Flags, Room, SocketInfo, Timestamp, Value};
use js_sys::{Array, ArrayBuffer, Date, Object, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error::BindingError;

/// Deepest nesting converted from JavaScript.
pub const MAX_DEPTH: usize = 256;

const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Converts a JavaScript value to a [`Value`].
pub fn to_value(js: &JsValue) -> Result<Value, BindingError> {
    convert(js, 0)?.ok_or_else(|| unsupported(js))
}

/// Converts a value that may be absent: `undefined` is `None` (an ack without
/// argument), anything else as [`to_value`].
pub fn to_optional_value(js: &JsValue) -> Result<Option<Value>, BindingError> {
    if js.is_undefined() {
        return Ok(None);
    }
    to_value(js).map(Some)
}

/// Converts each element of `items` (event arguments, for instance).
pub fn to_values(items: &Array) -> Result<Vec<Value>, BindingError> {
    items.iter().map(|item| element(&item, 0)).collect()
}

fn unsupported(js: &JsValue) -> BindingError {
    BindingError::new(
        "VALUE_UNSUPPORTED",
        format!("cannot encode a value of type {}", type_name(js)),
    )
}

fn type_name(js: &JsValue) -> String {
    js.js_typeof().as_string().unwrap_or_default()
}

/// An array element: `undefined` is `Nil`, functions and symbols are refused.
fn element(js: &JsValue, depth: usize) -> Result<Value, BindingError> {
    if js.is_undefined() {
        return Ok(Value::Nil);
    }
    convert(js, depth)?.ok_or_else(|| unsupported(js))
}

/// `None` for what a map omits: `undefined`, functions, symbols.
fn convert(js: &JsValue, depth: usize) -> Result<Option<Value>, BindingError> {
    if depth > MAX_DEPTH {
        return Err(BindingError::new(
            "VALUE_TOO_DEEP",
            format!("nesting deeper than {MAX_DEPTH} (a cycle?)"),
        ));
    }
    if js.is_undefined() || js.is_function() || js.is_symbol() {
        return Ok(None);
    }
    if js.is_null() {
        return Ok(Some(Value::Nil));
    }
    if let Some(b) = js.as_bool() {
        return Ok(Some(Value::Bool(b)));
    }
    if let Some(f) = js.as_f64() {
        return Ok(Some(number(f)));
    }
    if let Some(s) = js.as_string() {
        return Ok(Some(Value::Str(s)));
    }
    if js.is_bigint() {
        return bigint(js).map(Some);
    }
    if let Some(bytes) = binary(js) {
        return Ok(Some(Value::Bin(bytes)));
    }
    if let Some(date) = js.dyn_ref::<Date>() {
        let ms = date.get_time();
        if !ms.is_finite() {
            return Err(BindingError::new("VALUE_UNSUPPORTED", "invalid Date"));
        }
        return Ok(Some(Value::Timestamp(Timestamp::from_millis(ms as i64))));
    }
    if Array::is_array(js) {
        let array: &Array = js.unchecked_ref();
        let items = (0..array.length())
            .map(|i| element(&array.get(i), depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Some(Value::Array(items)));
    }
    let to_json = Reflect::get(js, &JsValue::from_str("toJSON")).unwrap_or(JsValue::UNDEFINED);
    if let Some(f) = to_json.dyn_ref::<js_sys::Function>() {
        let result = f
            .call0(js)
            .map_err(|_| BindingError::new("VALUE_UNSUPPORTED", "toJSON() threw"))?;
        return convert(&result, depth + 1);
    }
    let object: &Object = js.unchecked_ref();
    let mut entries = Vec::new();
    for key in Object::keys(object).iter() {
        let name = key.as_string().unwrap_or_default();
        let v = Reflect::get(js, &key).unwrap_or(JsValue::UNDEFINED);
        if let Some(v) = convert(&v, depth + 1)? {
            entries.push((name, v));
        }
    }
    Ok(Some(Value::Map(entries)))
}

fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER {
        Value::Int(f as i64)
    } else {
        Value::Float(f)
    }
}

fn bigint(js: &JsValue) -> Result<Value, BindingError> {
    if let Ok(i) = i64::try_from(js.clone()) {
        return Ok(Value::Int(i));
    }
    if let Ok(u) = u64::try_from(js.clone()) {
        return Ok(Value::UInt(u));
    }
    Err(BindingError::new(
        "VALUE_RANGE",
        "BigInt outside the 64-bit integer range",
    ))
}

/// The bytes of an `ArrayBuffer` or of the range an ArrayBuffer view covers.
fn binary(js: &JsValue) -> Option<Vec<u8>> {
    if let Some(buffer) = js.dyn_ref::<ArrayBuffer>() {
        return Some(Uint8Array::new(buffer).to_vec());
    }
    if let Some(bytes) = js.dyn_ref::<Uint8Array>() {
        return Some(bytes.to_vec());
    }
    if ArrayBuffer::is_view(js) {
        let get = |name: &str| Reflect::get(js, &JsValue::from_str(name)).ok();
        let buffer = get("buffer")?;
        let offset = get("byteOffset")?.as_f64()? as u32;
        let length = get("byteLength")?.as_f64()? as u32;
        let view = Uint8Array::new_with_byte_offset_and_length(&buffer, offset, length);
        return Some(view.to_vec());
    }
    None
}

/// Converts a [`Value`] to JavaScript.
pub fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Nil => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Int(i) if (*i as f64).abs() <= MAX_SAFE_INTEGER => JsValue::from_f64(*i as f64),
        Value::Int(i) => JsValue::from(*i),
        Value::UInt(u) if (*u as f64) <= MAX_SAFE_INTEGER => JsValue::from_f64(*u as f64),
        Value::UInt(u) => JsValue::from(*u),
        Value::Float(f) => JsValue::from_f64(*f),
        Value::Str(s) => JsValue::from_str(s),
        Value::Bin(b) => Uint8Array::from(b.as_slice()).into(),
        Value::Array(items) => items.iter().map(to_js).collect::<Array>().into(),
        Value::Map(entries) => {
            let pairs: Array = entries
                .iter()
                .map(|(k, v)| Array::of2(&JsValue::from_str(k), &to_js(v)))
                .collect();
            Object::from_entries(&pairs)
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL)
        }
        Value::Timestamp(ts) => Date::new(&JsValue::from_f64(ts.as_millis() as f64)).into(),
        Value::Ext(ty, data) => Array::of2(
            &JsValue::from_f64(f64::from(*ty)),
            &Uint8Array::from(data.as_slice()),
        )
        .into(),
        _ => JsValue::UNDEFINED,
    }
}

/// Reads broadcast options `{rooms?, except?, flags?: {volatile?, compress?, timeout?}}`
/// (other flags, such as socket.io's `local`, are not read).
/// `rooms` and `except` may be arrays or `Set`s of strings and integers.
pub fn to_opts(js: &JsValue) -> Result<BroadcastOpts, BindingError> {
    if js.is_undefined() || js.is_null() {
        return Ok(BroadcastOpts::all());
    }
    let get = |name: &str| Reflect::get(js, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    let flags_js = get("flags");
    let flag = |name: &str| {
        if flags_js.is_object() {
            Reflect::get(&flags_js, &JsValue::from_str(name))
                .ok()
                .and_then(|v| v.as_bool())
        } else {
            None
        }
    };
    let timeout = if flags_js.is_object() {
        Reflect::get(&flags_js, &JsValue::from_str("timeout"))
            .ok()
            .and_then(|v| v.as_f64())
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(|t| t as u64)
    } else {
        None
    };
    Ok(BroadcastOpts {
        rooms: to_rooms(&get("rooms"))?,
        except: to_rooms(&get("except"))?,
        flags: Flags {
            volatile: flag("volatile"),
            compress: flag("compress"),
            timeout,
            ..Flags::default()
        },
    })
}

/// Reads a room list: `undefined`, one room, or an iterable (array, `Set`) of
/// rooms. A room is a string or a safe integer.
pub fn to_rooms(js: &JsValue) -> Result<Vec<Room>, BindingError> {
    if js.is_undefined() || js.is_null() {
        return Ok(Vec::new());
    }
    if js.is_string() || js.as_f64().is_some() {
        return Ok(vec![to_room(js)?]);
    }
    let items = Array::from(js);
    items.iter().map(|room| to_room(&room)).collect()
}

fn to_room(js: &JsValue) -> Result<Room, BindingError> {
    if let Some(s) = js.as_string() {
        return Ok(Room::Str(s));
    }
    match js.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER => Ok(Room::Int(f as i64)),
        _ => Err(BindingError::new(
            "INVALID_ARGUMENT",
            format!("a room is a string or an integer, not a {}", type_name(js)),
        )),
    }
}

/// Writes broadcast options as `{rooms: Room[], except: Room[], flags}` where
/// `flags` holds `volatile`, `compress` and `timeout` when set.
pub fn opts_to_js(opts: &BroadcastOpts) -> JsValue {
    let object = Object::new();
    set(&object, "rooms", &rooms_to_js(&opts.rooms));
    set(&object, "except", &rooms_to_js(&opts.except));
    let flags = Object::new();
    if let Some(v) = opts.flags.volatile {
        set(&flags, "volatile", &JsValue::from_bool(v));
    }
    if let Some(c) = opts.flags.compress {
        set(&flags, "compress", &JsValue::from_bool(c));
    }
    if let Some(t) = opts.flags.timeout {
        set(&flags, "timeout", &JsValue::from_f64(t as f64));
    }
    set(&object, "flags", &flags);
    object.into()
}

/// Writes rooms as an array of strings and numbers.
pub fn rooms_to_js(rooms: &[Room]) -> JsValue {
    rooms.iter().map(room_to_js).collect::<Array>().into()
}

/// A room as JavaScript: a string, or a number for [`Room::Int`].
pub fn room_to_js(room: &Room) -> JsValue {
    match room {
        Room::Str(s) => JsValue::from_str(s),
        Room::Int(i) => JsValue::from_f64(*i as f64),
        // A kind of room newer than this binding: its channel form.
        other => JsValue::from_str(&other.as_channel_part()),
    }
}

/// Reads one room (a string or a safe integer).
pub fn to_single_room(js: &JsValue) -> Result<Room, BindingError> {
    to_room(js)
}

/// Deepest nesting of one handshake field or of `socket.data` in a
/// fetchSockets answer. The answer's envelope adds five or six levels above
/// them (response, sockets, socket, handshake), so a field this deep stays
/// well within the depth every crosscast server decodes; a deeper one would
/// make the whole answer undecodable for them.
pub const SOCKET_FIELD_MAX_DEPTH: usize = 32;

/// The handshake fields that are objects: one the cluster cannot carry is
/// answered as an empty object, as socket.io builds them when absent.
const OBJECT_FIELDS: [&str; 3] = ["headers", "query", "auth"];

/// Reads sockets as `fetchSockets` answers them: an iterable of
/// `{id, handshake?, rooms?, data?}`; `rooms` is an iterable of rooms.
///
/// One socket's fields cannot spoil the answer: a handshake field that does
/// not convert, or is nested deeper than [`SOCKET_FIELD_MAX_DEPTH`], becomes
/// an empty object (`headers`, `query`, `auth`) or is left out (the others);
/// such a `data` becomes an empty object. A socket without a string id, or
/// with rooms that are not rooms, is an error.
pub fn to_socket_infos(js: &JsValue) -> Result<Vec<SocketInfo>, BindingError> {
    Array::from(js)
        .iter()
        .map(|socket| {
            let get = |name: &str| {
                Reflect::get(&socket, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
            };
            let id = get("id").as_string().ok_or_else(|| {
                BindingError::new("INVALID_ARGUMENT", "a socket needs a string id")
            })?;
            let data = get("data");
            Ok(SocketInfo {
                id,
                handshake: to_handshake(&get("handshake")),
                rooms: to_rooms(&get("rooms"))?,
                data: (!data.is_undefined())
                    .then(|| carried(&data).unwrap_or_else(|| Value::Map(Vec::new()))),
            })
        })
        .collect()
}

/// A socket's handshake, field by field (see [`to_socket_infos`]); `None`
/// when it is absent or not an object.
fn to_handshake(js: &JsValue) -> Option<Value> {
    if !js.is_object() || js.is_function() {
        return None;
    }
    let object: &Object = js.unchecked_ref();
    let mut entries = Vec::new();
    for key in Object::keys(object).iter() {
        let Some(name) = key.as_string() else {
            continue;
        };
        let field = Reflect::get(js, &key).unwrap_or(JsValue::UNDEFINED);
        match carried(&field) {
            Some(value) => entries.push((name, value)),
            None if OBJECT_FIELDS.contains(&name.as_str()) => {
                entries.push((name, Value::Map(Vec::new())));
            }
            None => {}
        }
    }
    Some(Value::Map(entries))
}

/// `js` converted, when it converts and is nested at most
/// [`SOCKET_FIELD_MAX_DEPTH`] deep.
fn carried(js: &JsValue) -> Option<Value> {
    let value = to_optional_value(js).ok()??;
    (depth(&value) <= SOCKET_FIELD_MAX_DEPTH).then_some(value)
}

/// How many arrays and maps are nested in `value` (0 for a scalar).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        _ => 0,
    }
}

/// Writes a socket of a fetchSockets answer as `{id, handshake, rooms, data}`
/// (`handshake` and `data` are `undefined` when absent).
pub fn socket_info_to_js(socket: &SocketInfo) -> JsValue {
    let object = Object::new();
    set(&object, "id", &JsValue::from_str(&socket.id));
    let optional = |v: &Option<Value>| v.as_ref().map(to_js).unwrap_or(JsValue::UNDEFINED);
    set(&object, "handshake", &optional(&socket.handshake));
    set(&object, "rooms", &rooms_to_js(&socket.rooms));
    set(&object, "data", &optional(&socket.data));
    object.into()
}

/// Sets `key` on a plain object the bindings created.
pub fn set(object: &Object, key: &str, value: &JsValue) {
    // Defining a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_safe_numbers_are_ints_and_others_floats() {
        assert_eq!(number(1.0), Value::Int(1));
        assert_eq!(number(-0.0), Value::Int(0));
        assert_eq!(number(2.5), Value::Float(2.5));
        assert_eq!(
            number(9_007_199_254_740_992.0),
            Value::Float(9_007_199_254_740_992.0)
        );
        assert!(matches!(number(f64::NAN), Value::Float(f) if f.is_nan()));
    }
}
