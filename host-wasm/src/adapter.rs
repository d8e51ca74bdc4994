//! The cluster node of one namespace adapter (`NodeCore` in JS): a thin
//! binding over [`crosscast_core::Node`].
//!
//! The run loop is the JS adapter's (`js/adapter.mjs`): every input takes
//! `now` (ms from an origin the caller keeps fixed); after each input the
//! caller drains `pollTransmit()` (publish each message) and `pollEvent()`
//! (apply each event, answer each question) until both return `undefined`,
//! then arms one timer for `pollTimeout()` and calls `handleTimeout(now)` when
//! it fires. The binding never calls into JavaScript. Event objects are
//! described in [`event`]; ids are numbers.

mod config;
mod event;

use crosscast_core::node::{QuestionId, RemoteAckId, ServerSideAckId};
use crosscast_core::{Node, Packet, Time};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

use crate::convert::{
    set, to_optional_value, to_opts, to_rooms, to_single_room, to_socket_infos, to_values,
};
use crate::error::BindingError;
use event::{event_to_js, id, transmit_to_js};

/// One namespace's share of the cluster protocol.
#[wasm_bindgen(js_name = NodeCore)]
#[derive(Debug)]
pub struct NodeBinding {
    inner: Node,
}

/// `now` as the core's [`Time`]: negative or non-finite values are 0.
fn time(now: f64) -> Time {
    Time::from_millis(if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    })
}

/// A number the bindings handed out as an id (or a count/duration from JS).
fn number(n: f64) -> u64 {
    if n.is_finite() && n > 0.0 {
        n as u64
    } else {
        0
    }
}

