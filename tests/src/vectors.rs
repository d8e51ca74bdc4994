//! The vectors in `tests/fixtures/` (copied from the protocol reference):
//! golden files made by the real Node code with a fixed random source, and live
//! captures of real Node servers.

use std::path::PathBuf;

use crosscast_core::Value;
use serde_json::Value as Json;

/// One published message of a vector file.
#[derive(Clone, Debug)]
pub struct Vector {
    /// The file it comes from.
    pub file: &'static str,
    /// What produced it (`description` or `step`).
    pub what: String,
    /// `PUBLISH`, `SPUBLISH` or `XADD`.
    pub command: String,
    /// The Redis channel.
    pub channel: String,
    /// `json`, `msgpack`, or a note that the payload is undecodable.
    pub format: String,
    /// The exact payload bytes.
    pub payload: Vec<u8>,
    /// The payload as notepack.io / JSON.parse decoded it (`{"$bin": hex}` for binary).
    pub decoded: Option<Json>,
}

/// The golden files: encoding must be byte-identical.
pub const GOLDEN: [&str; 3] = [
    "golden-classic.json",
    "golden-sharded.json",
    "golden-emitter.json",
];

/// The captured files of the classic, sharded and emitter protocols.
pub const CAPTURED: [&str; 6] = [
    "captured-classic.json",
    "captured-classic-specific-response.json",
    "captured-interop.json",
    "captured-sharded-dynamic.json",
    "captured-sharded-dynamic-private.json",
    "captured-sharded-static.json",
];

/// The fixtures folder.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Loads the vectors of one file that carry a payload.
pub fn load(file: &'static str) -> Vec<Vector> {
    let path = fixtures_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let items = doc["vectors"].as_array().cloned().unwrap_or_default();
    items
        .into_iter()
        .filter_map(|v| {
            let hex = v.get("payload_hex")?.as_str()?;
            Some(Vector {
                file,
                what: v
                    .get("description")
                    .or_else(|| v.get("step"))
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                command: v["command"].as_str().unwrap_or_default().to_owned(),
                channel: v["channel"].as_str().unwrap_or_default().to_owned(),
                format: v["format"].as_str().unwrap_or_default().to_owned(),
                payload: from_hex(hex),
                decoded: v.get("decoded").cloned().filter(|d| !d.is_null()),
            })
        })
        .collect()
}

/// Hex text to bytes.
pub fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digit"))
        .collect()
}

/// Bytes to lowercase hex text.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A value in the documented decoded form of the vector files: binary as
/// `{"$bin": hex}`, dates as ISO strings (what `JSON.stringify` made of them).
pub fn documented(value: &Value) -> Json {
    match value {
        Value::Bin(bytes) => serde_json::json!({ "$bin": to_hex(bytes) }),
        Value::Array(items) => Json::Array(items.iter().map(documented).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), documented(v)))
                .collect(),
        ),
        other => serde_json::from_str(&other.to_string()).expect("JSON of a scalar"),
    }
}

/// Equality of documented forms, numbers compared by value (so `1` equals `1.0`)
/// and map keys in any order. A JSON-mangled Buffer (`{"type":"Buffer","data":[…]}`)
/// equals the binary it was made from: the capture tool revived those.
pub fn same(a: &Json, b: &Json) -> bool {
    if let (Some(x), Some(y)) = (revived_buffer(a), b.get("$bin")) {
        return Json::String(x) == *y;
    }
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn revived_buffer(v: &Json) -> Option<String> {
    let obj = v.as_object()?;
    if obj.len() != 2 || obj.get("type")?.as_str()? != "Buffer" {
        return None;
    }
    let bytes: Option<Vec<u8>> = obj
        .get("data")?
        .as_array()?
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect();
    Some(to_hex(&bytes?))
}
