//! Telnyx Call Control v2 call events and Messaging events: JSON `POST`s in the v2 envelope
//! `{"data": {"record_type": "event", "event_type", "id", "occurred_at", "payload"}, "meta"}`,
//! pretty-printed as Telnyx sends them, signed with Ed25519 over `telnyx-timestamp|body`.
//! Field names: docs/providers/telnyx.md.
//!
//! Calls are keyed by `payload.call_leg_id` and also carry `call_control_id` and
//! `call_session_id`; messages by `payload.id`. `data.id` is unique per event.

use serde_json::{json, Value};
use switchboard_core::{Kind, Timestamp};
use time::macros::format_description;

use super::{
    formatted, json_post, Context, Lifecycle, Plan, ScenarioEvent, ScenarioIds, ScenarioName,
};
use crate::clock::IdSource;

const CALLER: &str = "+13125550100";
const CALLEE: &str = "+13125550123";

/// A call leg id (uuid) and its session id (uuid), or a message id (uuid).
pub(super) fn fresh_ids(_kind: Kind, source: &mut IdSource) -> ScenarioIds {
    ScenarioIds {
        subject_id: source.uuid(),
        session_id: source.uuid(),
        seed: source.next_u64(),
    }
}

/// Where a hangup came from and why.
struct Hangup {
    cause: &'static str,
    source: &'static str,
    sip: &'static str,
}

pub(super) fn lifecycle(name: ScenarioName, context: &Context<'_>) -> Lifecycle {
    let mut ids = context.ids.source();
    let call_control_id = format!("v3:{}", ids.hex(40));
    let connection_id = (ids.next_u64() % 10u64.pow(18)).to_string();
    let call = Call {
        context,
        call_control_id: &call_control_id,
        connection_id: &connection_id,
        start: context.at(0),
    };
    // One fresh `data.id` per event, drawn in event order.
    let mut event_ids = || ids.uuid();
    // Delivered in both call lifecycles that have two events: the hangup, the late
    // call.initiated, the hangup again.
    let two_events = Plan {
        late: 0,
        late_after: 1,
        duplicate: 1,
        duplicate_after: 0,
    };
    match name {
        // Delivered: initiated, hangup, the late answered, hangup again.
        ScenarioName::Answered => Lifecycle {
            events: vec![
                call.event(event_ids(), "call.initiated", 0, None),
                call.event(event_ids(), "call.answered", 4_000, None),
                call.event(
                    event_ids(),
                    "call.hangup",
                    16_000,
                    Some(Hangup {
                        cause: "normal_clearing",
                        source: "caller",
                        sip: "200",
                    }),
                ),
            ],
            plan: Plan {
                late: 1,
                late_after: 2,
                duplicate: 2,
                duplicate_after: 1,
            },
        },
        ScenarioName::Busy => Lifecycle {
            events: vec![
                call.event(event_ids(), "call.initiated", 0, None),
                call.event(
                    event_ids(),
                    "call.hangup",
                    3_000,
                    Some(Hangup {
                        cause: "user_busy",
                        source: "callee",
                        sip: "486",
                    }),
                ),
            ],
            plan: two_events,
        },
        ScenarioName::NoAnswer => Lifecycle {
            events: vec![
                call.event(event_ids(), "call.initiated", 0, None),
                call.event(
                    event_ids(),
                    "call.hangup",
                    30_000,
                    Some(Hangup {
                        cause: "timeout",
                        source: "unknown",
                        sip: "487",
                    }),
                ),
            ],
            plan: two_events,
        },
        // Delivered: finalized, the late message.sent, finalized again.
        ScenarioName::SmsDelivered => Lifecycle {
            events: vec![
                message(context, event_ids(), "message.sent", "sent", 0, None),
                message(
                    context,
                    event_ids(),
                    "message.finalized",
                    "delivered",
                    4_000,
                    None,
                ),
            ],
            plan: two_events,
        },
        // Error 40008 is Telnyx's "Undeliverable".
        ScenarioName::SmsFailed => Lifecycle {
            events: vec![
                message(context, event_ids(), "message.sent", "sent", 0, None),
                message(
                    context,
                    event_ids(),
                    "message.finalized",
                    "delivery_failed",
                    6_000,
                    Some(json!({
                        "code": "40008",
                        "title": "Undeliverable",
                        "detail": "The message was not delivered to the recipient's handset."
                    })),
                ),
            ],
            plan: two_events,
        },
    }
}