#[wasm_bindgen(js_class = NodeCore)]
impl NodeBinding {
    /// `new NodeCore(config, now)`; see `config.rs` for the options. Throws
    /// `INVALID_ARGUMENT` on a bad option (an empty uid, an unknown mode).
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue, now: f64) -> Result<NodeBinding, BindingError> {
        let config = config::to_node_config(&config)?;
        Ok(NodeBinding {
            inner: Node::new(config, time(now))?,
        })
    }

    /// This node's uid.
    /// How many random bytes `uidRandom` takes: the core's `UID_RANDOM_BYTES`.
    #[wasm_bindgen(js_name = uidRandomBytes)]
    pub fn uid_random_bytes() -> usize {
        crosscast_core::node::UID_RANDOM_BYTES
    }

    #[wasm_bindgen(getter)]
    pub fn uid(&self) -> String {
        self.inner.uid().to_owned()
    }

    /// How many of this node's requests are pending.
    /// The requests timeout in ms, the core's default applied.
    #[wasm_bindgen(getter, js_name = requestsTimeout)]
    pub fn requests_timeout(&self) -> f64 {
        self.inner.config().requests_timeout_ms as f64
    }

    #[wasm_bindgen(getter, js_name = pendingRequests)]
    pub fn pending_requests(&self) -> usize {
        self.inner.pending_requests()
    }

    /// A message received on `channel` (from any subscription of this node).
    #[wasm_bindgen(js_name = handleMessage)]
    pub fn handle_message(&mut self, now: f64, channel: &str, payload: &[u8]) {
        self.inner.handle_message(time(now), channel, payload);
    }

    /// Handles every deadline at or before `now`.
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64) {
        self.inner.handle_timeout(time(now));
    }

    /// The next message to publish, `{kind, channel, payload}`, or `undefined`.
    #[wasm_bindgen(js_name = pollTransmit)]
    pub fn poll_transmit(&mut self) -> JsValue {
        self.inner
            .poll_transmit()
            .map(|t| transmit_to_js(&t))
            .unwrap_or(JsValue::UNDEFINED)
    }

    /// The next event, a plain object with a `type`, or `undefined` when there
    /// is none. Events of kinds this binding does not know are skipped.
    #[wasm_bindgen(js_name = pollEvent)]
    pub fn poll_event(&mut self) -> JsValue {
        while let Some(event) = self.inner.poll_event() {
            let js = event_to_js(&event);
            if !js.is_undefined() {
                return js;
            }
        }
        JsValue::UNDEFINED
    }

    /// The next deadline (ms on the caller's clock), or `undefined`.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.inner
            .poll_timeout()
            .map(|(at, _)| at.as_millis() as f64)
    }

    /// Publishes a broadcast of `data` (`[event, ...args]`) to the other servers.
    pub fn broadcast(&mut self, data: Array, opts: JsValue) -> Result<(), BindingError> {
        let packet = packet(&data)?;
        self.inner.broadcast(packet, &to_opts(&opts)?)?;
        Ok(())
    }

    /// Publishes a broadcast whose remote client acks come as `ackReceived`
    /// events until the request's `completed`. Returns the request id.
    #[wasm_bindgen(js_name = broadcastWithAck)]
    pub fn broadcast_with_ack(
        &mut self,
        now: f64,
        data: Array,
        opts: JsValue,
        timeout_ms: f64,
    ) -> Result<f64, BindingError> {
        let packet = packet(&data)?;
        let opts = to_opts(&opts)?;
        let request =
            self.inner
                .broadcast_with_ack(time(now), packet, &opts, number(timeout_ms))?;
        Ok(request.to_raw() as f64)
    }

    /// Publishes "the sockets matching `opts` join `rooms`".
    #[wasm_bindgen(js_name = socketsJoin)]
    pub fn sockets_join(&mut self, opts: JsValue, rooms: JsValue) -> Result<(), BindingError> {
        self.inner.sockets_join(&to_opts(&opts)?, to_rooms(&rooms)?);
        Ok(())
    }

    /// Publishes "the sockets matching `opts` leave `rooms`".
    #[wasm_bindgen(js_name = socketsLeave)]
    pub fn sockets_leave(&mut self, opts: JsValue, rooms: JsValue) -> Result<(), BindingError> {
        self.inner
            .sockets_leave(&to_opts(&opts)?, to_rooms(&rooms)?);
        Ok(())
    }

    /// Publishes "the sockets matching `opts` disconnect".
    #[wasm_bindgen(js_name = disconnectSockets)]
    pub fn disconnect_sockets(&mut self, opts: JsValue, close: bool) -> Result<(), BindingError> {
        self.inner.disconnect_sockets(&to_opts(&opts)?, close);
        Ok(())
    }

    /// Asks the other servers for their sockets matching `opts`; the request id.
    #[wasm_bindgen(js_name = fetchSockets)]
    pub fn fetch_sockets(&mut self, now: f64, opts: JsValue) -> Result<f64, BindingError> {
        let opts = to_opts(&opts)?;
        Ok(self.inner.fetch_sockets(time(now), &opts).to_raw() as f64)
    }

    /// Asks the other servers for the rooms of their sockets matching `opts`
    /// (every socket when it has no rooms and no except); the node picks the
    /// request. The request id.
    pub fn rooms(&mut self, now: f64, opts: JsValue) -> Result<f64, BindingError> {
        let opts = to_opts(&opts)?;
        Ok(self.inner.rooms(time(now), &opts).to_raw() as f64)
    }

    /// Sends `data` (`[event, ...args]`) to the other servers.
    #[wasm_bindgen(js_name = serverSideEmit)]
    pub fn server_side_emit(&mut self, data: Array) -> Result<(), BindingError> {
        self.inner.server_side_emit(to_values(&data)?)?;
        Ok(())
    }

    /// Sends `data` and collects one ack per other server; the request id.
    #[wasm_bindgen(js_name = serverSideEmitWithAck)]
    pub fn server_side_emit_with_ack(
        &mut self,
        now: f64,
        data: Array,
    ) -> Result<f64, BindingError> {
        let data = to_values(&data)?;
        Ok(self
            .inner
            .server_side_emit_with_ack(time(now), data)?
            .to_raw() as f64)
    }

    /// Asks how many servers the cluster has; the request id.
    #[wasm_bindgen(js_name = serverCount)]
    pub fn server_count(&mut self, now: f64) -> f64 {
        self.inner.server_count(time(now)).to_raw() as f64
    }

    /// Closes the node: unsubscribes, announces the close, cancels requests.
    pub fn close(&mut self, now: f64) {
        self.inner.close(time(now));
    }

    /// Answers a `serverCount` question: `count` servers, this one included.
    #[wasm_bindgen(js_name = answerServerCount)]
    pub fn answer_server_count(
        &mut self,
        now: f64,
        id: f64,
        count: f64,
    ) -> Result<(), BindingError> {
        self.inner.answer_server_count(
            time(now),
            QuestionId::from_raw(number(id)),
            number(count),
        )?;
        Ok(())
    }

    /// Answers a `localSockets` question with `[{id, handshake, rooms, data}]`.
    #[wasm_bindgen(js_name = answerLocalSockets)]
    pub fn answer_local_sockets(
        &mut self,
        now: f64,
        id: f64,
        sockets: JsValue,
    ) -> Result<(), BindingError> {
        let sockets = to_socket_infos(&sockets)?;
        self.inner
            .answer_local_sockets(time(now), QuestionId::from_raw(number(id)), sockets)?;
        Ok(())
    }

    /// Answers a `localRooms` question with every local room.
    #[wasm_bindgen(js_name = answerLocalRooms)]
    pub fn answer_local_rooms(
        &mut self,
        now: f64,
        id: f64,
        rooms: JsValue,
    ) -> Result<(), BindingError> {
        let rooms = to_rooms(&rooms)?;
        self.inner
            .answer_local_rooms(time(now), QuestionId::from_raw(number(id)), rooms)?;
        Ok(())
    }

    /// Reports how many local clients a remote broadcast with acks reached.
    #[wasm_bindgen(js_name = handleRemoteClientCount)]
    pub fn handle_remote_client_count(
        &mut self,
        now: f64,
        ack: f64,
        count: f64,
    ) -> Result<(), BindingError> {
        self.inner.handle_remote_client_count(
            time(now),
            RemoteAckId::from_raw(number(ack)),
            number(count),
        )?;
        Ok(())
    }

    /// Reports one local client's ack (its first argument) of a remote broadcast.
    #[wasm_bindgen(js_name = handleRemoteAck)]
    pub fn handle_remote_ack(
        &mut self,
        now: f64,
        ack: f64,
        value: JsValue,
    ) -> Result<(), BindingError> {
        let value = to_optional_value(&value)?.unwrap_or(crosscast_core::Value::Nil);
        self.inner
            .handle_remote_ack(time(now), RemoteAckId::from_raw(number(ack)), value)?;
        Ok(())
    }

    /// Answers a remote server-side event (`undefined`: an ack without argument).
    #[wasm_bindgen(js_name = handleServerSideAck)]
    pub fn handle_server_side_ack(
        &mut self,
        now: f64,
        ack: f64,
        value: JsValue,
    ) -> Result<(), BindingError> {
        let value = to_optional_value(&value)?;
        self.inner.handle_server_side_ack(
            time(now),
            ServerSideAckId::from_raw(number(ack)),
            value,
        )?;
        Ok(())
    }

    /// Frees a remote server-side event this server will not answer (no
    /// listener); the sender times out, as with a Node server.
    #[wasm_bindgen(js_name = releaseServerSideAck)]
    pub fn release_server_side_ack(&mut self, now: f64, ack: f64) -> Result<(), BindingError> {
        self.inner
            .release_server_side_ack(time(now), ServerSideAckId::from_raw(number(ack)))?;
        Ok(())
    }

    /// A room now exists locally (the sharded dynamic modes subscribe to it).
    #[wasm_bindgen(js_name = handleRoomAdded)]
    pub fn handle_room_added(&mut self, room: JsValue) -> Result<(), BindingError> {
        self.inner.handle_room_added(&to_single_room(&room)?);
        Ok(())
    }

    /// A room no longer exists locally.
    #[wasm_bindgen(js_name = handleRoomRemoved)]
    pub fn handle_room_removed(&mut self, room: JsValue) -> Result<(), BindingError> {
        self.inner.handle_room_removed(&to_single_room(&room)?);
        Ok(())
    }

    /// The crosscast peers currently alive, by uid.
    pub fn peers(&self) -> Array {
        self.inner.peers().into_iter().map(JsValue::from).collect()
    }

    /// Counters: `{received, published, decodeErrors, ignoredOwn, ...}`.
    pub fn stats(&self) -> JsValue {
        let s = self.inner.stats();
        let object = Object::new();
        for (key, n) in [
            ("received", s.received),
            ("published", s.published),
            ("decodeErrors", s.decode_errors),
            ("ignoredOwn", s.ignored_own),
            ("ignoredOtherNsp", s.ignored_other_nsp),
            ("ignoredUnknownType", s.ignored_unknown_type),
            ("ignoredNotForUs", s.ignored_not_for_us),
            ("lateResponses", s.late_responses),
            ("lateHostAnswers", s.late_host_answers),
            ("requestsCompleted", s.requests_completed),
            ("requestsTimedOut", s.requests_timed_out),
            ("requestsPartial", s.requests_partial),
            ("serverSideAcksPending", s.server_side_acks_pending),
            ("serverSideAcksExpired", s.server_side_acks_expired),
            ("remoteAcksPending", s.remote_acks_pending),
            ("questionsPending", s.questions_pending),
            ("droppedTableFull", s.dropped_table_full),
            ("droppedExcessAcks", s.dropped_excess_acks),
            ("refusedTooDeep", s.refused_too_deep),
            ("refusedReservedEvent", s.refused_reserved_event),
        ] {
            set(&object, key, &id(n));
        }
        object.into()
    }
}

/// An event packet from `[event, ...args]`.
fn packet(data: &Array) -> Result<Packet, BindingError> {
    Ok(Packet {
        data: to_values(data)?,
        nsp: None,
    })
}
