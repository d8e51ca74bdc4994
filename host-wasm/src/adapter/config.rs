//! The adapter's options, read from JavaScript into a [`NodeConfig`].

use crosscast_core::node::{NodeConfig, NodeOptions, Protocol, UID_RANDOM_BYTES};
use js_sys::Reflect;
use wasm_bindgen::prelude::*;

use crate::error::BindingError;

/// Reads `{uid? | uidRandom?, nsp, protocol: "classic" | "sharded", key?,
/// publishOnSpecificResponseChannel?, channelPrefix?, subscriptionMode?,
/// requestsTimeout?, heartbeatInterval?, heartbeatTimeout?, recountInterval?}`.
/// Absent options take Node's defaults (those of [`NodeConfig::new`] and
/// [`DEFAULT_KEY`](crosscast_core::node::DEFAULT_KEY)). `uidRandom` (a `Uint8Array` of [`UID_RANDOM_BYTES`]) makes
/// the uid by the core's rule ([`Protocol::uid_from_random`]); `uid` sets it.
pub(crate) fn to_node_config(js: &JsValue) -> Result<NodeConfig, BindingError> {
    if !js.is_object() {
        return Err(invalid("the configuration must be an object"));
    }
    let get = |name: &str| Reflect::get(js, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    let string = |name: &str, default: &str| -> Result<String, BindingError> {
        let v = get(name);
        if v.is_undefined() || v.is_null() {
            return Ok(default.to_owned());
        }
        v.as_string()
            .ok_or_else(|| invalid(format!("`{name}` must be a string")))
    };
    let millis = |name: &str, default: u64| -> Result<u64, BindingError> {
        let v = get(name);
        if v.is_undefined() || v.is_null() {
            return Ok(default);
        }
        match v.as_f64() {
            Some(f) if f.is_finite() && f >= 0.0 => Ok(f as u64),
            _ => Err(invalid(format!("`{name}` must be a number of ms"))),
        }
    };
    // Every option Node's two factories take; the core keeps those of the protocol named.
    let optional = |name: &str| -> Result<Option<String>, BindingError> {
        let v = get(name);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        string(name, "").map(Some)
    };
    let mut options = NodeOptions::default();
    options.key = optional("key")?;
    options.publish_on_specific_response_channel =
        get("publishOnSpecificResponseChannel").is_truthy();
    options.channel_prefix = optional("channelPrefix")?;
    options.subscription_mode = optional("subscriptionMode")?;
    let protocol = Protocol::from_node_options(&string("protocol", "classic")?, &options)
        .map_err(|e| invalid(e.to_string()))?;
    let random = get("uidRandom");
    let uid = if random.is_undefined() || random.is_null() {
        string("uid", "")?
    } else {
        let bytes: [u8; UID_RANDOM_BYTES] = js_sys::Uint8Array::new(&random)
            .to_vec()
            .try_into()
            .map_err(|_| invalid(format!("`uidRandom` must be {UID_RANDOM_BYTES} bytes")))?;
        protocol.uid_from_random(bytes)
    };
    let mut config = NodeConfig::new(uid, string("nsp", "/")?, protocol);
    config.requests_timeout_ms = millis("requestsTimeout", config.requests_timeout_ms)?;
    config.heartbeat_interval_ms = millis("heartbeatInterval", config.heartbeat_interval_ms)?;
    config.heartbeat_timeout_ms = millis("heartbeatTimeout", config.heartbeat_timeout_ms)?;
    config.recount_interval_ms = millis("recountInterval", config.recount_interval_ms)?;
    Ok(config)
}

fn invalid(message: impl Into<String>) -> BindingError {
    BindingError::new("INVALID_ARGUMENT", message)
}
