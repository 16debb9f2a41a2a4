//! Bird (new platform) voice events: JSON `POST`s signed with `messagebird-signature` over
//! `timestamp`, the URL and the body's SHA-256. The envelope is UNVERIFIED (docs/providers/bird.md):
//! the documented call object under `payload`, in the `{"service": "channels", "event":
//! "voice.outbound", "payload": {…}}` shape of other Bird channel events. Each delivery carries
//! its own `messagebird-request-id`. Voice only.

use serde_json::{json, Value};
use switchboard_core::{CapturedRequest, Kind, Timestamp};

use super::{Context, Lifecycle, Plan, ScenarioEvent, ScenarioIds, ScenarioName};
use crate::clock::IdSource;

const CALLER: &str = "+31201234567";
const CALLEE: &str = "+31612345678";

/// A call id (uuid).
pub(super) fn fresh_ids(_kind: Kind, source: &mut IdSource) -> ScenarioIds {
    ScenarioIds {
        subject_id: source.uuid(),
        session_id: String::new(),
        seed: source.next_u64(),
    }
}

/// When the call rang and was answered (offsets), and how it ended.
#[derive(Clone, Copy)]
struct Call {
    ringing: i64,
    answered: Option<i64>,
    hangup: Option<(&'static str, &'static str)>,
}

pub(super) fn lifecycle(name: ScenarioName, context: &Context<'_>) -> Option<Lifecycle> {
    let mut ids = context.ids.source();
    let channel_id = ids.uuid();
    let mut request_ids = move || ids.uuid();
    let mut event = |call: &Call, status: &str, offset: i64| {
        call_event(context, &channel_id, request_ids(), call, status, offset)
    };
    Some(match name {
        // Delivered: starting, ongoing twice, completed, then the late ringing.
        ScenarioName::Answered => {
            let call = Call {
                ringing: 1_000,
                answered: Some(5_000),
                hangup: Some(("16", "callee")),
            };
            Lifecycle {
                events: vec![
                    event(&call, "starting", 0),
                    event(&call, "ringing", 1_000),
                    event(&call, "ongoing", 5_000),
                    event(&call, "completed", 20_000),
                ],
                plan: Plan {
                    late: 1,
                    late_after: 3,
                    duplicate: 2,
                    duplicate_after: 2,
                },
            }
        }
        // Delivered: starting, busy, the late ringing, busy again. Q.850 cause 17: user busy.
        ScenarioName::Busy => {
            let call = Call {
                ringing: 800,
                answered: None,
                hangup: Some(("17", "callee")),
            };
            Lifecycle {
                events: vec![
                    event(&call, "starting", 0),
                    event(&call, "ringing", 800),
                    event(&call, "busy", 3_800),
                ],
                plan: Plan {
                    late: 1,
                    late_after: 2,
                    duplicate: 2,
                    duplicate_after: 1,
                },
            }
        }
        // Delivered: ringing before starting, ringing again, no-answer. Q.850 cause 19: no
        // answer from user.
        ScenarioName::NoAnswer => {
            let call = Call {
                ringing: 1_000,
                answered: None,
                hangup: Some(("19", "unknown")),
            };
            Lifecycle {
                events: vec![
                    event(&call, "starting", 0),
                    event(&call, "ringing", 1_000),
                    event(&call, "no-answer", 31_000),
                ],
                plan: Plan {
                    late: 0,
                    late_after: 1,
                    duplicate: 1,
                    duplicate_after: 0,
                },
            }
        }
        ScenarioName::SmsDelivered | ScenarioName::SmsFailed => return None,
    })
}

fn call_event(
    context: &Context<'_>,
    channel_id: &str,
    request_id: String,
    call: &Call,
    status: &str,
    offset: i64,
) -> ScenarioEvent {
    let occurred_at = context.at(offset);
    let time_if = |at: i64| -> Value {
        if at <= offset {
            json!(context.at(at).to_string())
        } else {
            Value::Null
        }
    };
    let terminal = matches!(status, "completed" | "busy" | "no-answer" | "failed");
    let mut object = json!({
        "id": context.ids.subject_id,
        "channelId": channel_id,
        "from": CALLER,
        "to": CALLEE,
        "direction": "outgoing",
        "type": "pstn",
        "status": status,
        "createdAt": Timestamp::to_string(&context.at(0)),
        "updatedAt": occurred_at.to_string(),
        "ringingAt": time_if(call.ringing),
        "answeredAt": call.answered.map_or(Value::Null, time_if),
        "endedAt": if terminal { json!(occurred_at.to_string()) } else { Value::Null },
    });
    if terminal {
        let duration = call
            .answered
            .map_or(0, |answered| (offset - answered) / 1000);
        object["duration"] = json!(duration);
        if let Some((cause, source)) = call.hangup {
            object["hangupCauseCode"] = json!(cause);
            object["hangupSource"] = json!(source);
        }
    }
    let body = json!({
        "service": "channels",
        "event": "voice.outbound",
        "payload": object
    });
    let request = CapturedRequest::new("POST", context.url)
        .with_header("content-type", "application/json")
        .with_header("messagebird-request-id", &request_id)
        .with_body(body.to_string());
    ScenarioEvent::new(status, occurred_at, request)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use switchboard_core::ProviderId;

    use super::super::tests::scenario;
    use super::*;

    #[test]
    fn events_carry_the_call_object_under_payload() {
        for (name, last) in [
            (ScenarioName::Answered, "completed"),
            (ScenarioName::Busy, "busy"),
            (ScenarioName::NoAnswer, "no-answer"),
        ] {
            let scenario = scenario(ProviderId::Bird, name);
            let mut request_ids = BTreeSet::new();
            for event in &scenario.events {
                let body: Value = serde_json::from_slice(&event.request.body).unwrap();
                assert_eq!(body["event"], "voice.outbound");
                assert_eq!(body["payload"]["id"], scenario.subject_id.as_str());
                assert_eq!(body["payload"]["status"], event.label.as_str());
                assert_eq!(
                    body["payload"]["updatedAt"],
                    event.occurred_at.to_string().as_str()
                );
                request_ids.insert(event.request.header("messagebird-request-id").unwrap());
            }
            assert_eq!(request_ids.len(), scenario.events.len());
            assert_eq!(scenario.events.last().unwrap().label, last);
        }
        let answered = scenario(ProviderId::Bird, ScenarioName::Answered);
        let body: Value = serde_json::from_slice(&answered.events[3].request.body).unwrap();
        assert_eq!(body["payload"]["duration"], 15);
        assert_eq!(body["payload"]["answeredAt"], "2026-01-01T00:00:05.000Z");
    }

    /// Every scenario, signed, verified and merged in delivery order by the real provider.
    #[test]
    fn the_core_reaches_the_expected_status_from_the_delivery_order() {
        use switchboard_core::providers::bird::{Bird, BirdConfig};
        use switchboard_core::secret::Secret;

        use super::super::available;
        use super::super::tests::assert_core_reaches_expected_status;

        let bird = Bird::new(BirdConfig {
            secrets: vec![Secret::new("simulator-test-signing-key")],
            tolerance_seconds: 300,
        });
        for name in available(ProviderId::Bird) {
            assert_core_reaches_expected_status(&bird, &scenario(ProviderId::Bird, name));
        }
    }
}
