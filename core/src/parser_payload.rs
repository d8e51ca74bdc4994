//! Conversion between the value model and the payload of socketioxide's common
//! parser: JSON text with `{"_placeholder":true,"num":N}` in place of each binary,
//! plus the binaries as separate attachments (socket.io-parser's deconstruct and
//! reconstruct).

use crate::error::DecodeError;
use crate::json;
use crate::limits::Limits;
use crate::value::Value;

/// A parser payload: JSON text and its binary attachments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParserPayload {
    /// JSON text with placeholders.
    pub text: String,
    /// Attachments, indexed by placeholder `num`.
    pub attachments: Vec<Vec<u8>>,
}

/// Writes `values` as a JSON array with binaries replaced by placeholders, in
/// depth-first order, as socket.io-parser's `deconstructPacket` does.
pub fn to_payload(values: &[Value]) -> ParserPayload {
    let mut payload = ParserPayload::default();
    payload.text.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            payload.text.push(',');
        }
        write(v, &mut payload);
    }
    payload.text.push(']');
    payload
}

/// Writes one value (for example an ack argument) with placeholders.
pub fn value_to_payload(value: &Value) -> ParserPayload {
    let mut payload = ParserPayload::default();
    write(value, &mut payload);
    payload
}

fn write(value: &Value, payload: &mut ParserPayload) {
    match value {
        Value::Bin(bytes) => {
            let num = payload.attachments.len();
            payload.attachments.push(bytes.clone());
            payload.text.push_str("{\"_placeholder\":true,\"num\":");
            payload.text.push_str(&num.to_string());
            payload.text.push('}');
        }
        Value::Array(items) => {
            payload.text.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    payload.text.push(',');
                }
                write(item, payload);
            }
            payload.text.push(']');
        }
        Value::Map(entries) => {
            payload.text.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    payload.text.push(',');
                }
                json::write_str(k, &mut payload.text);
                payload.text.push(':');
                write(v, payload);
            }
            payload.text.push('}');
        }
        other => json::write_value(other, &mut payload.text),
    }
}

/// Parses parser JSON text and puts each attachment back where its placeholder
/// stands. A placeholder whose `num` has no attachment is an error.
pub fn from_payload(
    text: &str,
    attachments: &[impl AsRef<[u8]>],
    limits: &Limits,
) -> Result<Value, DecodeError> {
    let value = json::decode(text.as_bytes(), limits)?;
    if attachments.is_empty() {
        return Ok(value);
    }
    reconstruct(value, attachments)
}

fn reconstruct(value: Value, attachments: &[impl AsRef<[u8]>]) -> Result<Value, DecodeError> {
    match value {
        Value::Map(entries) => {
            let is_placeholder = entries.len() == 2
                && entries
                    .iter()
                    .any(|(k, v)| k == "_placeholder" && *v == Value::Bool(true));
            if is_placeholder {
                let num = entries
                    .iter()
                    .find(|(k, _)| k == "num")
                    .and_then(|(_, v)| v.as_u64())
                    .ok_or(DecodeError::shape(
                        "parser payload",
                        "placeholder without num",
                    ))?;
                let bytes = usize::try_from(num)
                    .ok()
                    .and_then(|n| attachments.get(n))
                    .ok_or(DecodeError::shape(
                        "parser payload",
                        "placeholder past the attachments",
                    ))?;
                return Ok(Value::Bin(bytes.as_ref().to_vec()));
            }
            entries
                .into_iter()
                .map(|(k, v)| reconstruct(v, attachments).map(|v| (k, v)))
                .collect::<Result<_, _>>()
                .map(Value::Map)
        }
        Value::Array(items) => items
            .into_iter()
            .map(|v| reconstruct(v, attachments))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_become_placeholders_in_depth_first_order_and_come_back() {
        let values = vec![
            Value::from("chat message"),
            Value::map([
                ("text", Value::from("hi")),
                ("bin", Value::Bin(vec![1, 2, 3])),
                ("more", Value::Array(vec![Value::Bin(vec![9])])),
            ]),
        ];
        let payload = to_payload(&values);
        assert_eq!(
            payload.text,
            r#"["chat message",{"text":"hi","bin":{"_placeholder":true,"num":0},"more":[{"_placeholder":true,"num":1}]}]"#
        );
        assert_eq!(payload.attachments, vec![vec![1, 2, 3], vec![9]]);
        let back = from_payload(&payload.text, &payload.attachments, &Limits::default());
        assert_eq!(back, Ok(Value::Array(values)));
    }

    #[test]
    fn a_placeholder_past_the_attachments_is_an_error() {
        let err = from_payload(
            r#"[{"_placeholder":true,"num":3}]"#,
            &[vec![1u8]],
            &Limits::default(),
        );
        assert!(matches!(err, Err(DecodeError::Shape { .. })));
    }
}
