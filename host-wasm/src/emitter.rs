//! The emitter of `@socket.io/redis-emitter` 5.x (NODE-WIRE.md §5): each call
//! returns the message to PUBLISH, `{channel: string, payload: Uint8Array}`;
//! the caller publishes it. Broadcast options are
//! `{rooms?, except?, flags?: {volatile?, compress?}}` (see
//! [`crate::convert::to_opts`]).

use crosscast_core::emitter::{Emitter, Publication};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::convert::{to_opts, to_rooms, to_values};
use crate::error::BindingError;

/// The emitter of one namespace under one key prefix (`EmitterCore` in JS).
#[wasm_bindgen(js_name = EmitterCore)]
#[derive(Debug)]
pub struct EmitterBinding {
    inner: Emitter,
}

#[wasm_bindgen(js_class = EmitterCore)]
impl EmitterBinding {
    /// `new EmitterCore(key, nsp)`: a leading `/` is added to `nsp` when missing; an absent
    /// `key` is the core's default ([`crosscast_core::node::DEFAULT_KEY`]).
    #[wasm_bindgen(constructor)]
    pub fn new(key: Option<String>, nsp: &str) -> EmitterBinding {
        let key = key.as_deref().unwrap_or(crosscast_core::node::DEFAULT_KEY);
        EmitterBinding {
            inner: Emitter::new(key, nsp),
        }
    }

    /// The namespace, with its leading `/`.
    #[wasm_bindgen(getter)]
    pub fn nsp(&self) -> String {
        self.inner.nsp().to_owned()
    }

    /// `emit(event, ...args)`: reserved event names throw `INVALID_ARGUMENT`.
    pub fn broadcast(
        &self,
        opts: JsValue,
        event: &str,
        args: Array,
    ) -> Result<JsValue, BindingError> {
        let publication = self
            .inner
            .broadcast(&to_opts(&opts)?, event, to_values(&args)?)?;
        Ok(to_js_publication(publication))
    }

    /// `socketsJoin(rooms)` for the sockets matching `opts`.
    #[wasm_bindgen(js_name = socketsJoin)]
    pub fn sockets_join(&self, opts: JsValue, rooms: JsValue) -> Result<JsValue, BindingError> {
        let publication = self.inner.sockets_join(&to_opts(&opts)?, to_rooms(&rooms)?);
        Ok(to_js_publication(publication))
    }

    /// `socketsLeave(rooms)` for the sockets matching `opts`.
    #[wasm_bindgen(js_name = socketsLeave)]
    pub fn sockets_leave(&self, opts: JsValue, rooms: JsValue) -> Result<JsValue, BindingError> {
        let publication = self
            .inner
            .sockets_leave(&to_opts(&opts)?, to_rooms(&rooms)?);
        Ok(to_js_publication(publication))
    }

    /// `disconnectSockets(close)` for the sockets matching `opts`.
    #[wasm_bindgen(js_name = disconnectSockets)]
    pub fn disconnect_sockets(&self, opts: JsValue, close: bool) -> Result<JsValue, BindingError> {
        let publication = self.inner.disconnect_sockets(&to_opts(&opts)?, close);
        Ok(to_js_publication(publication))
    }

    /// `serverSideEmit(event, ...args)` without acknowledgement.
    #[wasm_bindgen(js_name = serverSideEmit)]
    pub fn server_side_emit(&self, event: &str, args: Array) -> Result<JsValue, BindingError> {
        let publication = self.inner.server_side_emit(event, to_values(&args)?)?;
        Ok(to_js_publication(publication))
    }
}

fn to_js_publication(publication: Publication) -> JsValue {
    let object = Object::new();
    let payload = Uint8Array::from(publication.payload.as_slice());
    // Defining properties on a fresh plain object cannot fail.
    let _ = Reflect::set(&object, &"channel".into(), &publication.channel.into());
    let _ = Reflect::set(&object, &"payload".into(), &payload);
    object.into()
}
