//! Errors as JavaScript sees them: an `Error` (of the class the JS layer
//! registers with [`register_error_class`], a subclass of `Error`) with a stable
//! `code` string and a human message.
//!
//! [`code_of_decode`] and [`code_of_usage`] are the one mapping from core errors
//! to codes; the codes are part of the package's API and never change meaning.

use std::cell::RefCell;

use crosscast_core::{DecodeError, UsageError};
use wasm_bindgen::prelude::*;

thread_local! {
    static ERROR_CLASS: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Registers the constructor used for every error thrown by the bindings. It is
/// called as `new ctor(message, code)` and must set `code`. Before any class is
/// registered, errors are plain `Error`s with a `code` property.
#[wasm_bindgen(js_name = registerErrorClass)]
pub fn register_error_class(ctor: js_sys::Function) {
    ERROR_CLASS.with(|class| *class.borrow_mut() = Some(ctor));
}

/// An error of the bindings: a stable code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingError {
    /// The stable code, e.g. `DECODE_TRUNCATED`.
    pub code: &'static str,
    /// The human-readable message.
    pub message: String,
}

impl BindingError {
    /// An error with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<DecodeError> for BindingError {
    fn from(e: DecodeError) -> Self {
        BindingError::new(code_of_decode(&e), e.to_string())
    }
}

impl From<UsageError> for BindingError {
    fn from(e: UsageError) -> Self {
        BindingError::new(code_of_usage(&e), e.to_string())
    }
}

impl From<BindingError> for JsValue {
    fn from(e: BindingError) -> Self {
        let message = JsValue::from_str(&e.message);
        let code = JsValue::from_str(e.code);
        let registered = ERROR_CLASS.with(|class| class.borrow().clone());
        if let Some(ctor) = registered {
            let args = js_sys::Array::of2(&message, &code);
            if let Ok(err) = js_sys::Reflect::construct(&ctor, &args) {
                return err;
            }
        }
        let err = js_sys::Error::new(&e.message);
        // Setting a property on a fresh Error cannot fail.
        let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &code);
        err.into()
    }
}

/// The stable code of a decode error.
pub fn code_of_decode(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::Truncated { .. } => "DECODE_TRUNCATED",
        DecodeError::TrailingBytes { .. } => "DECODE_TRAILING_BYTES",
        DecodeError::ReservedMarker { .. } => "DECODE_RESERVED_MARKER",
        DecodeError::InvalidUtf8 { .. } => "DECODE_INVALID_UTF8",
        DecodeError::TooDeep { .. } => "DECODE_TOO_DEEP",
        DecodeError::TooLarge { .. } => "DECODE_TOO_LARGE",
        DecodeError::MapKey { .. } => "DECODE_MAP_KEY",
        DecodeError::Timestamp { .. } => "DECODE_TIMESTAMP",
        DecodeError::Json(_) => "DECODE_JSON",
        DecodeError::Shape { .. } => "DECODE_SHAPE",
        DecodeError::Channel(_) => "DECODE_CHANNEL",
        _ => "DECODE_OTHER",
    }
}

/// The stable code of a usage error.
pub fn code_of_usage(e: &UsageError) -> &'static str {
    match e {
        UsageError::UnknownRequest(_) => "USAGE_UNKNOWN_REQUEST",
        UsageError::UnknownQuestion(_) => "USAGE_UNKNOWN_QUESTION",
        UsageError::InvalidArgument(_) => "INVALID_ARGUMENT",
        UsageError::Unsupported { .. } => "UNSUPPORTED",
        UsageError::ReservedEvent(_) => "RESERVED_EVENT",
        UsageError::TooDeep { .. } => "TOO_DEEP",
        _ => "USAGE_OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_have_distinct_stable_codes() {
        let errors = [
            DecodeError::Truncated { offset: 0 },
            DecodeError::TrailingBytes { count: 1 },
            DecodeError::ReservedMarker { offset: 0 },
            DecodeError::InvalidUtf8 { offset: 0 },
            DecodeError::TooDeep { limit: 1 },
            DecodeError::TooLarge { size: 2, limit: 1 },
            DecodeError::MapKey { offset: 0 },
            DecodeError::Timestamp { offset: 0 },
            DecodeError::Json("x".into()),
            DecodeError::Shape {
                what: "a",
                reason: "b",
            },
            DecodeError::Channel("c".into()),
        ];
        let codes: Vec<_> = errors.iter().map(code_of_decode).collect();
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        assert_eq!(codes[0], "DECODE_TRUNCATED");
        assert_eq!(codes[9], "DECODE_SHAPE");
    }

    #[test]
    fn usage_errors_map_to_codes() {
        let e = BindingError::from(UsageError::InvalidArgument("reserved event name"));
        assert_eq!(e.code, "INVALID_ARGUMENT");
        assert!(e.message.contains("reserved event name"));
    }
}
