//! The payloads of the golden vectors in tests/fixtures/golden-*.json.

/// Every `payload_hex` of the golden files, decoded, with its description.
pub(crate) fn payloads() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut out = Vec::new();
    for name in [
        "golden-classic.json",
        "golden-sharded.json",
        "golden-emitter.json",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("golden file is readable");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("golden file is JSON");
        let vectors = doc["vectors"].as_array().expect("golden file has vectors");
        for vector in vectors {
            if let Some(hex) = vector["payload_hex"].as_str() {
                let description = vector["description"].as_str().unwrap_or("").to_owned();
                out.push((format!("{name}: {description}"), from_hex(hex)));
            }
        }
    }
    assert!(out.len() > 50, "golden payloads found: {}", out.len());
    out
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit pair"))
        .collect()
}
