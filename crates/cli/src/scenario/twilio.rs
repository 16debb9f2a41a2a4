//! Twilio voice status callbacks (`CallStatus`, with the per-call `SequenceNumber` and an RFC 2822
//! `Timestamp`) and SMS status callbacks (`MessageStatus`), both form `POST`s signed with
//! `X-Twilio-Signature`. Parameter names: docs/providers/twilio.md.

use switchboard_core::{Kind, Timestamp};
use time::format_description::well_known::Rfc2822;
use time::macros::format_description;

use super::{
    form_post, formatted, utc, Context, Lifecycle, Plan, ScenarioEvent, ScenarioIds, ScenarioName,
};
use crate::clock::IdSource;

const CALLER: &str = "+15017122661";
const CALLEE: &str = "+15558675310";
const API_VERSION: &str = "2010-04-01";

/// Ids shaped like Twilio's: `CA` or `SM` and 32 hex digits.
pub(super) fn fresh_ids(kind: Kind, source: &mut IdSource) -> ScenarioIds {
    let prefix = match kind {
        Kind::Call => "CA",
        Kind::Message => "SM",
    };
    ScenarioIds {
        subject_id: format!("{prefix}{}", source.hex(32)),
        session_id: String::new(),
        seed: source.next_u64(),
    }
}

pub(super) fn lifecycle(name: ScenarioName, context: &Context<'_>) -> Lifecycle {
    let account_sid = format!("AC{}", context.ids.source().hex(32));
    let call = |sequence: u32, status: &str, event: &str, offset: i64, extra: &[(&str, &str)]| {
        call_event(
            context,
            &account_sid,
            sequence,
            status,
            event,
            offset,
            extra,
        )
    };
    let message = |status: &str, offset: i64, extra: &[(&str, &str)]| {
        message_event(context, &account_sid, status, offset, extra)
    };
    match name {
        // Delivered: initiated, in-progress twice, completed, then the late ringing.
        ScenarioName::Answered => Lifecycle {
            events: vec![
                call(0, "initiated", "initiated", 0, &[]),
                call(1, "ringing", "ringing", 1_200, &[]),
                call(2, "in-progress", "answered", 6_000, &[]),
                call(
                    3,
                    "completed",
                    "completed",
                    21_000,
                    &[
                        ("CallDuration", "15"),
                        ("Duration", "1"),
                        ("SipResponseCode", "200"),
                    ],
                ),
            ],
            plan: Plan {
                late: 1,
                late_after: 3,
                duplicate: 2,
                duplicate_after: 2,
            },
        },
        // Delivered: initiated, busy, the late ringing, busy again. 486 is SIP "Busy Here".
        ScenarioName::Busy => Lifecycle {
            events: vec![
                call(0, "initiated", "initiated", 0, &[]),
                call(1, "ringing", "ringing", 1_000, &[]),
                call(
                    2,
                    "busy",
                    "completed",
                    4_000,
                    &[("CallDuration", "0"), ("SipResponseCode", "486")],
                ),
            ],
            plan: Plan {
                late: 1,
                late_after: 2,
                duplicate: 2,
                duplicate_after: 1,
            },
        },
        // Delivered: ringing before initiated, ringing again, no-answer. 487 is SIP "Request
        // Terminated" (Twilio gave up ringing).
        ScenarioName::NoAnswer => Lifecycle {
            events: vec![
                call(0, "initiated", "initiated", 0, &[]),
                call(1, "ringing", "ringing", 1_000, &[]),
                call(
                    2,
                    "no-answer",
                    "completed",
                    31_000,
                    &[("CallDuration", "0"), ("SipResponseCode", "487")],
                ),
            ],
            plan: Plan {
                late: 0,
                late_after: 1,
                duplicate: 1,
                duplicate_after: 0,
            },
        },
        // Sent through a Messaging Service, whose initial `accepted` has no callback, so
        // `queued` is reported. Delivered: queued, delivered, the late sent, delivered again.
        ScenarioName::SmsDelivered => {
            let done = formatted(
                context.at(5_000),
                format_description!("[year repr:last_two][month][day][hour][minute]"),
            );
            Lifecycle {
                events: vec![
                    message("queued", 0, &[]),
                    message("sent", 1_500, &[]),
                    message("delivered", 5_000, &[("RawDlrDoneDate", &done)]),
                ],
                plan: Plan {
                    late: 1,
                    late_after: 2,
                    duplicate: 2,
                    duplicate_after: 1,
                },
            }
        }
        // Delivered: queued, failed, failed again, then the late sending. Error 30001 is
        // "Queue overflow", a reason for `failed` (never handed to a carrier).
        ScenarioName::SmsFailed => Lifecycle {
            events: vec![
                message("queued", 0, &[]),
                message("sending", 1_000, &[]),
                message("failed", 2_500, &[("ErrorCode", "30001")]),
            ],
            plan: Plan {
                late: 1,
                late_after: 2,
                duplicate: 2,
                duplicate_after: 2,
            },
        },
    }
}

