//! Vonage Business Communications (VIS) CALL events: JSON `POST`s of `{"event": {…}}` with the
//! delivery metadata in headers (`metadataPolicy: HEADER`: `X-VON-Webhook-Id`,
//! `X-VON-Delivery-Id`, `X-VON-Attempt`; the signature goes in `X-VON-Signature`). Fields and the
//! state machine: docs/providers/vonage-business.md.
//!
//! VIS has no busy state (a call ends `ANSWERED`, `CANCELLED`, `MISSED` or `REJECTED`), so there
//! is no busy scenario; and no SMS.

use serde_json::{json, Value};
use switchboard_core::{CapturedRequest, Kind, Timestamp};
use time::macros::format_description;

use super::{formatted, Context, Lifecycle, Plan, ScenarioEvent, ScenarioIds, ScenarioName};
use crate::clock::IdSource;

const REMOTE_PARTY: &str = "14155550123";
const ACCOUNT_ID: &str = "376";
const USER_ID: &str = "24785";

/// A VIS event `id`: 24 hex digits.
pub(super) fn fresh_ids(_kind: Kind, source: &mut IdSource) -> ScenarioIds {
    ScenarioIds {
        subject_id: source.hex(24),
        session_id: String::new(),
        seed: source.next_u64(),
    }
}

/// Which way the call goes, and when it was answered and ended (offsets), as far as known.
#[derive(Clone, Copy)]
struct Call {
    direction: &'static str,
    answered: Option<i64>,
}

pub(super) fn lifecycle(name: ScenarioName, context: &Context<'_>) -> Option<Lifecycle> {
    let mut ids = context.ids.source();
    let webhook_id = ids.uuid();
    let external_id = format!("callhalf-{}:0", ids.next_u64() % 100_000_000_000);
    let mut delivery_ids = move || ids.uuid();
    let mut event = |call: Call, state: &str, offset: i64, ended: bool| {
        call_event(
            context,
            &webhook_id,
            &external_id,
            delivery_ids(),
            call,
            state,
            offset,
            ended,
        )
    };
    Some(match name {
        // An outbound call answered after 3 s and hung up 12 s later (`ANSWERED` means "ended
        // after being answered"). Delivered: RINGING, ANSWERED, the late ACTIVE, ANSWERED again.
        ScenarioName::Answered => {
            let call = Call {
                direction: "OUTBOUND",
                answered: Some(3_000),
            };
            Lifecycle {
                events: vec![
                    event(call, "RINGING", 0, false),
                    event(call, "ACTIVE", 3_000, false),
                    event(call, "ANSWERED", 15_000, true),
                ],
                plan: Plan {
                    late: 1,
                    late_after: 2,
                    duplicate: 2,
                    duplicate_after: 1,
                },
            }
        }
        // An inbound call nobody picks up. Delivered: RINGING before INITIALIZING, RINGING
        // again, MISSED.
        ScenarioName::NoAnswer => {
            let call = Call {
                direction: "INBOUND",
                answered: None,
            };
            Lifecycle {
                events: vec![
                    event(call, "INITIALIZING", 0, false),
                    event(call, "RINGING", 500, false),
                    event(call, "MISSED", 25_500, true),
                ],
                plan: Plan {
                    late: 0,
                    late_after: 1,
                    duplicate: 1,
                    duplicate_after: 0,
                },
            }
        }
        ScenarioName::Busy | ScenarioName::SmsDelivered | ScenarioName::SmsFailed => return None,
    })
}

/// `2026-01-01T00:00:05.000+0000`, VIS's times.
fn vis_time(at: Timestamp) -> String {
    formatted(
        at,
        format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
        ),
    )
}

#[allow(clippy::too_many_arguments)]
fn call_event(
    context: &Context<'_>,
    webhook_id: &str,
    external_id: &str,
    delivery_id: String,
    call: Call,
    state: &str,
    offset: i64,
    ended: bool,
) -> ScenarioEvent {
    let occurred_at = context.at(offset);
    let answered = call
        .answered
        .filter(|&answered| answered <= offset)
        .map(|answered| context.at(answered));
    // Only an answered call that ended has a duration (milliseconds).
    let duration = match (answered, ended) {
        (Some(answered), true) => occurred_at.millis() - answered.millis(),
        _ => 0,
    };
    let time_or_null = |at: Option<Timestamp>| at.map_or(Value::Null, |at| json!(vis_time(at)));
    let event = json!({
        "accountId": ACCOUNT_ID,
        "answerTime": time_or_null(answered),
        "direction": call.direction,
        "duration": duration,
        "endTime": time_or_null(ended.then_some(occurred_at)),
        "externalId": external_id,
        "id": context.ids.subject_id,
        "internal": false,
        "phoneNumber": REMOTE_PARTY,
        "startTime": vis_time(context.at(0)),
        "state": state,
        "type": "CALL",
        "ucpType": "VBS",
        "userId": USER_ID
    });
    let request = CapturedRequest::new("POST", context.url)
        .with_header("content-type", "application/json")
        .with_header("x-von-webhook-id", webhook_id)
        .with_header("x-von-delivery-id", &delivery_id)
        .with_header("x-von-attempt", "1")
        .with_body(json!({ "event": event }).to_string());
    ScenarioEvent::new(state, occurred_at, request)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use switchboard_core::ProviderId;

    use super::super::tests::scenario;
    use super::*;

    #[test]
    fn events_share_the_call_id_and_have_one_delivery_id_each() {
        for (name, last) in [
            (ScenarioName::Answered, "ANSWERED"),
            (ScenarioName::NoAnswer, "MISSED"),
        ] {
            let scenario = scenario(ProviderId::VonageBusiness, name);
            assert_eq!(scenario.subject_id.len(), 24);
            let mut deliveries = BTreeSet::new();
            for event in &scenario.events {
                let body: Value = serde_json::from_slice(&event.request.body).unwrap();
                assert_eq!(body["event"]["id"], scenario.subject_id.as_str());
                assert_eq!(body["event"]["state"], event.label.as_str());
                assert_eq!(body["event"]["type"], "CALL");
                deliveries.insert(event.request.header("x-von-delivery-id").unwrap());
            }
            assert_eq!(deliveries.len(), scenario.events.len());
            assert_eq!(scenario.events.last().unwrap().label, last);
        }
        let answered = scenario(ProviderId::VonageBusiness, ScenarioName::Answered);
        let body: Value = serde_json::from_slice(&answered.events[2].request.body).unwrap();
        assert_eq!(body["event"]["duration"], 12_000);
        assert_eq!(body["event"]["answerTime"], "2026-01-01T00:00:03.000+0000");
        assert_eq!(body["event"]["endTime"], "2026-01-01T00:00:15.000+0000");
    }

    /// Every scenario, signed, verified and merged in delivery order by the real provider.
    #[test]
    fn the_core_reaches_the_expected_status_from_the_delivery_order() {
        use switchboard_core::providers::vonage_business::{VonageBusiness, VonageBusinessConfig};
        use switchboard_core::secret::Secret;

        use super::super::available;
        use super::super::tests::assert_core_reaches_expected_status;

        let vis = VonageBusiness::new(VonageBusinessConfig {
            secrets: vec![Secret::new("simulator-test-signing-key")],
        });
        for name in available(ProviderId::VonageBusiness) {
            let scenario = scenario(ProviderId::VonageBusiness, name);
            assert_core_reaches_expected_status(&vis, &scenario);
        }
    }
}