/// `2026-01-01T00:00:04.000000Z`: Telnyx times have microseconds.
fn telnyx_time(at: Timestamp) -> String {
    formatted(
        at,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"),
    )
}

/// The v2 envelope around `payload`, as Telnyx pretty-prints it.
fn envelope(
    context: &Context<'_>,
    event_id: String,
    event_type: &str,
    occurred_at: Timestamp,
    payload: Value,
) -> String {
    let body = json!({
        "data": {
            "event_type": event_type,
            "id": event_id,
            "occurred_at": telnyx_time(occurred_at),
            "payload": payload,
            "record_type": "event"
        },
        "meta": {"attempt": 1, "delivered_to": context.url}
    });
    serde_json::to_string_pretty(&body).unwrap_or_default()
}

/// The fields every event of one call leg shares.
struct Call<'a> {
    context: &'a Context<'a>,
    call_control_id: &'a str,
    connection_id: &'a str,
    start: Timestamp,
}

impl Call<'_> {
    fn event(
        &self,
        event_id: String,
        event_type: &str,
        offset: i64,
        hangup: Option<Hangup>,
    ) -> ScenarioEvent {
        let context = self.context;
        let occurred_at = context.at(offset);
        let mut payload = json!({
            "call_control_id": self.call_control_id,
            "call_leg_id": context.ids.subject_id,
            "call_session_id": context.ids.session_id,
            "client_state": null,
            "connection_id": self.connection_id,
            "from": CALLER,
            "to": CALLEE,
        });
        if event_type == "call.initiated" {
            payload["direction"] = json!("outgoing");
            payload["state"] = json!("bridging");
        } else {
            payload["start_time"] = json!(telnyx_time(self.start));
        }
        if let Some(hangup) = hangup {
            payload["state"] = json!("hangup");
            payload["end_time"] = json!(telnyx_time(occurred_at));
            payload["hangup_cause"] = json!(hangup.cause);
            payload["hangup_source"] = json!(hangup.source);
            payload["sip_hangup_cause"] = json!(hangup.sip);
        }
        let body = envelope(context, event_id, event_type, occurred_at, payload);
        ScenarioEvent::new(event_type, occurred_at, json_post(context.url, body))
    }
}