/// A voice status callback for the `event` status-callback event.
fn call_event(
    context: &Context<'_>,
    account_sid: &str,
    sequence: u32,
    status: &str,
    event: &str,
    offset: i64,
    extra: &[(&str, &str)],
) -> ScenarioEvent {
    let occurred_at = context.at(offset);
    let sequence = sequence.to_string();
    let timestamp = rfc2822(occurred_at);
    let mut params = vec![
        ("Called", CALLEE),
        ("ToState", "CA"),
        ("CallerCountry", "US"),
        ("Direction", "outbound-api"),
        ("Timestamp", &timestamp),
        ("CallbackSource", "call-progress-events"),
        ("SequenceNumber", &sequence),
        ("CallSid", &context.ids.subject_id),
        ("To", CALLEE),
        ("ToCountry", "US"),
        ("StatusCallbackEvent", event),
        ("CallStatus", status),
        ("From", CALLER),
        ("AccountSid", account_sid),
        ("ApiVersion", API_VERSION),
        ("Caller", CALLER),
    ];
    params.extend_from_slice(extra);
    ScenarioEvent::new(status, occurred_at, form_post(context.url, params))
}

/// An SMS status callback (`MessageStatus`, with its legacy twin `SmsStatus`).
fn message_event(
    context: &Context<'_>,
    account_sid: &str,
    status: &str,
    offset: i64,
    extra: &[(&str, &str)],
) -> ScenarioEvent {
    let sid = context.ids.subject_id.as_str();
    let mut params = vec![
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", CALLEE),
        ("MessageSid", sid),
        ("AccountSid", account_sid),
        ("From", CALLER),
        ("ApiVersion", API_VERSION),
    ];
    params.extend_from_slice(extra);
    ScenarioEvent::new(status, context.at(offset), form_post(context.url, params))
}

/// `Thu, 01 Jan 2026 00:00:05 +0000`, the shape of a voice callback's `Timestamp`.
fn rfc2822(at: Timestamp) -> String {
    utc(at).format(&Rfc2822).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use switchboard_core::request::parse_form;
    use switchboard_core::ProviderId;

    use super::super::tests::scenario;
    use super::*;

    fn params(event: &ScenarioEvent) -> Vec<(String, String)> {
        assert_eq!(event.request.method, "POST");
        assert_eq!(
            event.request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        parse_form(&event.request.body)
    }

    fn value<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    #[test]
    fn calls_count_their_sequence_and_end_with_the_outcome() {
        for (name, last) in [
            (ScenarioName::Answered, "completed"),
            (ScenarioName::Busy, "busy"),
            (ScenarioName::NoAnswer, "no-answer"),
        ] {
            let scenario = scenario(ProviderId::Twilio, name);
            assert!(scenario.subject_id.starts_with("CA") && scenario.subject_id.len() == 34);
            for (index, event) in scenario.events.iter().enumerate() {
                let params = params(event);
                assert_eq!(
                    value(&params, "CallSid"),
                    Some(scenario.subject_id.as_str())
                );
                assert_eq!(value(&params, "CallStatus"), Some(event.label.as_str()));
                assert_eq!(
                    value(&params, "SequenceNumber"),
                    Some(index.to_string().as_str())
                );
                let timestamp = value(&params, "Timestamp").unwrap();
                assert_eq!(timestamp, rfc2822(event.occurred_at));
                assert!(value(&params, "AccountSid").unwrap().starts_with("AC"));
            }
            assert_eq!(scenario.events.last().unwrap().label, last);
        }
        let answered = scenario(ProviderId::Twilio, ScenarioName::Answered);
        let completed = params(&answered.events[3]);
        assert_eq!(value(&completed, "CallDuration"), Some("15"));
        assert_eq!(
            value(&completed, "Timestamp"),
            Some("Thu, 01 Jan 2026 00:00:21 +0000")
        );
    }

    #[test]
    fn messages_carry_both_status_names_and_the_error_code() {
        for (name, last) in [
            (ScenarioName::SmsDelivered, "delivered"),
            (ScenarioName::SmsFailed, "failed"),
        ] {
            let scenario = scenario(ProviderId::Twilio, name);
            assert!(scenario.subject_id.starts_with("SM"));
            for event in &scenario.events {
                let params = params(event);
                assert_eq!(
                    value(&params, "MessageSid"),
                    Some(scenario.subject_id.as_str())
                );
                assert_eq!(value(&params, "SmsSid"), value(&params, "MessageSid"));
                assert_eq!(value(&params, "MessageStatus"), Some(event.label.as_str()));
                assert_eq!(value(&params, "SmsStatus"), Some(event.label.as_str()));
            }
            assert_eq!(scenario.events.last().unwrap().label, last);
        }
        let failed = scenario(ProviderId::Twilio, ScenarioName::SmsFailed);
        assert_eq!(
            value(&params(&failed.events[2]), "ErrorCode"),
            Some("30001")
        );
        let delivered = scenario(ProviderId::Twilio, ScenarioName::SmsDelivered);
        assert_eq!(
            value(&params(&delivered.events[2]), "RawDlrDoneDate"),
            Some("2601010000")
        );
    }

    /// Every scenario, signed, verified and merged in delivery order by the real provider.
    #[test]
    fn the_core_reaches_the_expected_status_from_the_delivery_order() {
        use switchboard_core::providers::twilio::{Twilio, TwilioConfig};
        use switchboard_core::secret::Secret;

        use super::super::available;
        use super::super::tests::assert_core_reaches_expected_status;

        let twilio = Twilio::new(TwilioConfig {
            secrets: vec![Secret::new("simulator-test-auth-token")],
        });
        for name in available(ProviderId::Twilio) {
            assert_core_reaches_expected_status(&twilio, &scenario(ProviderId::Twilio, name));
        }
    }
}
