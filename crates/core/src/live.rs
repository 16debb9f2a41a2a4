//! Live state over WebSockets: what a frontend watching one call or message receives, and how it
//! offers its credentials.
//!
//! The subject's Durable Object holds the sockets (Hibernation API: an idle socket costs no
//! object duration). On connect it sends a [`snapshot_frame`]; after each newly committed event
//! (never a duplicate), in commit order, an [`event_frame`]. A socket authorized by a token that
//! expires is closed with [`CLOSE_TOKEN_EXPIRED`] once it has expired. `ping` is answered `pong`
//! by the runtime without waking the object.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::Summary;

/// The subprotocol a client offers, and the server answers.
pub const SUBPROTOCOL: &str = "switchboard.v1";

/// Browsers cannot set headers on a WebSocket: a token may be offered as the subprotocol
/// `bearer.<token>` beside [`SUBPROTOCOL`].
const BEARER_PREFIX: &str = "bearer.";

/// Sockets one subject holds at most; the next one is refused (429 `too_many_sockets`).
pub const MAX_SOCKETS_PER_SUBJECT: usize = 100;

/// The close code of a socket whose token has expired.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;

/// The close code of every socket of a subject when it is erased (its retention ran out, or
/// it was erased on request). A socket opened again watches the id afresh: a later event for
/// it starts a new subject.
pub const CLOSE_SUBJECT_ERASED: u16 = 4002;

/// The text frame the runtime answers with [`PONG`] on the object's behalf.
pub const PING: &str = "ping";
pub const PONG: &str = "pong";

/// The subprotocols a client offered in `Sec-WebSocket-Protocol`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OfferedProtocols<'a> {
    /// Some subprotocol was offered: the answer must then name [`SUBPROTOCOL`], which browsers
    /// require to be among those offered.
    pub any: bool,
    /// [`SUBPROTOCOL`] was offered.
    pub switchboard: bool,
    /// The token of a `bearer.<token>` offer.
    pub bearer: Option<&'a str>,
}

impl<'a> OfferedProtocols<'a> {
    /// Reads a `Sec-WebSocket-Protocol` value: a comma-separated list (RFC 6455 §11.3.4); the
    /// header may also be repeated, which the runtime joins with `, `.
    pub fn parse(header: &'a str) -> Self {
        let mut offered = Self::default();
        for protocol in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            offered.any = true;
            if protocol == SUBPROTOCOL {
                offered.switchboard = true;
            } else if let Some(token) = protocol.strip_prefix(BEARER_PREFIX) {
                offered.bearer = offered.bearer.or(Some(token).filter(|t| !t.is_empty()));
            }
        }
        offered
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Frame<'a> {
    Snapshot {
        state: Option<&'a Summary>,
    },
    Event {
        event: &'a RawValue,
        state: &'a Summary,
    },
}

/// `{"type": "snapshot", "state": <the summary, or null before any event>}`.
pub fn snapshot_frame(state: Option<&Summary>) -> String {
    serde_json::to_string(&Frame::Snapshot { state }).expect("a summary serializes")
}

/// `{"type": "event", "event": <the event as stored>, "state": <the summary after it>}`; the
/// event is the JSON text the object stores, so it is not encoded again.
pub fn event_frame(event: &RawValue, state: &Summary) -> String {
    serde_json::to_string(&Frame::Event { event, state }).expect("a summary serializes")
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::{Kind, ProviderId, SubjectState};

    fn summary() -> Summary {
        SubjectState::new(ProviderId::Twilio, Kind::Call, "CA1").summary(0)
    }

    #[test]
    fn reads_the_offered_subprotocols() {
        let offered = OfferedProtocols::parse("switchboard.v1, bearer.abc.def.ghi");
        assert_eq!(
            offered,
            OfferedProtocols {
                any: true,
                switchboard: true,
                bearer: Some("abc.def.ghi"),
            }
        );
        assert_eq!(OfferedProtocols::parse(""), OfferedProtocols::default());
        let other = OfferedProtocols::parse("chat,bearer.");
        assert!(other.any && !other.switchboard && other.bearer.is_none());
        let first = OfferedProtocols::parse("bearer.one, bearer.two,switchboard.v1");
        assert_eq!(first.bearer, Some("one"));
        assert!(first.switchboard);
        assert!(!OfferedProtocols::parse("Switchboard.V1").switchboard);
    }

    #[test]
    fn frames_carry_their_type_the_state_and_the_event_as_stored() {
        let state = summary();
        let snapshot: Value = serde_json::from_str(&snapshot_frame(Some(&state))).unwrap();
        assert_eq!(snapshot["type"], "snapshot");
        assert_eq!(snapshot["state"], serde_json::to_value(&state).unwrap());
        let empty: Value = serde_json::from_str(&snapshot_frame(None)).unwrap();
        assert_eq!(empty, json!({"type": "snapshot", "state": null}));

        let stored =
            RawValue::from_string(r#"{"event_id":"twilio:1","n":18446744073709551615}"#.into())
                .unwrap();
        let text = event_frame(&stored, &state);
        assert!(text.contains(r#""event":{"event_id":"twilio:1","n":18446744073709551615}"#));
        let event: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(event["type"], "event");
        assert_eq!(event["state"]["id"], "CA1");
    }
}