/// A Messaging event about an outbound SMS to one recipient, whose status is `status`.
fn message(
    context: &Context<'_>,
    event_id: String,
    event_type: &str,
    status: &str,
    offset: i64,
    error: Option<Value>,
) -> ScenarioEvent {
    let occurred_at = context.at(offset);
    let sent_at = telnyx_time(context.at(0));
    let finalized = event_type == "message.finalized";
    let payload = json!({
        "completed_at": if finalized { json!(telnyx_time(occurred_at)) } else { Value::Null },
        "cost": {"amount": "0.0040", "currency": "USD"},
        "direction": "outbound",
        "encoding": "GSM-7",
        "errors": error.into_iter().collect::<Vec<_>>(),
        "from": {"carrier": "Telnyx", "line_type": "VoIP", "phone_number": CALLER},
        "id": context.ids.subject_id,
        "parts": 1,
        "record_type": "message",
        "sent_at": sent_at,
        "text": "Your Switchboard code is 4242",
        "to": [{
            "carrier": "T-MOBILE USA, INC.",
            "line_type": "Wireless",
            "phone_number": CALLEE,
            "status": status
        }],
        "type": "SMS",
        "webhook_url": context.url
    });
    let body = envelope(context, event_id, event_type, occurred_at, payload);
    ScenarioEvent::new(status, occurred_at, json_post(context.url, body))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use switchboard_core::ProviderId;

    use super::super::tests::scenario;
    use super::*;

    fn body(event: &ScenarioEvent) -> Value {
        assert_eq!(event.request.method, "POST");
        assert_eq!(
            event.request.header("content-type"),
            Some("application/json")
        );
        let text = std::str::from_utf8(&event.request.body).unwrap();
        assert!(text.contains("\n  "), "pretty-printed: {text}");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn calls_are_keyed_by_leg_with_control_and_session_ids() {
        for (name, cause) in [
            (ScenarioName::Answered, "normal_clearing"),
            (ScenarioName::Busy, "user_busy"),
            (ScenarioName::NoAnswer, "timeout"),
        ] {
            let scenario = scenario(ProviderId::Telnyx, name);
            let mut event_ids = BTreeSet::new();
            let mut control_ids = BTreeSet::new();
            for event in &scenario.events {
                let body = body(event);
                let data = &body["data"];
                assert_eq!(data["event_type"], event.label.as_str());
                assert_eq!(data["occurred_at"], telnyx_time(event.occurred_at).as_str());
                let payload = &data["payload"];
                assert_eq!(payload["call_leg_id"], scenario.subject_id.as_str());
                assert!(payload["call_session_id"].as_str().unwrap().len() == 36);
                control_ids.insert(payload["call_control_id"].as_str().unwrap().to_owned());
                event_ids.insert(data["id"].as_str().unwrap().to_owned());
            }
            assert_eq!(event_ids.len(), scenario.events.len(), "{name:?}");
            assert_eq!(control_ids.len(), 1, "{name:?}");
            assert!(control_ids.iter().all(|id| id.starts_with("v3:")));
            let hangup = body(scenario.events.last().unwrap());
            assert_eq!(hangup["data"]["event_type"], "call.hangup");
            assert_eq!(hangup["data"]["payload"]["hangup_cause"], cause);
        }
        let answered = scenario(ProviderId::Telnyx, ScenarioName::Answered);
        let hangup = body(&answered.events[2]);
        assert_eq!(hangup["data"]["occurred_at"], "2026-01-01T00:00:16.000000Z");
    }

    #[test]
    fn messages_are_keyed_by_payload_id_with_one_event_id_each() {
        for (name, last) in [
            (ScenarioName::SmsDelivered, "delivered"),
            (ScenarioName::SmsFailed, "delivery_failed"),
        ] {
            let scenario = scenario(ProviderId::Telnyx, name);
            let bodies: Vec<Value> = scenario.events.iter().map(body).collect();
            for (event, body) in scenario.events.iter().zip(&bodies) {
                assert_eq!(body["data"]["payload"]["id"], scenario.subject_id.as_str());
                assert_eq!(
                    body["data"]["payload"]["to"][0]["status"],
                    event.label.as_str()
                );
            }
            assert_ne!(bodies[0]["data"]["id"], bodies[1]["data"]["id"]);
            assert_eq!(bodies[1]["data"]["event_type"], "message.finalized");
            assert_eq!(scenario.events[1].label, last);
        }
    }

    /// Every scenario, signed with a development key, verified with its public half and merged
    /// in delivery order by the real provider.
    #[test]
    fn the_core_reaches_the_expected_status_from_the_delivery_order() {
        use switchboard_core::providers::telnyx::{Telnyx, TelnyxConfig};

        use super::super::available;
        use super::super::tests::{assert_core_reaches_expected_status, TELNYX_SEED};

        let signing_key = TelnyxConfig::parse_signing_key(TELNYX_SEED).unwrap();
        let telnyx = Telnyx::new(TelnyxConfig {
            public_keys: vec![signing_key.verifying_key()],
            signing_key: Some(signing_key),
            tolerance_seconds: 300,
        });
        for name in available(ProviderId::Telnyx) {
            assert_core_reaches_expected_status(&telnyx, &scenario(ProviderId::Telnyx, name));
        }
    }
}
