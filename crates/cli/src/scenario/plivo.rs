//! Plivo call callbacks (ring, answer and hangup URLs: `CallStatus` with `Event`) and message
//! status callbacks (`Status`, with the per-message `Sequence`), form `POST`s signed with
//! `X-Plivo-Signature-V3` and its nonce. Parameter names: docs/providers/plivo.md.

use switchboard_core::{Kind, Timestamp};
use time::macros::format_description;

use super::{
    form_post, formatted, Context, Lifecycle, Plan, ScenarioEvent, ScenarioIds, ScenarioName,
};
use crate::clock::IdSource;

const CALLER: &str = "14155550100";
const CALLEE: &str = "14155550123";

/// A `CallUUID` or `MessageUUID` (uuid).
pub(super) fn fresh_ids(_kind: Kind, source: &mut IdSource) -> ScenarioIds {
    ScenarioIds {
        subject_id: source.uuid(),
        session_id: String::new(),
        seed: source.next_u64(),
    }
}

/// How a call ended: the hangup callback's cause, its code and who hung up.
struct Hangup {
    cause: &'static str,
    code: &'static str,
    source: &'static str,
    /// Answered → ended, in seconds; `None` for a call never answered.
    answered_offset: Option<i64>,
}

pub(super) fn lifecycle(name: ScenarioName, context: &Context<'_>) -> Lifecycle {
    let request_uuid = context.ids.source().uuid();
    let call = |status: &str, event: &str, offset: i64, hangup: Option<Hangup>| {
        call_event(context, &request_uuid, status, event, offset, hangup)
    };
    // Every message lifecycle is handed to the carrier (`sent`) at this offset.
    let sent_offset = 1_200;
    let message = |sequence: u32, status: &str, offset: i64, error_code: Option<&str>| {
        let sent_at = (offset >= sent_offset).then(|| context.at(sent_offset));
        message_event(context, sequence, status, offset, sent_at, error_code)
    };
    // The two-callback calls: hangup, the late ringing, hangup again.
    let two_events = Plan {
        late: 0,
        late_after: 1,
        duplicate: 1,
        duplicate_after: 0,
    };
    match name {
        // Delivered: ringing, completed, the late in-progress, completed again.
        ScenarioName::Answered => Lifecycle {
            events: vec![
                call("ringing", "Ring", 0, None),
                call("in-progress", "StartApp", 4_000, None),
                call(
                    "completed",
                    "Hangup",
                    16_000,
                    Some(Hangup {
                        cause: "Normal Hangup",
                        code: "4000",
                        source: "Callee",
                        answered_offset: Some(4_000),
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
                call("ringing", "Ring", 0, None),
                call(
                    "busy",
                    "Hangup",
                    3_000,
                    Some(Hangup {
                        cause: "Busy Line",
                        code: "3000",
                        source: "Callee",
                        answered_offset: None,
                    }),
                ),
            ],
            plan: two_events,
        },
        ScenarioName::NoAnswer => Lifecycle {
            events: vec![
                call("ringing", "Ring", 0, None),
                call(
                    "no-answer",
                    "Hangup",
                    30_000,
                    Some(Hangup {
                        cause: "No Answer",
                        code: "3020",
                        source: "Plivo",
                        answered_offset: None,
                    }),
                ),
            ],
            plan: two_events,
        },
        // Delivered: queued, delivered, the late sent, delivered again.
        ScenarioName::SmsDelivered => Lifecycle {
            events: vec![
                message(1, "queued", 0, None),
                message(2, "sent", sent_offset, None),
                message(3, "delivered", 5_000, None),
            ],
            plan: Plan {
                late: 1,
                late_after: 2,
                duplicate: 2,
                duplicate_after: 1,
            },
        },
        // Delivered: queued, failed, failed again, then the late sent. Error 20 is Plivo's
        // "Network error".
        ScenarioName::SmsFailed => Lifecycle {
            events: vec![
                message(1, "queued", 0, None),
                message(2, "sent", sent_offset, None),
                message(3, "failed", 4_000, Some("20")),
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

/// `units` hundred-thousandths as a decimal (`450` → `0.00450`).
fn five_decimals(units: i64) -> String {
    format!("{}.{:05}", units / 100_000, units % 100_000)
}

/// `2026-01-01 00:00:05`, Plivo's call times (UTC).
fn call_time(at: Timestamp) -> String {
    formatted(
        at,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
}

/// `2026-01-01 00:00:05.000000`, Plivo's message times (UTC).
fn message_time(at: Timestamp) -> String {
    formatted(
        at,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"),
    )
}

fn call_event(
    context: &Context<'_>,
    request_uuid: &str,
    status: &str,
    event: &str,
    offset: i64,
    hangup: Option<Hangup>,
) -> ScenarioEvent {
    let occurred_at = context.at(offset);
    let call_uuid = context.ids.subject_id.as_str();
    let mut params: Vec<(&str, String)> = vec![
        ("ALegRequestUUID", request_uuid.to_owned()),
        ("ALegUUID", call_uuid.to_owned()),
        ("BillRate", "0.0045".to_owned()),
        ("CallStatus", status.to_owned()),
        ("CallUUID", call_uuid.to_owned()),
        ("Direction", "outbound".to_owned()),
        ("Event", event.to_owned()),
        ("From", CALLER.to_owned()),
        ("RequestUUID", request_uuid.to_owned()),
        ("SessionStart", message_time(context.at(0))),
        ("To", CALLEE.to_owned()),
    ];
    if let Some(hangup) = hangup {
        let answered = hangup.answered_offset.map(|answered| context.at(answered));
        let duration = answered.map_or(0, |answered| {
            (occurred_at.millis() - answered.millis()) / 1000
        });
        // Billed per started minute.
        let billed = (duration + 59) / 60 * 60;
        params.extend([
            ("AnswerTime", answered.map(call_time).unwrap_or_default()),
            ("BillDuration", billed.to_string()),
            ("Duration", duration.to_string()),
            ("EndTime", call_time(occurred_at)),
            ("HangupCause", hangup.cause.to_owned()),
            ("HangupCauseCode", hangup.code.to_owned()),
            ("HangupSource", hangup.source.to_owned()),
            ("StartTime", call_time(context.at(0))),
            ("TotalCost", five_decimals(450 * billed / 60)),
        ]);
    }
    ScenarioEvent::new(status, occurred_at, form_post(context.url, params))
}

fn message_event(
    context: &Context<'_>,
    sequence: u32,
    status: &str,
    offset: i64,
    sent_at: Option<Timestamp>,
    error_code: Option<&str>,
) -> ScenarioEvent {
    let occurred_at = context.at(offset);
    let message_uuid = context.ids.subject_id.as_str();
    let mut params: Vec<(&str, String)> = vec![
        ("From", CALLER.to_owned()),
        ("MCC", "310".to_owned()),
        ("MNC", "260".to_owned()),
        ("MessageTime", message_time(occurred_at)),
        ("MessageUUID", message_uuid.to_owned()),
        ("ParentMessageUUID", message_uuid.to_owned()),
        ("PartInfo", "1 of 1".to_owned()),
        ("QueuedTime", message_time(context.at(0))),
        ("Sequence", sequence.to_string()),
        ("Status", status.to_owned()),
        ("To", CALLEE.to_owned()),
        ("TotalAmount", "0.00500".to_owned()),
        ("TotalRate", "0.00500".to_owned()),
        ("Type", "sms".to_owned()),
        ("Units", "1".to_owned()),
    ];
    if let Some(sent_at) = sent_at {
        params.push(("SentTime", message_time(sent_at)));
    }
    if matches!(status, "delivered" | "undelivered" | "failed") {
        params.push(("DeliveryReportTime", message_time(occurred_at)));
    }
    if let Some(code) = error_code {
        params.push(("ErrorCode", code.to_owned()));
    }
    ScenarioEvent::new(status, occurred_at, form_post(context.url, params))
}

#[cfg(test)]
mod tests {
    use switchboard_core::request::parse_form;
    use switchboard_core::ProviderId;

    use super::super::tests::scenario;
    use super::*;

    fn value(event: &ScenarioEvent, name: &str) -> Option<String> {
        parse_form(&event.request.body)
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    #[test]
    fn calls_end_with_a_hangup_callback() {
        for (name, last, cause) in [
            (ScenarioName::Answered, "completed", "Normal Hangup"),
            (ScenarioName::Busy, "busy", "Busy Line"),
            (ScenarioName::NoAnswer, "no-answer", "No Answer"),
        ] {
            let scenario = scenario(ProviderId::Plivo, name);
            for event in &scenario.events {
                assert_eq!(event.request.method, "POST");
                assert_eq!(value(event, "CallUUID"), Some(scenario.subject_id.clone()));
                assert_eq!(
                    value(event, "CallStatus").as_deref(),
                    Some(event.label.as_str())
                );
            }
            let hangup = scenario.events.last().unwrap();
            assert_eq!(hangup.label, last);
            assert_eq!(value(hangup, "Event").as_deref(), Some("Hangup"));
            assert_eq!(value(hangup, "HangupCause").as_deref(), Some(cause));
        }
        let answered = scenario(ProviderId::Plivo, ScenarioName::Answered);
        let hangup = &answered.events[2];
        assert_eq!(value(hangup, "Duration").as_deref(), Some("12"));
        assert_eq!(value(hangup, "BillDuration").as_deref(), Some("60"));
        assert_eq!(value(hangup, "TotalCost").as_deref(), Some("0.00450"));
        assert_eq!(
            value(hangup, "EndTime").as_deref(),
            Some("2026-01-01 00:00:16")
        );
    }

    #[test]
    fn messages_count_their_sequence() {
        for (name, last) in [
            (ScenarioName::SmsDelivered, "delivered"),
            (ScenarioName::SmsFailed, "failed"),
        ] {
            let scenario = scenario(ProviderId::Plivo, name);
            for (index, event) in scenario.events.iter().enumerate() {
                assert_eq!(
                    value(event, "MessageUUID"),
                    Some(scenario.subject_id.clone())
                );
                assert_eq!(
                    value(event, "Status").as_deref(),
                    Some(event.label.as_str())
                );
                assert_eq!(value(event, "Sequence"), Some((index + 1).to_string()));
            }
            assert_eq!(scenario.events.last().unwrap().label, last);
        }
        let failed = scenario(ProviderId::Plivo, ScenarioName::SmsFailed);
        assert_eq!(value(&failed.events[2], "ErrorCode").as_deref(), Some("20"));
    }

    /// Every scenario, signed (V3), verified and merged in delivery order by the real provider.
    #[test]
    fn the_core_reaches_the_expected_status_from_the_delivery_order() {
        use switchboard_core::providers::plivo::{Plivo, PlivoConfig};
        use switchboard_core::secret::Secret;

        use super::super::available;
        use super::super::tests::assert_core_reaches_expected_status;

        let plivo = Plivo::new(PlivoConfig {
            secrets: vec![Secret::new("simulator-test-auth-token")],
            accept_v2: false,
        });
        for name in available(ProviderId::Plivo) {
            assert_core_reaches_expected_status(&plivo, &scenario(ProviderId::Plivo, name));
        }
    }
}
