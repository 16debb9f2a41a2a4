//! The live sockets one `Subject` holds (`switchboard_core::live`): accepted with the WebSocket
//! Hibernation API, so an idle socket costs the object no duration; each keeps its token's
//! expiry as its attachment ([`attach_expiry`]), which survives hibernation.
//!
//! A newly committed event's frame is sent to every socket as the event commits: `send` only
//! hands the frame to the runtime, so no client is waited for, and the runtime holds it, like
//! the append's answer, until the row is durable. Frames leave in commit order, since the
//! object commits one event at a time.

use std::cell::Cell;

use switchboard_core::live::{CLOSE_TOKEN_EXPIRED, PING, PONG, SUBPROTOCOL};
use switchboard_core::protocol::subject::Watch;
use wasm_bindgen::prelude::{wasm_bindgen, JsValue};
use wasm_bindgen::JsCast;
use worker::js_sys::{Date, JsString};
use worker::worker_sys::ext::WebSocketExt;
use worker::worker_sys::WebSocketRequestResponsePair;
use worker::{Response, Result, State, WebSocket, WebSocketPair};

#[wasm_bindgen]
extern "C" {
    /// A runtime `WebSocket`, for `send` with a JavaScript string: one string for every
    /// socket, instead of one copy out of wasm memory per socket (`send_with_str`).
    type TextSocket;

    #[wasm_bindgen(method, catch)]
    fn send(this: &TextSocket, text: &JsString) -> std::result::Result<(), JsValue>;
}

/// Keeps a socket's token expiry through hibernation, as its attachment: unix milliseconds as
/// a bare JavaScript number, `null` for a token that does not expire. Not a serde struct:
/// `serialize_attachment` would bring serde_wasm_bindgen's serializer and deserializer into the
/// wasm for one number.
fn attach_expiry(ws: &WebSocket, expires_ms: Option<f64>) -> Result<()> {
    let value = expires_ms.map_or(JsValue::NULL, JsValue::from_f64);
    ws.as_ref().serialize_attachment(value)?;
    Ok(())
}

/// When the socket's token expires; `None` for one that does not.
fn expiry_of(ws: &WebSocket) -> Option<f64> {
    ws.as_ref().deserialize_attachment().ok()?.as_f64()
}

pub struct Sockets {
    state: State,
    /// No socket's token expires before this (unix milliseconds; infinity for none), once this
    /// instance has looked: until then every send checks each socket's expiry.
    no_expiry_before: Cell<Option<f64>>,
}

impl Sockets {
    pub fn new(state: State) -> Self {
        Self {
            state,
            no_expiry_before: Cell::new(None),
        }
    }

    pub fn count(&self) -> usize {
        self.state.get_websockets().len()
    }

    /// Accepts a socket for `watch`, sends it `snapshot` first, and answers the 101 with the
    /// client's end.
    pub fn accept(&self, watch: &Watch, snapshot: &str) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        let expires_ms = watch.expires_ms.map(|ms| ms as f64);
        attach_expiry(&pair.server, expires_ms)?;
        if let (Some(known), Some(expiry)) = (self.no_expiry_before.get(), expires_ms) {
            self.no_expiry_before.set(Some(known.min(expiry)));
        }
        self.state
            .set_websocket_auto_response(&WebSocketRequestResponsePair::new(PING, PONG)?);
        pair.server.send_with_str(snapshot)?;
        let mut response = Response::from_websocket(pair.client)?;
        if watch.answer_subprotocol {
            response
                .headers_mut()
                .set("sec-websocket-protocol", SUBPROTOCOL)?;
        }
        Ok(response)
    }

    /// Sends a committed event's frame (built only if some socket watches) to every socket whose
    /// token is still valid, as one JavaScript string for all of them. A socket closing
    /// meanwhile misses it; its client reconnects and starts from a snapshot.
    pub fn broadcast(&self, frame: impl FnOnce() -> String) {
        let sockets = self.state.get_websockets();
        if sockets.is_empty() {
            return;
        }
        let frame = JsString::from(frame().as_str());
        let now = Date::now();
        let check_each = self.no_expiry_before.get().is_none_or(|at| at <= now);
        let mut earliest = f64::INFINITY;
        for ws in sockets {
            if check_each {
                let expiry = expiry_of(&ws).unwrap_or(f64::INFINITY);
                earliest = earliest.min(expiry);
                if expiry <= now {
                    continue;
                }
            }
            let _ = ws.as_ref().unchecked_ref::<TextSocket>().send(&frame);
        }
        if check_each {
            self.no_expiry_before.set(Some(earliest));
        }
    }

    /// Closes every socket with `code` and `reason`.
    pub fn close_all(&self, code: u16, reason: &str) {
        for ws in self.state.get_websockets() {
            // A socket closing already has nothing left to tell.
            let _ = ws.close(Some(code), Some(reason));
        }
    }

    /// Closes every socket whose token expired by `now` ([`CLOSE_TOKEN_EXPIRED`]); answers the
    /// earliest expiry still ahead.
    pub fn close_expired(&self, now: f64) -> Option<f64> {
        let mut next = f64::INFINITY;
        for ws in self.state.get_websockets() {
            match expiry_of(&ws) {
                Some(expiry) if expiry <= now => {
                    // A socket closing already has nothing left to tell.
                    let _ = ws.close(Some(CLOSE_TOKEN_EXPIRED), Some("token expired"));
                }
                Some(expiry) => next = next.min(expiry),
                None => {}
            }
        }
        self.no_expiry_before.set(Some(next));
        next.is_finite().then_some(next)
    }
}
